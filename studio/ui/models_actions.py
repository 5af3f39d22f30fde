"""What can be done to a model in the Models room's list (right-click): show it in its folder, copy its hash (the
file's SHA-256, computed if needed), rename it, move it to the models folder's trash (Undo brings it back). The
built-in demos are Studio's own and stay as they are."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from PySide6.QtCore import QPoint, QUrl
from PySide6.QtGui import QDesktopServices, QGuiApplication
from PySide6.QtWidgets import QInputDialog, QMenu

from studio.core.io.atomic import first_free
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
    if name is None:
        name, ok = QInputDialog.getText(page, "Rename", "Name:", text=path.stem if path.suffix else path.name)
        if not ok:
            return None
    name = name.strip().replace("/", "").replace("\\", "")
    if not name:
        return None
    target = path.with_name(name + path.suffix)
    if target.exists():
        page.notice(f"{target.name} exists already.")
        return None
    path.rename(target)
    page.model.rescan()
    page.notice(f"Renamed to {target.name}.")
    return target


def trash_model(page: Any, path: Path) -> Path:
    trash = page.model.models_dir / ".trash"
    trash.mkdir(parents=True, exist_ok=True)
    target = first_free(trash, path.name, " ", 2)
    shutil.move(str(path), str(target))
    page.last_trashed = (target, path)
    page.model.rescan()
    page.notice(f"{path.name} is in the trash ({trash}). Undo with Ctrl+Z or the Undo button.")
    page.undo_trash_btn.show()
    return target


def undo_trash(page: Any) -> Path | None:
    if page.last_trashed is None:
        return None
    trashed, original = page.last_trashed
    page.last_trashed = None
    page.undo_trash_btn.hide()
    shutil.move(str(trashed), str(original))
    page.model.rescan()
    page.notice(f"{original.name} is back.")
    return original
