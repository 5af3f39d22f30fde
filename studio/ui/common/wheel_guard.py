"""The mouse wheel scrolls panels; it changes a field only once the field has focus (clicked or tabbed into). Without
this, scrolling the parameters over Width turns 64 into 8 and over Steps 20 into 26, as users of every Qt app find."""

from __future__ import annotations

from PySide6.QtCore import QEvent, QObject
from PySide6.QtWidgets import (
    QAbstractScrollArea,
    QAbstractSlider,
    QAbstractSpinBox,
    QApplication,
    QComboBox,
    QScrollBar,
    QWidget,
)


class WheelGuard(QObject):
    """An application-wide filter: a wheel over an unfocused spin box, combo box or slider goes to the panel
    around it (the nearest scroll area), which scrolls."""

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 (Qt's name)
        if event.type() != QEvent.Type.Wheel or not isinstance(watched, QWidget):
            return False
        field = _field_of(watched)
        if field is None or field.hasFocus():
            return False
        area = _scroll_area_around(field)
        if area is not None:
            QApplication.sendEvent(area.viewport(), event)
        return True  # never the field's: the value stays


def _field_of(widget: QWidget) -> QWidget | None:
    """The value-editing field ``widget`` is (or is inside: a spin box's line edit, a combo's view)."""
    w: QWidget | None = widget
    for _ in range(3):
        if w is None:
            return None
        if isinstance(w, QScrollBar):
            return None
        if isinstance(w, QAbstractSpinBox | QComboBox | QAbstractSlider):
            return w
        w = w.parentWidget()
    return None


def _scroll_area_around(widget: QWidget) -> QAbstractScrollArea | None:
    w = widget.parentWidget()
    while w is not None:
        if isinstance(w, QAbstractScrollArea):
            return w
        w = w.parentWidget()
    return None


_GUARD: list[WheelGuard] = []


def install(app: QApplication) -> None:
    """Once per application: fields take focus by click or Tab, not by the wheel."""
    if _GUARD:
        return
    guard = WheelGuard(app)
    app.installEventFilter(guard)
    _GUARD.append(guard)
