"""The Writer's chat pane: talk with the same model, away from the manuscript — each reply with its alternatives
(◀ ▶, *Regenerate*), any turn edited (double-click), a branch made from any turn (*Branch*), and character
cards loaded as the model's persona or saved."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QFileDialog,
    QHBoxLayout,
    QInputDialog,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from studio.viewmodels.chat_session import ChatSession
from studio.viewmodels.writer_session import WriterSession


class ChatPanel(QWidget):
    """Owns the conversation's view; while its reply streams (``active``) the session's tokens are its own."""

    failed = Signal(str)

    def __init__(self, session: WriterSession, parent: QWidget | None = None):
        super().__init__(parent)
        self.session = session
        self.chat = ChatSession(session, self)
        self.chat.changed.connect(self._render)
        self.chat.said.connect(self.failed.emit)
        v = QVBoxLayout(self)
        card_row = QHBoxLayout()
        self.character = QLabel("No character card")
        card_row.addWidget(self.character, 1)
        for text, tip, act in (("Card…", "Load a character card (.json or .png) as the model's persona",
                                lambda: self.load_card()),
                               ("Save card…", "Save the card (or the system prompt as one)",
                                lambda: self.save_card())):  # fmt: skip
            button = QPushButton(text)
            button.setToolTip(tip)
            button.clicked.connect(act)
            card_row.addWidget(button)
        v.addLayout(card_row)
        self.view = QListWidget()
        self.view.setWordWrap(True)
        self.view.setToolTip(
            "Double-click a turn to edit it; select one to flip its alternatives or go on from it"
        )
        self.view.itemDoubleClicked.connect(lambda item: self.edit(self.view.row(item)))
        v.addWidget(self.view, 1)
        turn_row = QHBoxLayout()
        for text, tip, act in (("◀", "The previous alternative of the selected reply", lambda: self.flip(-1)),
                               ("▶", "The next alternative", lambda: self.flip(1)),
                               ("Regenerate", "Another reply for the last turn (this one kept)", self.regenerate),
                               ("Branch", "Go on from the selected turn: the turns after it are dropped",
                                self.branch)):  # fmt: skip
            button = QPushButton(text)
            button.setToolTip(tip)
            button.clicked.connect(act)
            turn_row.addWidget(button)
        v.addLayout(turn_row)
        row = QHBoxLayout()
        self.input = QLineEdit(placeholderText="Ask…")
        self.input.returnPressed.connect(self.send)
        send = QPushButton("Send")
        send.clicked.connect(self.send)
        clear = QPushButton("Clear")
        clear.clicked.connect(self.chat.clear)
        row.addWidget(self.input, 1)
        row.addWidget(send)
        row.addWidget(clear)
        v.addLayout(row)

    @property
    def messages(self) -> list[tuple[str, str]]:
        return self.chat.log.messages()

    @property
    def active(self) -> bool:
        return self.chat.active

    def send(self) -> None:
        if self.chat.send(self.input.text()):
            self.input.clear()

    def regenerate(self) -> None:
        self.chat.regenerate()

    def add_token(self, text: str) -> None:
        self.chat.add_token(text)

    def finish(self, how: str, payload: object) -> None:
        self.chat.finish(how, payload)

    def flip(self, step: int) -> None:
        if self.view.currentRow() >= 0:
            row = self.view.currentRow()
            self.chat.flip(row, step)
            self.view.setCurrentRow(row)

    def branch(self) -> None:
        if self.view.currentRow() >= 0:
            self.chat.branch(self.view.currentRow())

    def edit(self, row: int, text: str | None = None) -> None:
        if not 0 <= row < len(self.chat.log.turns):
            return
        if text is None:
            text, ok = QInputDialog.getMultiLineText(
                self, "Edit the turn", "Text:", self.chat.log.turns[row].text
            )
            if not ok:
                return
        self.chat.edit(row, text)

    def load_card(self, path: str | None = None) -> None:
        path = (
            path
            or QFileDialog.getOpenFileName(self, "Character card", "", "Character cards (*.json *.png)")[0]
        )
        if path:
            self.chat.load_card(path)

    def save_card(self, path: str | None = None) -> None:
        path = (
            path
            or QFileDialog.getSaveFileName(self, "Save the card", "", "PNG card (*.png);;JSON (*.json)")[0]
        )
        if path:
            self.chat.save_card(path)

    def _render(self) -> None:
        turns = self.chat.log.turns
        self.view.clear()
        who = self.chat.card.name if self.chat.card else "Model"
        self.character.setText(f"Character: {who}" if self.chat.card else "No character card")
        for turn in turns:
            count = f"  [{turn.shown + 1}/{len(turn.texts)}]" if len(turn.texts) > 1 else ""
            item = QListWidgetItem(f"{'You' if turn.role == 'user' else who}: {turn.text}{count}")
            item.setData(Qt.ItemDataRole.UserRole, turn.role)
            self.view.addItem(item)
        if self.chat.reply is not None:
            self.view.addItem(QListWidgetItem(f"{who}: {''.join(self.chat.reply)}…"))
        self.view.scrollToBottom()

    def toPlainText(self) -> str:  # noqa: N802 - the chat's text, as a text view would give it
        return "\n".join(self.view.item(i).text() for i in range(self.view.count()))
