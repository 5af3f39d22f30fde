"""ControlNet units and reference images in the Image panel: one framed card per unit, with its control image,
the preprocessed map (shown as soon as the image or the preprocessor changes), the model, weight and start/end."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtGui import QImage, QPixmap
from PySide6.QtWidgets import (
    QComboBox,
    QDoubleSpinBox,
    QFileDialog,
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QVBoxLayout,
    QWidget,
)

from studio.core.image.control import PREPROCESSORS
from studio.core.image.units import CONTROL_UNIT, REFERENCE_UNIT
from studio.ui.common.theme import tool_button as _tool
from studio.viewmodels.generation_session import GenerationSession

IMAGES = "Images (*.png *.jpg *.jpeg *.webp *.bmp)"


def spin_box(value: float, low: float, high: float, tip: str) -> QDoubleSpinBox:
    spin = QDoubleSpinBox()
    spin.setRange(low, high)
    spin.setSingleStep(0.05)
    spin.setDecimals(2)
    spin.setValue(float(value))
    spin.setToolTip(tip)
    return spin


def pil_pixmap(image: Any) -> QPixmap:
    rgb = image.convert("RGB")
    data = rgb.tobytes()
    q = QImage(data, rgb.width, rgb.height, rgb.width * 3, QImage.Format.Format_RGB888)
    return QPixmap.fromImage(q.copy())


class UnitList(QWidget):
    """Cards rebuilt when units come or go (or a recipe replaces them); edits inside a card change the draft
    without rebuilding it, so a spin box keeps its focus."""

    field = ""

    def __init__(self, session: GenerationSession, parent: QWidget | None = None):
        super().__init__(parent)
        self.session = session
        self._quiet = False
        self._layout = QVBoxLayout(self)
        self._layout.setContentsMargins(0, 0, 0, 0)
        self._layout.setSpacing(4)
        self.cards: list[QFrame] = []
        session.changed.connect(lambda name: name == self.field and not self._quiet and self.rebuild())
        session.modelsChanged.connect(self.rebuild)
        self.rebuild()

    def units(self) -> list[dict[str, Any]]:
        return [u for u in self.session.value(self.field) if isinstance(u, dict)]

    def edit(self, index: int, key: str, value: Any) -> None:
        self._quiet = True
        try:
            self._set(index, key, value)
        finally:
            self._quiet = False

    def _set(self, index: int, key: str, value: Any) -> None:
        raise NotImplementedError

    def rebuild(self) -> None:
        while self._layout.count():
            w = self._layout.takeAt(0).widget()
            if w:
                w.deleteLater()
        self.cards = []
        for i, unit in enumerate(self.units()):
            card = QFrame()
            card.setFrameShape(QFrame.Shape.StyledPanel)
            self._fill(card, i, unit)
            self._layout.addWidget(card)
            self.cards.append(card)
        if not self.cards:
            hint = QLabel(self.empty_hint())
            hint.setProperty("role", "hint")
            hint.setWordWrap(True)
            self._layout.addWidget(hint)

    def empty_hint(self) -> str:
        return ""

    def strength_row(self, index: int, unit: dict[str, Any], weight: float, tip: str) -> QHBoxLayout:
        """Weight, start and end of a unit, each edit going to the draft."""
        row = QHBoxLayout()
        table = (
            CONTROL_UNIT if self.field == "controls" else REFERENCE_UNIT
        )  # each part's range and help, declared once
        for key in ("weight", "start", "end"):
            f = table[key]
            value = unit.get(key, weight if key == "weight" else f.default)
            spin = spin_box(
                value, float(f.minimum or 0.0), float(f.maximum or 1.0), tip if key == "weight" else f.help
            )
            spin.valueChanged.connect(lambda v, k=key: self.edit(index, k, round(v, 2)))
            row.addWidget(QLabel(f.label))
            row.addWidget(spin)
        return row

    def _fill(self, card: QFrame, index: int, unit: dict[str, Any]) -> None:
        raise NotImplementedError


class ControlUnitList(UnitList):
    field = "controls"

    def empty_hint(self) -> str:
        return "No ControlNet. Add a unit to say where things go: edges, lines, a scribble, a pose, depth."

    def _set(self, index: int, key: str, value: Any) -> None:
        self.session.guidance.set_control(index, key, value)

    def _fill(self, card: QFrame, index: int, unit: dict[str, Any]) -> None:
        grid = QGridLayout(card)
        grid.setContentsMargins(6, 6, 6, 6)
        preview = QLabel()
        preview.setFixedSize(96, 96)
        preview.setAlignment(Qt.AlignmentFlag.AlignCenter)
        preview.setWordWrap(True)
        preview.setProperty("role", "hint")
        preview.setObjectName(f"control-preview-{index}")
        grid.addWidget(preview, 0, 0, 3, 1)

        image = QLabel(Path(unit.get("image") or "").name or "No control image")
        image.setToolTip(unit.get("image") or "")
        pick = _tool("image", "Choose the control image…")
        pick.clicked.connect(lambda _=False, i=index: self._choose(i))
        from_init = _tool("use", "Use the init image as the control image")
        from_init.clicked.connect(lambda _=False, i=index: self._from_init(i))
        strokes = _tool("brush", "Use the strokes painted on the Input view as a scribble")
        strokes.clicked.connect(lambda _=False, i=index: self._from_strokes(i))
        remove = _tool("close", "Remove this unit")
        remove.clicked.connect(lambda _=False, i=index: self.session.guidance.remove_control(i))
        top = QHBoxLayout()
        top.addWidget(image, 1)
        for b in (pick, from_init, strokes, remove):
            top.addWidget(b)
        grid.addLayout(top, 0, 1)

        pre = QComboBox()
        for p in PREPROCESSORS.values():
            pre.addItem(p.label, p.name)
            pre.setItemData(pre.count() - 1, p.help, Qt.ItemDataRole.ToolTipRole)
        pre.setCurrentIndex(max(0, pre.findData(unit.get("preprocessor", "canny"))))
        pre.setToolTip("How the control image becomes the map the ControlNet reads.")
        model = QComboBox()
        model.setToolTip(
            "The ControlNet model (one of the image model's family; its kind should match the map)."
        )
        for label, path in self.session.library.controlnet_choices():
            model.addItem(label, path)
        current = unit.get("model") or ""
        if current and model.findData(current) < 0:
            model.addItem(Path(current).stem, current)
        if not model.count():
            model.addItem("No ControlNet in the models folder", "")
        model.setCurrentIndex(max(0, model.findData(current)))
        row = QHBoxLayout()
        row.addWidget(pre)
        row.addWidget(model, 1)
        grid.addLayout(row, 1, 1)

        tip = "How strongly the map steers (1: fully; 0: not at all)."
        grid.addLayout(self.strength_row(index, unit, 1.0, tip), 2, 1)
        thresholds_box = self._thresholds(index, unit, lambda: show())
        grid.addWidget(thresholds_box, 3, 1)
        said = QLabel()
        said.setWordWrap(True)
        said.setProperty("role", "hint")
        said.setObjectName(f"control-said-{index}")
        grid.addWidget(said, 4, 0, 1, 2)

        def show() -> None:
            picture, why = self.session.guidance.control_preview(index)
            thresholds_box.setVisible(pre.currentData() == "canny")
            said.setText(why if picture is not None else "")
            said.setVisible(bool(why) and picture is not None)
            if picture is None:
                preview.setPixmap(QPixmap())
                preview.setText(why)
            else:
                preview.setPixmap(pil_pixmap(picture).scaled(96, 96, Qt.AspectRatioMode.KeepAspectRatio,
                                                             Qt.TransformationMode.SmoothTransformation))  # fmt: skip

        def preprocessor_changed() -> None:
            self.edit(index, "preprocessor", pre.currentData())
            show()

        pre.currentIndexChanged.connect(preprocessor_changed)
        model.currentIndexChanged.connect(lambda _=0: self.edit(index, "model", model.currentData()))
        if not unit.get("model") and model.currentData():
            self.edit(index, "model", model.currentData())
        show()

    def _thresholds(self, index: int, unit: dict[str, Any], shown: Callable[[], None]) -> QWidget:
        """Canny's low and high thresholds (A1111's Threshold A and B); each change redraws the map."""
        box = QWidget()
        row = QHBoxLayout(box)
        row.setContentsMargins(0, 0, 0, 0)
        for text, key, value in (("Low", "threshold_a", unit.get("threshold_a", 100.0)),
                                 ("High", "threshold_b", unit.get("threshold_b", 200.0))):  # fmt: skip
            spin = spin_box(float(value), 1.0, 1000.0, "Canny's edge thresholds: lower finds fainter edges.")
            spin.setDecimals(0)
            spin.setSingleStep(10)
            spin.valueChanged.connect(lambda v, k=key: (self.edit(index, k, float(v)), shown()))
            row.addWidget(QLabel(text))
            row.addWidget(spin)
        return box

    def _choose(self, index: int) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Choose a control image", "", IMAGES)
        if path:
            self.session.guidance.set_control(index, "image", path)

    def _from_init(self, index: int) -> None:
        init = self.session.value("init_image")
        if init:
            self.session.guidance.set_control(index, "image", init)

    def _from_strokes(self, index: int) -> None:
        self.session.guidance.control_from_strokes(index)


class ReferenceList(UnitList):
    field = "references"

    def empty_hint(self) -> str:
        return "No reference image. Add one to say what the picture should look like (IP-Adapter)."

    def _set(self, index: int, key: str, value: Any) -> None:
        self.session.guidance.set_reference(index, key, value)

    def _fill(self, card: QFrame, index: int, unit: dict[str, Any]) -> None:
        grid = QGridLayout(card)
        grid.setContentsMargins(6, 6, 6, 6)
        thumb = QLabel()
        thumb.setFixedSize(64, 64)
        thumb.setAlignment(Qt.AlignmentFlag.AlignCenter)
        picture = QPixmap(unit.get("image") or "")
        if not picture.isNull():
            thumb.setPixmap(picture.scaled(64, 64, Qt.AspectRatioMode.KeepAspectRatio,
                                           Qt.TransformationMode.SmoothTransformation))  # fmt: skip
        grid.addWidget(thumb, 0, 0, 2, 1)
        name = QLabel(Path(unit.get("image") or "").name)
        name.setToolTip(unit.get("image") or "")
        remove = _tool("close", "Remove this reference")
        remove.clicked.connect(lambda _=False, i=index: self.session.guidance.remove_reference(i))
        top = QHBoxLayout()
        top.addWidget(name, 1)
        top.addWidget(remove)
        grid.addLayout(top, 0, 1)
        tip = "How much the picture follows the reference (0.5–0.8 is typical; 1 copies it closely)."
        grid.addLayout(self.strength_row(index, unit, 0.6, tip), 1, 1)

    def choose(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Choose a reference image", "", IMAGES)
        if path:
            self.session.guidance.add_reference(path)
