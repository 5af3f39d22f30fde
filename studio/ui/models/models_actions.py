"""What can be done to a model in the Models room's list (right-click): show it in its folder, copy its hash (the
file's SHA-256, computed if needed), rename it, move it to the models folder's trash (Undo brings it back) — the
moves are the library view-model's, off the GUI thread. The
built-in demos are Studio's own and stay as they are."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import QPoint, QUrl
from PySide6.QtGui import QDesktopServices, QGuiApplication
from PySide6.QtWidgets import QInputDialog, QMenu

from studio.core.models.builtin_models import is_builtin


def models_menu(page: Any, pos: QPoint) -> QMenu | None:
    index = page.table.indexAt(pos)
    entry = page.model.entry(index.row()) if index.isValid() else None
    if entry is None:
        return None
    page.table.setCurrentIndex(index)
    path, own = entry.path, not is_builtin(str(entry.path))
    menu = QMenu(page)
    menu.addAction(
        "Show in its folder", lambda: QDesktopServices.openUrl(QUrl.fromLocalFile(str(path.parent)))
    )
    menu.addAction("Copy the SHA-256", lambda: copy_hash(page, path)).setEnabled(path.is_file())
    menu.addSeparator()
    menu.addAction("Rename…", lambda: rename_model(page, path)).setEnabled(own)
    menu.addAction("Move to the trash", lambda: trash_model(page, path)).setEnabled(own)
    page.models_popup = menu
    menu.popup(page.table.viewport().mapToGlobal(pos))
    return menu


def copy_hash(page: Any, path: Path) -> None:
    digest = page.model.known_hash(path)
    if digest:
        QGuiApplication.clipboard().setText(digest)
        page.notice(f"Copied the SHA-256 of {path.name}.")
        return
    page.model.hashed.connect(lambda p, d: p == str(path) and QGuiApplication.clipboard().setText(d))
    page.model.compute_hash(path)
    page.notice(f"Hashing {path.name}… (copied when done)")


def rename_model(page: Any, path: Path, name: str | None = None) -> Path | None:
    """Ask for a new name; the library renames the file off the GUI thread (and says so in the room)."""
    if name is None:
        name, ok = QInputDialog.getText(page, "Rename", "Name:", text=path.stem if path.suffix else path.name)
        if not ok:
            return None
    return page.model.rename(path, name)


def trash_model(page: Any, path: Path) -> None:
    """The file goes to the models folder's trash (off the GUI thread); Undo brings it back."""
    page.model.trash(path)
    page.undo_trash_btn.show()


def undo_trash(page: Any) -> bool:
    page.undo_trash_btn.hide()
    return bool(page.model.undo_trash())
