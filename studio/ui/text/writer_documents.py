"""The Writer's documents list: each document under its title (a new one's first heading, until it is renamed),
and what can be done to one — rename (double-click), duplicate, delete (to the writer folder's trash, with Undo),
show in its folder. The files that belong to a document (its branches and settings, its recorded choices, its
recovery copy) go where it goes (``DocumentStore``, ``core.io.trash``)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QPoint, Qt, QUrl, Signal
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import (
    QInputDialog,
    QListWidget,
    QListWidgetItem,
    QMenu,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from studio.core.io.trash import Trashed
from studio.core.text.writer_docs import DocumentStore
from studio.core.text.writer_export import document_title


def document_label(store: DocumentStore, path: Path) -> str:
    """A document not named yet ("Untitled …") shows its first heading; a named one, its name."""
    if not path.stem.lower().startswith("untitled"):
        return path.stem
    try:
        return document_title(store.load(path)[:4000], path.stem)
    except Exception:  # noqa: BLE001 - an unreadable file keeps its name (opening it says why)
        return path.stem


class DocumentsList(QWidget):
    """The list and its commands. ``save`` is asked before anything moves; ``openRequested`` opens a document;
    ``closed`` is told when the open document moved away (renamed, trashed); ``said`` carries a sentence."""

    openRequested = Signal(Path)
    said = Signal(str)

    def __init__(self, store: DocumentStore, save: Callable[[], object], closed: Callable[[], None],
                 parent: QWidget | None = None):  # fmt: skip
        super().__init__(parent)
        self.store, self._save, self._closed = store, save, closed
        v = QVBoxLayout(self)
        v.setContentsMargins(0, 0, 0, 0)
        self.list = QListWidget()
        self.list.currentItemChanged.connect(lambda cur, _: cur and self.openRequested.emit(self._path(cur)))
        self.list.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.list.customContextMenuRequested.connect(self.menu)
        self.list.itemDoubleClicked.connect(lambda item: self.rename(self._path(item)))
        self.list.setToolTip("Right-click: rename, duplicate, delete, show in folder; double-click: rename")
        v.addWidget(self.list, 1)
        self.last_deleted: Trashed | None = None  # what Undo brings back
        self.undo_btn = QPushButton("Undo")
        self.undo_btn.clicked.connect(self.undo_delete)
        self.undo_btn.hide()
        v.addWidget(self.undo_btn)
        self.popup: QMenu | None = None

    @staticmethod
    def _path(item: QListWidgetItem) -> Path:
        return Path(item.data(Qt.ItemDataRole.UserRole))

    def reload(self) -> Path:
        """List the documents (a first one made when there is none), the first one current; returns it."""
        docs = self.store.documents() or [self.store.new_document("My first story")]
        self.list.blockSignals(True)
        self.list.clear()
        for p in docs:
            item = QListWidgetItem(document_label(self.store, p))
            item.setData(Qt.ItemDataRole.UserRole, str(p))
            item.setToolTip(str(p))
            self.list.addItem(item)
        self.list.blockSignals(False)
        self.list.setCurrentRow(0)
        return docs[0]

    def select(self, path: Path) -> None:
        for i in range(self.list.count()):
            if self.list.item(i).data(Qt.ItemDataRole.UserRole) == str(path):
                self.list.setCurrentRow(i)

    def _relist(self, select: Path | None = None) -> None:
        self.openRequested.emit(self.reload())
        if select is not None:
            self.select(select)

    def menu(self, pos: QPoint) -> QMenu | None:
        item = self.list.itemAt(pos)
        if item is None:
            return None
        path = self._path(item)
        menu = QMenu(self)
        menu.addAction("Rename…", lambda: self.rename(path))
        menu.addAction("Duplicate", lambda: self.duplicate(path))
        menu.addAction("Delete", lambda: self.delete(path))
        menu.addSeparator()
        menu.addAction(
            "Show in its folder", lambda: QDesktopServices.openUrl(QUrl.fromLocalFile(str(path.parent)))
        )
        self.popup = menu
        menu.popup(self.list.viewport().mapToGlobal(pos))
        return menu

    def new_document(self, title: str = "Untitled") -> Path:
        self._save()
        path = self.store.new_document(title)
        self._relist(path)
        return path

    def rename(self, path: Path, title: str | None = None) -> Path | None:
        if title is None:
            title, ok = QInputDialog.getText(self, "Rename", "Name:", text=path.stem)
            if not ok:
                return None
        self._save()
        try:
            new = self.store.rename(path, title)
        except (ValueError, OSError) as e:
            self.said.emit(str(e))
            return None
        self._closed()  # the open document moved: it is opened again where it is now
        self._relist(new)
        self.said.emit(f"Renamed to {new.stem}.")
        return new

    def duplicate(self, path: Path) -> Path:
        self._save()
        copy = self.store.duplicate(path)
        self._relist(copy)
        self.said.emit(f"{copy.stem}: a copy of {path.stem}.")
        return copy

    def delete(self, path: Path) -> Path:
        self._save()
        self.last_deleted = self.store.trash(path)
        self._closed()
        self._relist()
        self.undo_btn.setText(f"Undo: bring back {path.stem}")
        self.undo_btn.show()
        self.said.emit(f"{path.stem} is in the trash ({self.last_deleted.trashed.parent}).")
        return self.last_deleted.trashed

    def undo_delete(self) -> Path | None:
        trashed, self.last_deleted = self.last_deleted, None
        if trashed is None:
            return None
        self.undo_btn.hide()
        back = self.store.restore(trashed)
        self._relist(back)
        self.said.emit(f"{back.stem} is back.")
        return back
