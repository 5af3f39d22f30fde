"""A one-line label that never asks for more width than it is given: a long sentence is cut with "…" and reads in
full in its tooltip (progress lines, job notes)."""

from __future__ import annotations

from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QResizeEvent
from PySide6.QtWidgets import QLabel, QSizePolicy, QWidget


class ElidedLabel(QLabel):
    def __init__(self, text: str = "", parent: QWidget | None = None):
        super().__init__(parent)
        self._full = ""
        self.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.set_full_text(text)

    def full_text(self) -> str:
        return self._full

    def set_full_text(self, text: str) -> None:
        self._full = text
        self.setToolTip(text if len(text) > 40 else "")
        self._elide()

    def sizeHint(self) -> QSize:  # noqa: N802 (Qt's name): as wide as the text, when there is room
        return QSize(
            min(self.fontMetrics().horizontalAdvance(self._full) + 4, 480), super().sizeHint().height()
        )

    def minimumSizeHint(self) -> QSize:  # noqa: N802
        return QSize(24, super().minimumSizeHint().height())

    def resizeEvent(self, event: QResizeEvent) -> None:  # noqa: N802
        super().resizeEvent(event)
        self._elide()

    def _elide(self) -> None:
        self.setText(
            self.fontMetrics().elidedText(self._full, Qt.TextElideMode.ElideRight, max(24, self.width()))
        )
