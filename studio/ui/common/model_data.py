"""Reading item data from Python without PySide6's None refcount bug.

With PySide6 6.12 on Python 3.11, ``QModelIndex.data(role)`` on a Python model whose ``data()`` returns None
(an invalid QVariant) hands back None without taking a reference: every such call drops None's reference count by
one, and after some thousands of repaints the interpreter aborts ("deallocating None"). Calling the model's
own ``data()`` stays in Python and is safe; delegates read their cells through ``cell``.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QModelIndex, QPersistentModelIndex, Qt


def cell(index: QModelIndex | QPersistentModelIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
    model = index.model()
    return model.data(index, role) if model is not None and index.isValid() else None
