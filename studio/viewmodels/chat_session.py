"""The Writer's Chat: a conversation with the same model (and the same sampling, system prompt and instruct
format), with alternatives for each reply, edits, branches — and character cards loaded (off the GUI thread) as the
model's persona and first message, or saved."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, Signal

from studio.core.io.untrusted import Unreadable
from studio.core.text.character_card import CharacterCard, read_card, write_card
from studio.core.text.chat_log import ChatLog
from studio.viewmodels.background import in_background
from studio.viewmodels.writer_session import WriterSession


class ChatSession(QObject):
    changed = Signal()  # the conversation changed: show it again
    said = Signal(str)  # a sentence for the status line

    def __init__(self, writer: WriterSession, parent: QObject | None = None):
        super().__init__(parent)
        self.writer = writer
        self.log = ChatLog()
        self.card: CharacterCard | None = None
        self.reply: list[str] | None = None  # the reply streaming in, while the chat's job runs

    @property
    def active(self) -> bool:
        return self.reply is not None

    def _ask(self, messages: list[tuple[str, str]]) -> bool:
        self.reply = []
        self.changed.emit()
        if self.writer.chat(messages) is None:
            self.reply = None
            self.log.cancel_regenerate()
            self.changed.emit()
            return False
        return True

    def send(self, text: str) -> bool:
        if not text.strip() or self.writer.busy:
            return False
        self.log.add("user", text.strip())
        return self._ask(self.log.messages())

    def regenerate(self) -> bool:
        """Another reply for the last turn (the old one kept as an alternative)."""
        if self.writer.busy:
            return False
        messages = self.log.regenerate()
        return messages is not None and self._ask(messages)

    def add_token(self, text: str) -> None:
        if self.reply is not None:
            self.reply.append(text)
            self.changed.emit()

    def finish(self, how: str, payload: object) -> None:
        reply = "".join(self.reply or []).replace("\nUser:", "").strip()
        self.reply = None
        if reply:
            self.log.answer(reply)
        else:
            self.log.cancel_regenerate()
            if how == "failed" and isinstance(payload, str):
                self.said.emit(payload)
        self.changed.emit()

    def flip(self, index: int, step: int) -> None:
        if self.log.flip(index, step):
            self.changed.emit()

    def edit(self, index: int, text: str) -> None:
        self.log.edit(index, text)
        self.changed.emit()

    def branch(self, index: int) -> None:
        """Go on from this turn: what came after it is dropped."""
        if not self.writer.busy:
            self.log.branch(index)
            self.changed.emit()

    def clear(self) -> None:
        if not self.writer.busy:
            self.log.clear()
            self.changed.emit()

    # -- character cards ----------------------------------------------------------------------------------------
    def load_card(self, path: str) -> None:
        """A card as the model's persona: its system prompt, and its greeting (alternatives too) as the first turn."""

        def done(card: Any) -> None:
            if isinstance(card, Unreadable):
                self.said.emit(f"Could not load the character card: {card.why}")
                return
            self.card = card
            self.writer.set("system", card.system())
            self.writer.set("instruct", True)
            self.log.clear()
            if card.first_mes.strip():
                self.log.add(
                    "assistant", card.fill(card.first_mes), tuple(map(card.fill, card.alternate_greetings))
                )
            self.changed.emit()
            self.said.emit(f"Chatting with {card.name}: the card's persona is the system prompt.")

        in_background(self, lambda: read_card(Path(path)), done, name="studio-card-read",
                      on_error=lambda e: self.said.emit(f"Could not load the character card: {e}"))  # fmt: skip

    def save_card(self, path: str, name: str = "") -> None:
        """The loaded card (or one made of the system prompt) as V2 JSON or a PNG carrying V2 and V3."""
        card = self.card or CharacterCard(name=name or "Character", system_prompt=self.writer.value("system"))
        in_background(self, lambda: write_card(card, Path(path)), lambda p: self.said.emit(f"Saved the card to {p}."),
                      name="studio-card-write", on_error=lambda e: self.said.emit(f"Could not save the card: {e}"))  # fmt: skip
