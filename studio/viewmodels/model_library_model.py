"""The model library as a Qt table: scanned off the GUI thread, filtered by kind."""

from __future__ import annotations

import contextlib
import threading
from pathlib import Path
from typing import Any

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QObject, QPersistentModelIndex, Qt, Signal

from studio.core.hashing import HashCache
from studio.core.model_library import LibraryEntry, scan_library

COLUMNS = ("Name", "Kind", "Family / type", "Source", "Size")
EntryRole = Qt.ItemDataRole.UserRole + 1
Index = QModelIndex | QPersistentModelIndex


def human_size(n: int) -> str:
    size = float(n)
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{n} B"


class ModelLibraryModel(QAbstractTableModel):
    scanned = Signal(int)  # how many entries
    hashed = Signal(str, str)  # (path, SHA-256)
    _done = Signal(object)
    _hash_done = Signal(str, str)

    def __init__(self, models_dir: Path, extra_folders: list[str], hashes: HashCache | None = None,
                 parent: QObject | None = None):
        super().__init__(parent)
        self.hashes = hashes
        self._hash_done.connect(self.hashed, Qt.ConnectionType.QueuedConnection)
        self.models_dir = models_dir
        self.extra_folders = list(extra_folders)
        self._all: list[LibraryEntry] = []
        self._shown: list[LibraryEntry] = []
        self.kind_filter = ""
        self.scanning = False
        self._done.connect(self._apply, Qt.ConnectionType.QueuedConnection)

    def rescan(self) -> None:
        """Scan every source in the background; ``scanned`` says when the table is up to date."""
        if self.scanning:
            return
        self.scanning = True
        folders = [Path(p) for p in self.extra_folders]

        def work() -> None:
            entries = scan_library(self.models_dir, folders)
            with contextlib.suppress(RuntimeError):  # the window closed while scanning
                self._done.emit(entries)

        threading.Thread(target=work, name="studio-model-scan", daemon=True).start()

    def known_hash(self, path: Path) -> str | None:
        """The file's SHA-256 when already computed (hashing a model reads the whole file)."""
        if self.hashes is None or not path.is_file():
            return None
        return self.hashes.sha256(path) if self.hashes.known(path) else None

    def compute_hash(self, path: Path) -> None:
        """Hash the file in the background (streamed, cached by path, size and mtime); ``hashed`` answers."""
        hashes = self.hashes
        if hashes is None or not path.is_file():
            return

        def work() -> None:
            try:
                digest = hashes.sha256(path)
            except OSError:
                return
            with contextlib.suppress(RuntimeError):
                self._hash_done.emit(str(path), digest)

        threading.Thread(target=work, name="studio-hash", daemon=True).start()

    def add_folder(self, folder: str) -> bool:
        if not folder or folder in self.extra_folders or not Path(folder).is_dir():
            return False
        self.extra_folders.append(folder)
        self.rescan()
        return True

    def remove_folder(self, folder: str) -> None:
        if folder in self.extra_folders:
            self.extra_folders.remove(folder)
            self.rescan()

    def _apply(self, entries: list[LibraryEntry]) -> None:
        self.scanning = False
        self._all = entries
        self.set_kind_filter(self.kind_filter)
        self.scanned.emit(len(entries))

    def set_kind_filter(self, kind: str) -> None:
        self.beginResetModel()
        self.kind_filter = kind
        self._shown = [e for e in self._all if not kind or e.kind == kind]
        self.endResetModel()

    def entry(self, row: int) -> LibraryEntry | None:
        return self._shown[row] if 0 <= row < len(self._shown) else None

    def rowCount(self, parent: Index | None = None) -> int:  # noqa: N802
        return 0 if parent is not None and parent.isValid() else len(self._shown)

    def columnCount(self, parent: Index | None = None) -> int:  # noqa: N802
        return len(COLUMNS)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole) -> Any:  # noqa: N802
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return COLUMNS[section]
        return None

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        e = self.entry(index.row()) if index.isValid() else None
        if e is None:
            return None
        if role == EntryRole:
            return e
        if role == Qt.ItemDataRole.ToolTipRole:
            return f"{e.path}\n{e.reason}" if e.reason else str(e.path)
        if role == Qt.ItemDataRole.DisplayRole:
            return (e.name, e.kind, e.label or e.family or "—", e.source, human_size(e.size))[index.column()]
        return None
