"""The open story's notes, kept read: the folder the Writer points at is read off the GUI thread when it is chosen
and again whenever a file in it changes (a note edited in another program is seen at the next Continue)."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QFileSystemWatcher, QObject, QTimer, Signal

from studio.core.text.story_notes import Note, read_notes
from studio.viewmodels.background import in_background


class StoryNotes(QObject):
    changed = Signal(int, str)  # (how many passages were read, what could not be read — '' when all could)

    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        self.folder = ""
        self.notes: tuple[Note, ...] = ()
        self.problems: list[str] = []
        self._watcher = QFileSystemWatcher(self)
        self._again = QTimer(self, singleShot=True, interval=300)  # a burst of saves is read once
        self._again.timeout.connect(self.reload)
        self._watcher.directoryChanged.connect(lambda _: self._again.start())
        self._watcher.fileChanged.connect(lambda _: self._again.start())
        self._ticket = 0

    def follow(self, folder: str) -> None:
        """Read (and watch) this folder's notes; '' forgets them."""
        if folder == self.folder:
            return
        self.folder = folder
        if self._watcher.directories() or self._watcher.files():
            self._watcher.removePaths([*self._watcher.directories(), *self._watcher.files()])
        self.notes, self.problems = (), []
        self.reload()

    def reload(self) -> None:
        self._ticket += 1
        ticket, folder = self._ticket, self.folder
        if not folder:
            self.changed.emit(0, "")
            return

        def work() -> tuple[list[Note], list[str], list[str]]:
            path = Path(folder)
            if not path.is_dir():
                return [], [f"{folder} is not a folder"], []
            notes, problems = read_notes(path)
            watched = [str(p) for p in (path, *path.rglob("*")) if p.is_dir()][:200]
            return notes, problems, watched

        def done(found: tuple[list[Note], list[str], list[str]]) -> None:
            if ticket != self._ticket:
                return  # another folder (or a newer change) meanwhile
            self.notes, self.problems = tuple(found[0]), found[1]
            if found[2]:
                self._watcher.addPaths([p for p in found[2] if p not in self._watcher.directories()])
            self.changed.emit(len(self.notes), "; ".join(self.problems[:3]))

        in_background(self, work, done, name="studio-story-notes")
