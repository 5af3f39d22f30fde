"""The Writer's chat pane: brainstorm with the same model, away from the manuscript."""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtGui import QTextCursor
from PySide6.QtWidgets import QHBoxLayout, QLineEdit, QPushButton, QTextBrowser, QVBoxLayout, QWidget

from studio.viewmodels.writer_session import WriterSession


class ChatPanel(QWidget):
    """Owns the conversation; while its reply streams (``active``) the session's tokens are its own."""

    failed = Signal(str)

    def __init__(self, session: WriterSession, parent: QWidget | None = None):
        super().__init__(parent)
        self.session = session
        v = QVBoxLayout(self)
        self.view = QTextBrowser()
        self.view.setPlaceholderText("Brainstorm here: names, plot turns…")
        v.addWidget(self.view, 1)
        row = QHBoxLayout()
        self.input = QLineEdit(placeholderText="Ask…")
        self.input.returnPressed.connect(self.send)
        send = QPushButton("Send")
        send.clicked.connect(self.send)
        clear = QPushButton("Clear")
        clear.clicked.connect(self.clear)
        row.addWidget(self.input, 1)
        row.addWidget(send)
        row.addWidget(clear)
        v.addLayout(row)
        self.messages: list[tuple[str, str]] = []
        self._reply: list[str] | None = None

    @property
    def active(self) -> bool:
        return self._reply is not None

    def send(self) -> None:
        text = self.input.text().strip()
        if not text or self.session.busy:
            return
        self.messages.append(("user", text))
        self.input.clear()
        self._reply = []
        self._render()
        if self.session.chat(self.messages) is None:
            self._reply = None

    def clear(self) -> None:
        if not self.session.busy:
            self.messages.clear()
            self._render()

    def add_token(self, text: str) -> None:
        if self._reply is not None:
            self._reply.append(text)
            self._render()

    def finish(self, how: str, payload: object) -> None:
        reply = "".join(self._reply or []).replace("\nUser:", "").strip()
        self._reply = None
        if reply:
            self.messages.append(("assistant", reply))
        elif how == "failed" and isinstance(payload, str):
            self.failed.emit(payload)
        self._render()

    def _render(self) -> None:
        def esc(t: str) -> str:
            return t.replace("&", "&amp;").replace("<", "&lt;").replace("\n", "<br>")

        turns = [*self.messages]
        if self._reply is not None:
            turns.append(("assistant", "".join(self._reply)))
        self.view.setHtml(
            "".join(
                f"<p><b>{'You' if role == 'user' else 'Model'}:</b> {esc(text)}</p>" for role, text in turns
            )
        )
        self.view.moveCursor(QTextCursor.MoveOperation.End)
