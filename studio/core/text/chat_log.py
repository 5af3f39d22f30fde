"""A conversation with the Writer's model, as a chat app keeps it: turns in order, each assistant turn with its
alternatives (Regenerate adds one; ◀ ▶ flip between them), any turn edited in place, and a branch made by going on
from an earlier turn (what came after it is dropped). Pure data."""

from __future__ import annotations

from dataclasses import dataclass, field

ROLES = ("user", "assistant")


@dataclass
class Turn:
    role: str
    texts: list[str]
    shown: int = 0

    @property
    def text(self) -> str:
        return self.texts[self.shown]


@dataclass
class ChatLog:
    turns: list[Turn] = field(default_factory=list)
    _regenerating: bool = field(default=False, repr=False)  # the next answer is another take of the last turn

    def messages(self) -> list[tuple[str, str]]:
        """The conversation as the model reads it (each turn's shown alternative)."""
        return [(t.role, t.text) for t in self.turns]

    def add(self, role: str, text: str, alternatives: tuple[str, ...] = ()) -> None:
        self.turns.append(Turn(role, [text, *alternatives]))

    def answer(self, text: str) -> None:
        """The model's reply: a new alternative of a turn being regenerated, else a new turn."""
        if self.turns and self.turns[-1].role == "assistant" and self._regenerating:
            last = self.turns[-1]
            last.texts.append(text)
            last.shown = len(last.texts) - 1
        else:
            self.add("assistant", text)
        self._regenerating = False

    def regenerate(self) -> list[tuple[str, str]] | None:
        """The messages to ask again for the last assistant turn (None when the last turn is not the model's)."""
        if not self.turns or self.turns[-1].role != "assistant":
            return None
        self._regenerating = True
        return self.messages()[:-1]

    def cancel_regenerate(self) -> None:
        self._regenerating = False

    def flip(self, index: int, step: int) -> bool:
        """Show another alternative of a turn; False when there is none that way."""
        turn = self.turns[index]
        target = turn.shown + step
        if not 0 <= target < len(turn.texts):
            return False
        turn.shown = target
        return True

    def edit(self, index: int, text: str) -> None:
        """A turn rewritten by hand (its shown alternative)."""
        self.turns[index].texts[self.turns[index].shown] = text

    def branch(self, index: int) -> None:
        """Go on from turn ``index``: the turns after it are dropped."""
        del self.turns[index + 1 :]

    def clear(self) -> None:
        self.turns.clear()
        self._regenerating = False
