"""Regions in the Image panel: a map of the picture where dragging draws a region, and a card per region (its
prompt, its area as fractions or a mask, its weight). Each region has its colour on the map and on its card."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import QPointF, QRectF, QSize, Qt
from PySide6.QtGui import QColor, QImage, QMouseEvent, QPainter, QPaintEvent, QPen
from PySide6.QtWidgets import (
    QFileDialog,
    QFormLayout,
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QSizePolicy,
    QWidget,
)

from studio.core.image.recipe import IMAGE
from studio.core.image.regions import parse_region
from studio.core.jobs.fields import Section
from studio.ui.common.binding import ErrorLabel
from studio.ui.common.field_widgets import add_field_rows
from studio.ui.common.theme import tool_button as _tool
from studio.ui.image.guidance_panel import IMAGES, UnitList, spin_box
from studio.viewmodels.generation_session import GenerationSession

COLOURS = ("#e6550d", "#3182bd", "#31a354", "#756bb1", "#d6616b", "#8c6d31", "#17becf", "#e377c2")


def colour_of(index: int) -> QColor:
    return QColor(COLOURS[index % len(COLOURS)])


class RegionMapView(QWidget):
    """The picture's shape with its regions drawn over it; drag to draw a new region."""

    def __init__(self, session: GenerationSession, parent: QWidget | None = None):
        super().__init__(parent)
        self.session = session
        self.setMinimumSize(160, 110)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.setCursor(Qt.CursorShape.CrossCursor)
        self.setToolTip("Drag to draw a region; then write what goes there.")
        self._drag: tuple[QPointF, QPointF] | None = None
        self._masks: dict[str, QImage] = {}
        session.changed.connect(lambda name: name in ("regions", "width", "height") and self.update())

    def sizeHint(self) -> QSize:  # noqa: N802 (Qt's name)
        return QSize(220, 130)

    def frame(self) -> QRectF:
        """Where the picture is drawn: its aspect ratio, centred."""
        w, h = max(1, int(self.session.value("width"))), max(1, int(self.session.value("height")))
        scale = min((self.width() - 8) / w, (self.height() - 8) / h)
        return QRectF((self.width() - w * scale) / 2, (self.height() - h * scale) / 2, w * scale, h * scale)

    def _fraction(self, point: QPointF) -> tuple[float, float]:
        f = self.frame()
        return (min(1.0, max(0.0, (point.x() - f.x()) / f.width())),
                min(1.0, max(0.0, (point.y() - f.y()) / f.height())))  # fmt: skip

    def mousePressEvent(self, event: QMouseEvent) -> None:  # noqa: N802
        self._drag = (event.position(), event.position())

    def mouseMoveEvent(self, event: QMouseEvent) -> None:  # noqa: N802
        if self._drag is not None:
            self._drag = (self._drag[0], event.position())
            self.update()

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:  # noqa: N802
        if self._drag is None:
            return
        (x0, y0), (x1, y1) = self._fraction(self._drag[0]), self._fraction(event.position())
        self._drag = None
        if abs(x1 - x0) > 0.04 and abs(y1 - y0) > 0.04:  # a click is not a region
            self.session.guidance.add_region((min(x0, x1), min(y0, y1), max(x0, x1), max(y0, y1)))
        self.update()

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        f = self.frame()
        painter.fillRect(f, self.palette().base())
        painter.setPen(QPen(self.palette().mid().color(), 1))
        painter.drawRect(f)
        for i, unit in enumerate(u for u in self.session.value("regions") if isinstance(u, dict)):
            colour = colour_of(i)
            fill = QColor(colour)
            fill.setAlpha(90)
            mask = self._mask(str(unit.get("mask") or ""))
            if mask is not None:
                tinted = QImage(mask.size(), QImage.Format.Format_ARGB32)
                tinted.fill(fill)
                tinted.setAlphaChannel(mask.scaled(mask.size()))
                painter.drawImage(f, tinted)
                area = f
            else:
                box = parse_region({"prompt": "x", "box": unit.get("box")})
                if isinstance(box, str):
                    continue
                x0, y0, x1, y1 = box["box"]
                area = QRectF(f.x() + x0 * f.width(), f.y() + y0 * f.height(),
                              (x1 - x0) * f.width(), (y1 - y0) * f.height())  # fmt: skip
                painter.fillRect(area, fill)
                painter.setPen(QPen(colour, 2))
                painter.drawRect(area)
            painter.setPen(colour.darker(150))
            painter.drawText(area.adjusted(4, 2, -2, -2), Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop,
                             str(i + 1))  # fmt: skip
        if self._drag is not None:
            painter.setPen(QPen(self.palette().highlight().color(), 1, Qt.PenStyle.DashLine))
            painter.drawRect(QRectF(self._drag[0], self._drag[1]).normalized())

    def _mask(self, path: str) -> QImage | None:
        """A region mask as an alpha channel (read once; a small picture)."""
        if not path:
            return None
        if path not in self._masks:
            image = QImage(path)
            self._masks[path] = image.convertToFormat(QImage.Format.Format_Grayscale8).scaled(128, 128)
        image = self._masks[path]
        return None if image.isNull() else image


class RegionList(UnitList):
    """A card per region: its colour and number, prompt, area and weight."""

    field = "regions"

    def empty_hint(self) -> str:
        return ("No regions: the prompt holds everywhere. Drag on the map to give a part of the picture its own "
                "prompt (SD 1.x/2.x and SDXL).")  # fmt: skip

    def _set(self, index: int, key: str, value: Any) -> None:
        self.session.guidance.set_region(index, key, value)

    def _fill(self, card: QFrame, index: int, unit: dict[str, Any]) -> None:
        grid = QGridLayout(card)
        grid.setContentsMargins(6, 6, 6, 6)
        badge = QLabel(str(index + 1))
        badge.setFixedWidth(22)
        badge.setAlignment(Qt.AlignmentFlag.AlignCenter)
        badge.setStyleSheet(f"background: {colour_of(index).name()}; color: white; border-radius: 3px;")
        grid.addWidget(badge, 0, 0)
        prompt = QLineEdit(str(unit.get("prompt") or ""))
        prompt.setPlaceholderText("What goes in this region")
        prompt.setObjectName(f"region-prompt-{index}")
        prompt.textEdited.connect(lambda text: self.edit(index, "prompt", text))
        remove = _tool("close", "Remove this region")
        remove.clicked.connect(lambda _=False, i=index: self.session.guidance.remove_region(i))
        top = QHBoxLayout()
        top.addWidget(prompt, 1)
        top.addWidget(remove)
        grid.addLayout(top, 0, 1)

        area = QLineEdit(
            Path(unit["mask"]).name
            if unit.get("mask")
            else ",".join(f"{float(v):g}" for v in unit.get("box") or (0, 0, 1, 1))
        )
        area.setToolTip(
            "X0,Y0,X1,Y1 as fractions of the width and height (0,0,0.5,1 is the left half), or a mask."
        )
        area.setObjectName(f"region-area-{index}")
        said = QLabel()
        said.setProperty("role", "error")
        said.setWordWrap(True)
        said.hide()
        area.editingFinished.connect(lambda: self._area_typed(index, area.text(), said))
        mask = _tool("image", "Use a mask picture (white marks the region)…")
        mask.clicked.connect(lambda _=False, i=index: self._choose_mask(i))
        weight = spin_box(float(unit.get("weight", 1.0)), 0.0, 1.0, "The region prompt's share inside it (1: its prompt "
                       "alone; 0.7: 70 % of it, the rest the main prompt).")  # fmt: skip
        weight.valueChanged.connect(lambda v: self.edit(index, "weight", round(v, 2)))
        row = QHBoxLayout()
        row.addWidget(QLabel("Area"))
        row.addWidget(area, 1)
        row.addWidget(mask)
        row.addWidget(QLabel("Weight"))
        row.addWidget(weight)
        grid.addLayout(row, 1, 1)
        grid.addWidget(said, 2, 1)

    def _area_typed(self, index: int, text: str, said: QLabel) -> None:
        units = self.units()
        if not 0 <= index < len(units) or (
            units[index].get("mask") and Path(units[index]["mask"]).name == text
        ):
            return
        got = parse_region(f"{text.strip()}:x")
        if isinstance(got, str) or got["mask"]:
            said.setText(
                got if isinstance(got, str) else "Choose a mask with the picture button beside the area."
            )
            said.show()
            return
        said.hide()
        self.edit(index, "mask", "")
        self.edit(index, "box", list(got["box"]))

    def _choose_mask(self, index: int) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Choose a region mask", "", IMAGES)
        if path:
            self.session.guidance.set_region(index, "mask", path)


def add_region_rows(form: QFormLayout, session: GenerationSession, heading: QWidget) -> RegionList:
    """The Regions section: its heading, the map, the cards, their problems and the mode."""
    form.addRow(heading)
    form.addRow(RegionMapView(session))
    regions = RegionList(session)
    form.addRow(regions)
    form.addRow(ErrorLabel(session, ("regions",)))
    add_field_rows(form, session, IMAGE, Section.REGIONS)
    return regions
