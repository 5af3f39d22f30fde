"""Widgets bound to a draft's fields, set up from the recipe's field table: one helper for every room.

``bind(session, name, widget, field)`` gives the widget the field's range, step, unit and tooltip, shows the
session's value, writes edits back, and follows the session when the value changes elsewhere (a preset, a model's
recommendation, "Use these settings") — so presets flow recipe → widgets, never the other way.
A session is anything with ``value(name)``, ``set(name, value)`` and a ``changed(str)`` signal.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from PySide6.QtWidgets import (
    QAbstractSpinBox,
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QGroupBox,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QSpinBox,
    QWidget,
)
from superqt import QLabeledDoubleSlider, QLabeledSlider, QLargeIntSpinBox

from studio.core.jobs.fields import Field


class Session(Protocol):
    changed: Any

    def value(self, name: str) -> Any: ...
    def set(self, name: str, value: Any) -> None: ...


def configure(widget: QWidget, field: Field) -> None:
    """Range, step, decimals, unit and tooltip from the field table."""
    widget.setToolTip(field.tooltip())
    lo, hi = field.minimum, field.maximum
    if isinstance(widget, QDoubleSpinBox | QLabeledDoubleSlider):
        if field.decimals:
            widget.setDecimals(field.decimals)
        if lo is not None and hi is not None:
            widget.setRange(float(lo), float(hi))
        if field.step:
            widget.setSingleStep(float(field.step))
    elif isinstance(widget, QSpinBox | QLabeledSlider | QLargeIntSpinBox):
        if lo is not None and hi is not None:
            if isinstance(widget, QSpinBox):  # a QSpinBox holds 32-bit values
                lo, hi = max(int(lo), -(2**31)), min(int(hi), 2**31 - 1)
            widget.setRange(int(lo), int(hi))
        if field.step:
            widget.setSingleStep(int(field.step))
    if isinstance(widget, QComboBox) and field.choices and widget.count() == 0:
        names = dict(field.special)  # a choice's name in the window, where it has one
        for choice in field.choices:
            widget.addItem(names.get(choice, choice), choice)
    if isinstance(widget, QAbstractSpinBox | QSpinBox | QDoubleSpinBox):
        if field.unit and hasattr(widget, "setSuffix"):
            widget.setSuffix(f" {field.unit}")
        special = dict(field.special)
        if lo is not None and lo in special and hasattr(widget, "setSpecialValueText"):
            widget.setSpecialValueText(special[lo])


def _accessors(widget: QWidget) -> tuple[Any, Callable[[], Any], Callable[[Any], None]]:
    """(signal, getter, setter) of a widget's value."""
    if isinstance(widget, QComboBox):

        def get_combo() -> Any:
            data = widget.currentData()
            return data if data is not None else widget.currentText()

        def set_combo(value: Any) -> None:
            i = widget.findData(value)
            if i < 0:
                i = widget.findText(str(value))
            if i >= 0:
                widget.setCurrentIndex(i)

        return widget.currentIndexChanged, get_combo, set_combo
    if isinstance(widget, QCheckBox | QGroupBox):
        return widget.toggled, widget.isChecked, lambda v: widget.setChecked(bool(v))
    if isinstance(widget, QLineEdit):
        return widget.editingFinished, widget.text, lambda v: widget.setText("" if v is None else str(v))
    if isinstance(widget, QPlainTextEdit):
        return widget.textChanged, widget.toPlainText, lambda v: widget.setPlainText(str(v or ""))
    if isinstance(widget, QLargeIntSpinBox):
        return widget.valueChanged, lambda: int(widget.value()), widget.setValue
    return widget.valueChanged, widget.value, widget.setValue


def bind(
    session: Session,
    name: str,
    widget: QWidget,
    field: Field | None = None,
    convert: Callable[[Any], Any] = lambda v: v,
    on_edit: Callable[[Any], None] | None = None,
) -> QWidget:
    """Widget ↔ the session's field ``name``; with a ``field``, the widget is configured from the table first."""
    if field is not None:
        configure(widget, field)
    signal, getter, setter = _accessors(widget)
    if session.value(name) is not None:
        setter(session.value(name))

    def edited(*_: Any) -> None:
        value = convert(getter())
        if value != session.value(name):
            session.set(name, value)
            if on_edit is not None:
                on_edit(value)

    signal.connect(edited)

    def follow(changed: str) -> None:
        if changed == name and convert(getter()) != session.value(name) and session.value(name) is not None:
            setter(session.value(name))

    session.changed.connect(follow)
    return widget


class ErrorLabel(QLabel):
    """A red one-line message under a field; hidden while the field is fine."""

    def __init__(self, session: Any, fields: tuple[str, ...], parent: QWidget | None = None):
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
