"""The writer's documents: Markdown files in one folder, saved atomically, with a recovery copy between saves.

A save writes a temporary file, fsyncs it and renames it over the document, so a crash or ``kill -9`` leaves the
old or the new version, never a mix. Between saves, edits go to a hidden recovery copy (``.name.md.recovery``,
written the same way); a recovery copy that differs from its document at start-up is offered back.
"""

from __future__ import annotations

import contextlib
import re
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from studio.core.io.atomic import atomic_write
from studio.core.io.trash import Trash, Trashed
from studio.core.io.untrusted import Unreadable, read_bytes
from studio.core.jobs.errors import ErrorKind, StudioError

SUFFIX = ".md"
MAX_DOCUMENT = 256 * 1024 * 1024  # a novel is a few megabytes
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
        """Documents (regular files only), most recently changed first."""
        docs = []
        for p in self.folder.glob(f"*{SUFFIX}"):
            with contextlib.suppress(OSError):
                st = p.stat()
                if not p.name.startswith(".") and stat.S_ISREG(st.st_mode):
                    docs.append((st.st_mtime, p))
        return [p for _, p in sorted(docs, key=lambda d: d[0], reverse=True)]

    def new_document(self, title: str = "Untitled") -> Path:
        base = _BAD.sub("", title).strip() or "Untitled"
        path = self.folder / f"{base}{SUFFIX}"
        n = 2
        while path.exists():
            path = self.folder / f"{base} {n}{SUFFIX}"
            n += 1
        write_text_atomic(path, "")
        return path

    # -- a document and the files that go with it (its story state, choices, recovery copy) -------------------------
    def companions(self, path: Path) -> list[Path]:
        """The hidden files beside a document that belong to it."""
        names = [f".{path.name}.studio.json", f".{path.name}.choices.jsonl", f".{path.name}.recovery"]
        return [path.with_name(n) for n in names if path.with_name(n).exists()]

    def _move(self, path: Path, target: Path) -> Path:
        for companion in self.companions(path):
            companion.replace(target.with_name(companion.name.replace(path.name, target.name, 1)))
        path.replace(target)
        return target

    def rename(self, path: Path, title: str) -> Path:
        """The document under a new name (its state, choices and recovery copy follow); ``ValueError`` when the
        name is taken or empty."""
        base = _BAD.sub("", title).strip()
        if not base:
            raise ValueError("Give the document a name.")
        target = self.folder / f"{base}{SUFFIX}"
        if target == path:
            return path
        if target.exists():
            raise ValueError(f"A document is already called {base}.")
        return self._move(path, target)

    def trash(self, path: Path) -> Trashed:
        """Into the writer folder's trash, with what goes with it (``core.io.trash``); ``restore`` brings it back."""
        return Trash(self.folder).put(path, self.companions(path))

    def restore(self, trashed: Trashed) -> Path:
        return Trash(self.folder).restore(trashed)

    def duplicate(self, path: Path) -> Path:
        """A copy of the text (its branches and choices stay with the original)."""
        copy = self.new_document(f"{path.stem} copy")
        write_text_atomic(copy, self.load(path))
        return copy

    def load(self, path: Path) -> str:
        if not path.exists():
            return ""
        data = read_bytes(path, MAX_DOCUMENT)
        if isinstance(data, Unreadable):
            raise StudioError(ErrorKind.IO, f"Could not read {path.name}: {data.why}.")
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError as e:
            raise StudioError(ErrorKind.IO, f"Could not read {path.name}: it is not UTF-8 text ({e}).") from e

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
            data = read_bytes(rec, MAX_DOCUMENT)
            if isinstance(data, Unreadable):
                continue
            text = data.decode("utf-8", errors="replace")
            try:
                same = doc.exists() and self.load(doc) == text
            except StudioError:
                same = False
            if not same:
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
