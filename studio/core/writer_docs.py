"""The writer's documents: Markdown files in one folder, saved atomically, with a recovery copy between saves.

A save writes a temporary file, fsyncs it and renames it over the document, so a crash or ``kill -9`` leaves the
old or the new version, never a mix. Between saves, edits go to a hidden recovery copy (``.name.md.recovery``,
written the same way); a recovery copy that differs from its document at start-up is offered back.
"""

from __future__ import annotations

import contextlib
import re
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from studio.core.atomic import atomic_write
from studio.core.errors import ErrorKind, StudioError

SUFFIX = ".md"
_BAD = re.compile(r'[\\/:*?"<>|\x00-\x1f]')


def write_text_atomic(path: Path, text: str) -> None:
    data = text.encode("utf-8")

    def write(f: BinaryIO) -> None:
        f.write(data)

    atomic_write(path, write)


@dataclass(frozen=True)
class Recovery:
    document: Path
    text: str


class DocumentStore:
    def __init__(self, folder: Path):
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)

    def documents(self) -> list[Path]:
        """Documents, most recently changed first."""
        docs = [p for p in self.folder.glob(f"*{SUFFIX}") if not p.name.startswith(".")]
        return sorted(docs, key=lambda p: p.stat().st_mtime, reverse=True)

    def new_document(self, title: str = "Untitled") -> Path:
        base = _BAD.sub("", title).strip() or "Untitled"
        path = self.folder / f"{base}{SUFFIX}"
        n = 2
        while path.exists():
            path = self.folder / f"{base} {n}{SUFFIX}"
            n += 1
        write_text_atomic(path, "")
        return path

    def load(self, path: Path) -> str:
        try:
            return path.read_text("utf-8")
        except FileNotFoundError:
            return ""
        except (OSError, UnicodeDecodeError) as e:
            raise StudioError(ErrorKind.IO, f"Could not read {path.name}: {e}.") from e

    def save(self, path: Path, text: str) -> None:
        """Write the document atomically and drop its recovery copy."""
        try:
            write_text_atomic(path, text)
        except OSError as e:
            raise StudioError(
                ErrorKind.IO,
                f"Could not save {path.name}: {e.strerror or e}. Your text is still in "
                "the editor and in its recovery copy.",
            ) from e
        with contextlib.suppress(OSError):
            self.recovery_path(path).unlink()

    def recovery_path(self, path: Path) -> Path:
        return path.with_name(f".{path.name}.recovery")

    def write_recovery(self, path: Path, text: str) -> None:
        with contextlib.suppress(OSError):  # best effort: the next save or recovery write tries again
            write_text_atomic(self.recovery_path(path), text)

    def recoveries(self) -> list[Recovery]:
        """Recovery copies that hold text the documents do not (left by a crash)."""
        out = []
        for rec in self.folder.glob(f".*{SUFFIX}.recovery"):
            doc = rec.with_name(rec.name[1 : -len(".recovery")])
            try:
                text = rec.read_text("utf-8")
            except (OSError, UnicodeDecodeError):
                continue
            if not doc.exists() or self.load(doc) != text:
                out.append(Recovery(doc, text))
            else:
                with contextlib.suppress(OSError):
                    rec.unlink()
        return out

    def discard_recovery(self, path: Path) -> None:
        with contextlib.suppress(OSError):
            self.recovery_path(path).unlink()

    def changed_on_disk(self, path: Path, since_mtime_ns: int) -> bool:
        try:
            return path.stat().st_mtime_ns != since_mtime_ns
        except FileNotFoundError:
            return True
