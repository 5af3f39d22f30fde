"""The jobs still waiting (or running) are written down, so a closed or crashed Studio can offer them again.

One file for every Studio process of a data folder: each process writes only its own section (under a lock, with a
temporary file of its own), so two windows open at once never erase each other's queue. At start, a process takes
the sections of processes that are gone — those are the jobs to offer back — and leaves the living ones alone.
The file is untrusted when read: one unreadable job costs that job, with a sentence saying so.
"""

from __future__ import annotations

import contextlib
import json
import os
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from studio.core.image.specs import GenerateSpec
from studio.core.io.atomic import atomic_write_text, file_lock
from studio.core.io.untrusted import Unreadable, integer, lst, obj, read_json
from studio.core.io.words import count

QUEUE_VERSION = 2
MAX_QUEUE_BYTES = 32 * 1024 * 1024


def _alive(pid: int) -> bool:
    if not 0 < pid < 2**31:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):
        return True  # it exists, owned by someone else
    return True


@dataclass
class LeftOver:
    """What a start found: the jobs of Studio processes that are gone, and what could not be read."""

    specs: list[GenerateSpec] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def _specs(jobs: Any, problems: list[str]) -> list[GenerateSpec]:
    out: list[GenerateSpec] = []
    bad = 0
    first = ""
    for d in lst(jobs)[:10_000]:
        if not isinstance(d, dict) or d.get("kind", "image") != "image":
            if isinstance(d, dict):
                continue  # another kind of job (a newer Studio's): not ours to run
            bad += 1
            continue
        try:
            out.append(GenerateSpec.from_dict(d))
        except ValueError as e:
            bad += 1
            first = first or str(e)
    if bad:
        why = f" ({first})" if first else ""
        problems.append(f"{count(bad, 'saved job')} could not be read{why} and were left out.")
    return out


class QueueStore:
    def __init__(self, path: Path, owner: str | None = None):
        self.path = Path(path)
        self.owner = owner or f"{os.getpid()}-{uuid.uuid4().hex[:8]}"
        self._lock_file = self.path.with_name(f".{self.path.name}.lock")

    def _read(self, problems: list[str]) -> dict[str, Any]:
        """{owner: {"pid": int, "jobs": [...]}} from the file; a version-1 file is one section of a gone process."""
        if not self.path.exists():
            return {}
        raw = read_json(self.path, max_bytes=MAX_QUEUE_BYTES, max_depth=32)
        if isinstance(raw, Unreadable) or not isinstance(raw, dict):
            why = raw.why if isinstance(raw, Unreadable) else "it is not a JSON object"
            kept = self.path.with_name(self.path.name + ".broken")
            with contextlib.suppress(OSError):
                os.replace(self.path, kept)
            problems.append(
                f"The saved queue {self.path} could not be read ({why}); it was kept as {kept.name}."
            )
            return {}
        if "owners" not in raw:  # version 1: {"jobs": [...]}, written by an earlier Studio
            return {"earlier": {"pid": 0, "jobs": lst(raw.get("jobs"))}}
        return {str(k): obj(v) for k, v in obj(raw.get("owners")).items()}

    def _write(self, owners: dict[str, Any]) -> None:
        owners = {k: v for k, v in owners.items() if lst(v.get("jobs"))}
        if not owners:
            with contextlib.suppress(FileNotFoundError):
                self.path.unlink()
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_text(
            self.path, json.dumps({"queue_version": QUEUE_VERSION, "owners": owners}, ensure_ascii=False)
        )

    def save(self, specs: list[GenerateSpec]) -> None:
        """Write down this process's unfinished jobs (an empty list removes its section)."""
        with file_lock(self._lock_file):
            owners = self._read([])
            owners[self.owner] = {"pid": os.getpid(), "jobs": [s.to_dict() for s in specs]}
            self._write(owners)

    def take_left_over(self) -> LeftOver:
        """Claim the jobs of Studio processes that are no longer running: they are removed from their sections
        (so no other process offers them too) and returned; keep them with ``save`` until the user decides."""
        found = LeftOver()
        with file_lock(self._lock_file):
            owners = self._read(found.problems)
            gone = [k for k, v in owners.items() if k != self.owner and not _alive_owner(k, v)]
            for k in gone:
                found.specs += _specs(owners.pop(k).get("jobs"), found.problems)
            if gone or found.problems:
                self._write(owners)
        return found


def _alive_owner(owner: str, section: dict[str, Any]) -> bool:
    """A section's process is running — and is not this one (an earlier window of this same process is gone)."""
    pid = integer(section.get("pid"), 0) or 0
    return pid != os.getpid() and _alive(pid)
