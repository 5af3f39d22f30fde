"""A widget for a recipe field made from its declaration alone (type, range, choices, help): how a new field shows
up in its room's section without a line of UI code. Fields whose widget needs more (a model list, a seed's dice)
are ``custom`` and built by their panel."""

from __future__ import annotations

from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QLineEdit,
    QSpinBox,
    QWidget,
)
from superqt import QLargeIntSpinBox

from studio.core.jobs.fields import Field, FieldTable, Section
from studio.ui.common.binding import ErrorLabel, Session, bind

_INT32 = 2**31 - 1


def widget_for(field: Field) -> QWidget:
    """The plain widget of a field's type: a check box, a spin box, a list of its choices, or a line of text."""
    widget: QWidget
    if field.type is bool:
        widget = QCheckBox(field.label)
    elif field.type is int:
        big = max(abs(field.minimum or 0), abs(field.maximum or 0)) > _INT32
        widget = QLargeIntSpinBox() if big else QSpinBox()
    elif field.type is float:
        widget = QDoubleSpinBox()
    elif field.type is str and field.choices:
        widget = QComboBox()
    elif field.type is str:
        widget = QLineEdit()
        widget.setPlaceholderText(field.metavar or "")
    else:
        raise TypeError(f"{field.name}: a {field.type.__name__} field needs a custom widget")
    widget.setObjectName(field.name)
    return widget


def add_field_rows(form: QFormLayout, session: Session, table: FieldTable, section: Section) -> list[QWidget]:
    """A row for each field of ``section`` that its panel does not build by hand, bound to ``session``."""
    made = []
    for field in table.fields:
        if field.section != section or field.custom:
            continue
        widget = widget_for(field)
        if isinstance(widget, QDoubleSpinBox):
            bind(session, field.name, widget, field, lambda v, d=field.decimals or 2: round(float(v), d))
        else:
            bind(session, field.name, widget, field)
        form.addRow("" if isinstance(widget, QCheckBox) else field.label, widget)
        form.addRow(ErrorLabel(session, (field.name,)))
        made.append(widget)
    return made
