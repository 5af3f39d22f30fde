"""The one trash of Studio's folders — the gallery's pictures, the Writer's documents, the Models room's files:
a ``.trash`` folder inside the folder it serves, so a move is a rename on the same disk. A file keeps its place
below the folder (``2026-12-06/x.png`` → ``.trash/2026-12-06/x.png``), takes a free name when that place is
taken, and carries its companions (a document's story state and recovery copy). Undo puts it back where it was,
under a free name when the old one is taken meanwhile; emptying deletes for good."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from studio.core.io.atomic import first_free

FOLDER = ".trash"


@dataclass(frozen=True)
class Trashed:
    """One file moved to the trash: where it was, where it is, and its companions (each: was, is)."""

    original: Path
    trashed: Path
    companions: tuple[tuple[Path, Path], ...] = ()


class Trash:
    def __init__(self, folder: Path):
        self.folder = folder
        self.root = folder / FOLDER

    def put(self, path: Path, companions: Iterable[Path] = ()) -> Trashed:
        """Move ``path`` (and its companions, renamed along with it) into the trash. ``OSError`` when it cannot."""
        try:
            below = path.relative_to(self.folder)
        except ValueError:
            below = Path(path.name)
        place = self.root / below.parent
        place.mkdir(parents=True, exist_ok=True)
        target = first_free(place, path.name, " ", 2)
        moved = tuple((c, target.with_name(c.name.replace(path.name, target.name, 1))) for c in companions)
        _move(path, target)
        for was, now in moved:
            _move(was, now)
        return Trashed(path, target, moved)

    def restore(self, item: Trashed) -> Path:
        """Put a trashed file (and its companions) back; a free name when its old one is taken. Returns where."""
        place = item.original.parent
        place.mkdir(parents=True, exist_ok=True)
        target = (
            item.original if not item.original.exists() else first_free(place, item.original.name, " ", 2)
        )
        _move(item.trashed, target)
        for was, now in item.companions:
            if now.exists():
                _move(now, target.with_name(was.name.replace(item.original.name, target.name, 1)))
        return target

    def count(self) -> int:
        return sum(1 for p in self.root.rglob("*") if p.is_file()) if self.root.is_dir() else 0

    def empty(self) -> int:
        """Delete everything in the trash for good; how many files went."""
        n = self.count()
        shutil.rmtree(self.root, ignore_errors=True)
        return n


def _move(src: Path, dest: Path) -> None:
    """A rename on the same disk; a copy then delete across disks (a model folder on another drive)."""
    try:
        os.replace(src, dest)
    except OSError as e:
        if e.errno != 18:  # EXDEV: another file system
            raise
        shutil.move(str(src), str(dest))
