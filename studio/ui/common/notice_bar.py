"""A strip above the rooms that tells the user what Studio repaired or could not read at start (a damaged gallery
index rebuilt, a settings file kept aside): said once, in words, with a button to close it."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QPushButton, QWidget


class NoticeBar(QFrame):
    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("noticeBar")
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.setStyleSheet(
            "#noticeBar { background: palette(tool-tip-base); border: 1px solid palette(mid); border-radius: 4px; }"
            "#noticeBar QLabel { color: palette(tool-tip-text); }"
        )
        row = QHBoxLayout(self)
        row.setContentsMargins(10, 6, 6, 6)
        self.label = QLabel()
        self.label.setWordWrap(True)
        self.label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        row.addWidget(self.label, 1)
        self.close_button = QPushButton("Dismiss")
        self.close_button.clicked.connect(self.hide)
        row.addWidget(self.close_button, 0, Qt.AlignmentFlag.AlignTop)
        self.messages: list[str] = []
        self.hide()

    def add(self, messages: list[str]) -> None:
        """Show these sentences (after any still shown)."""
        if not messages:
            return
        if self.isHidden():
            self.messages = []
        self.messages += [m for m in messages if m not in self.messages]
        self.label.setText("\n".join(f"• {m}" if len(self.messages) > 1 else m for m in self.messages))
        self.show()
