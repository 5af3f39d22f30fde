"""Before a model's first use, what its card says of its limits: read off the GUI thread when the model is chosen,
offered once per model (the settings remember which the user has read)."""

from __future__ import annotations

from PySide6.QtCore import QObject, Signal

from studio.core.models.builtin_models import is_builtin
from studio.core.models.card_limits import limitations_of
from studio.viewmodels.background import in_background


class ModelCards(QObject):
    toRead = Signal(str, str)  # (the model, its card's limitations in Markdown)

    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        self.seen: list[str] = []  # the settings' own list: models whose limitations were shown and read

    def check(self, model: str) -> None:
        """Read the card of a newly chosen model (off the GUI thread); ``toRead`` when it states limits the user
        has not read yet."""
        if not model or model in self.seen or is_builtin(model):
            return
        in_background(self, lambda: limitations_of(model), lambda text: self._read(model, text),
                      name="studio-model-card")  # fmt: skip

    def _read(self, model: str, text: str) -> None:
        if text and model not in self.seen:
            self.toRead.emit(model, text)

    def accept(self, model: str) -> None:
        """The user has read them: not offered again."""
        if model not in self.seen:
            self.seen.append(model)
