"""Two-way binding of plain widgets to a GenerationSession field, and inline error labels."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtWidgets import QLabel, QWidget

from studio.viewmodels.generation_session import GenerationSession


def bind(
    session: GenerationSession,
    name: str,
    signal: Any,
    getter: Callable[[], Any],
    setter: Callable[[Any], None],
    convert: Callable[[Any], Any] = lambda v: v,
) -> None:
    """Widget → session on ``signal``; session → widget when the field changes elsewhere."""
    setter(session.value(name))
    signal.connect(lambda *_: session.set(name, convert(getter())))

    def follow(changed: str) -> None:
        if changed == name and convert(getter()) != session.value(name):
            setter(session.value(name))

    session.changed.connect(follow)


class ErrorLabel(QLabel):
    """A red one-line message under a field; hidden while the field is fine."""

    def __init__(self, session: GenerationSession, fields: tuple[str, ...], parent: QWidget | None = None):
        super().__init__(parent)
        self.setProperty("role", "error")
        self.setWordWrap(True)
        self.hide()
        self._fields = fields
        session.errorsChanged.connect(self._show)

    def _show(self, errors: dict) -> None:
        messages = [errors[f] for f in self._fields if f in errors]
        self.setText("\n".join(messages))
        self.setVisible(bool(messages))
