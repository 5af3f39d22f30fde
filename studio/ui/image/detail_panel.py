"""The detailer in the Image panel (ADetailer's way): a card per thing to find — its words, the prompt to redraw it
with, how much to change it and how sure the detector must be."""

from __future__ import annotations

from typing import Any

from PySide6.QtWidgets import QFormLayout, QFrame, QGridLayout, QHBoxLayout, QLabel, QLineEdit, QWidget

from studio.ui.common.binding import ErrorLabel
from studio.ui.common.theme import tool_button as _tool
from studio.ui.image.guidance_panel import UnitList, spin_box
from studio.viewmodels.generation_session import GenerationSession


class DetailList(UnitList):
    field = "details"

    def empty_hint(self) -> str:
        return ("No detailer. Add one to find faces, hands or anything you name in the finished picture and redraw "
                "each at full size (needs a detector, e.g. OWLv2, in the models folder).")  # fmt: skip

    def _set(self, index: int, key: str, value: Any) -> None:
        self.session.guidance.set_detail(index, key, value)

    def _fill(self, card: QFrame, index: int, unit: dict[str, Any]) -> None:
        grid = QGridLayout(card)
        grid.setContentsMargins(6, 6, 6, 6)
        target = QLineEdit(str(unit.get("target") or ""))
        target.setPlaceholderText("What to find: face, hand, a red car…")
        target.setObjectName(f"detail-target-{index}")
        target.textEdited.connect(lambda text: self.edit(index, "target", text))
        prompt = QLineEdit(str(unit.get("prompt") or ""))
        prompt.setPlaceholderText("Redraw it as… (empty: the picture's prompt)")
        prompt.setObjectName(f"detail-prompt-{index}")
        prompt.textEdited.connect(lambda text: self.edit(index, "prompt", text))
        remove = _tool("close", "Remove this detailer")
        remove.clicked.connect(lambda _=False, i=index: self.session.guidance.remove_detail(i))
        top = QHBoxLayout()
        top.addWidget(target, 1)
        top.addWidget(remove)
        grid.addLayout(top, 0, 0)
        grid.addWidget(prompt, 1, 0)
        row = QHBoxLayout()
        for key, label, tip, low in (
            (
                "strength",
                "Strength",
                "How much each find is changed (0.3–0.5 keeps it, 0.7 remakes it).",
                0.05,
            ),
            ("confidence", "Confidence", "How sure the detector must be that it found it (0–1).", 0.0),
        ):
            spin = spin_box(float(unit.get(key, 0.4 if key == "strength" else 0.3)), low, 1.0, tip)
            spin.valueChanged.connect(lambda v, k=key: self.edit(index, k, round(v, 2)))
            row.addWidget(QLabel(label))
            row.addWidget(spin)
        row.addStretch(1)
        grid.addLayout(row, 2, 0)


def add_detail_rows(form: QFormLayout, session: GenerationSession, heading: QWidget) -> DetailList:
    """The Detailer section: its heading with an add button, the cards and their problems."""
    head = QHBoxLayout()
    head.addWidget(heading)
    head.addStretch(1)
    add = _tool("plus", "Add a detailer (a face to begin with)")
    add.clicked.connect(lambda: session.guidance.add_detail())
    head.addWidget(add)
    form.addRow(head)
    details = DetailList(session)
    form.addRow(details)
    form.addRow(ErrorLabel(session, ("details",)))
    return details
