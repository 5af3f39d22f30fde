"""The jobs still waiting (or running) are written down, so a closed or crashed Studio can offer them again."""

from __future__ import annotations

import contextlib
import json
import os
from pathlib import Path

from studio.core.specs import GenerateSpec

QUEUE_VERSION = 1


def save_pending(path: Path, specs: list[GenerateSpec]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if not specs:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
        return
    tmp = path.with_suffix(".tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(
            {"queue_version": QUEUE_VERSION, "jobs": [s.to_dict() for s in specs]}, f, ensure_ascii=False
        )
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def load_pending(path: Path) -> list[GenerateSpec]:
    """The saved jobs; a missing or unreadable file gives none (an unreadable one is kept aside)."""
    try:
        data = json.loads(path.read_text("utf-8"))
        return [GenerateSpec.from_dict(d) for d in data.get("jobs", []) if d.get("kind", "image") == "image"]
    except FileNotFoundError:
        return []
    except (OSError, ValueError, TypeError, KeyError, AttributeError):
        with contextlib.suppress(OSError):
            os.replace(path, path.with_suffix(".broken"))
        return []
