"""Before a model's first use: the limits its card states (limitations, bias, out-of-scope use), read once."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QMessageBox, QWidget

from studio.viewmodels.model_cards import ModelCards


def show_limits(parent: QWidget, cards: ModelCards, model: str, text: str) -> QMessageBox:
    """A window with the card's words; *I have read this* means it is not shown for this model again."""
    box = QMessageBox(QMessageBox.Icon.Information, f"Before you use {Path(model).name}", "", parent=parent)
    box.setObjectName("modelLimits")
    box.setTextFormat(Qt.TextFormat.MarkdownText)
    box.setText("**What this model's card says of its limits** — where it fails, its biases, and what it must not "
                f"be used for:\n\n{text}")  # fmt: skip
    read = box.addButton("I have read this", QMessageBox.ButtonRole.AcceptRole)
    box.addButton("Later", QMessageBox.ButtonRole.RejectRole)
    box.finished.connect(lambda _: box.clickedButton() is read and cards.accept(model))
    box.open()
    return box
