"""The Writer's documents list: each document under its title (a new one's first heading, until it is renamed),
and what can be done to one — rename (double-click), duplicate, delete (to the writer folder's trash, with Undo),
show in its folder. The files that belong to a document (its branches and settings, its recorded choices, its
recovery copy) go where it goes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import QPoint, Qt, QUrl
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import QInputDialog, QMenu

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


def documents_menu(page: Any, pos: QPoint) -> QMenu | None:
    item = page.docs.itemAt(pos)
    if item is None:
        return None
    path = Path(item.data(Qt.ItemDataRole.UserRole))
    menu = QMenu(page)
    menu.addAction("Rename…", lambda: rename_document(page, path))
    menu.addAction("Duplicate", lambda: duplicate_document(page, path))
    menu.addAction("Delete", lambda: delete_document(page, path))
    menu.addSeparator()
    menu.addAction(
        "Show in its folder", lambda: QDesktopServices.openUrl(QUrl.fromLocalFile(str(path.parent)))
    )
    page.documents_popup = menu
    menu.popup(page.docs.viewport().mapToGlobal(pos))
    return menu


def _select(page: Any, path: Path) -> None:
    for i in range(page.docs.count()):
        if page.docs.item(i).data(Qt.ItemDataRole.UserRole) == str(path):
            page.docs.setCurrentRow(i)


def rename_document(page: Any, path: Path, title: str | None = None) -> Path | None:
    if title is None:
        title, ok = QInputDialog.getText(page, "Rename", "Name:", text=path.stem)
        if not ok:
            return None
    page.save()
    try:
        new = page.store.rename(path, title)
    except (ValueError, OSError) as e:
        page.status.setText(str(e))
        return None
    page.doc.path = None  # the open document moved: open it again where it is now
    page._load_documents()
    _select(page, new)
    page.status.setText(f"Renamed to {new.stem}.")
    return new


def duplicate_document(page: Any, path: Path) -> Path:
    page.save()
    copy = page.store.duplicate(path)
    page._load_documents()
    _select(page, copy)
    page.status.setText(f"{copy.stem}: a copy of {path.stem}.")
    return copy


def delete_document(page: Any, path: Path) -> Path:
    page.save()
    trashed = page.store.trash(path)
    page.last_deleted = trashed
    page.doc.path = None
    page._load_documents()
    page.undo_delete_btn.setText(f"Undo: bring back {path.stem}")
    page.undo_delete_btn.show()
    page.status.setText(f"{path.stem} is in the trash ({trashed.trashed.parent}).")
    return trashed.trashed


def undo_delete(page: Any) -> Path | None:
    if page.last_deleted is None:
        return None
    trashed, page.last_deleted = page.last_deleted, None
    page.undo_delete_btn.hide()
    back = page.store.restore(trashed)
    page._load_documents()
    _select(page, back)
    page.status.setText(f"{back.stem} is back.")
    return back
