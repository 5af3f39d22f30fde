"""Loss curves as trainers read them: each run's loss per step (faint) and smoothed (bold), its validation loss as
dots joined by a dashed line, several runs on one pair of axes to compare them."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QPainter, QPen, QPolygonF
from PySide6.QtWidgets import QWidget

from studio.core.train.train_specs import LossCurve


@dataclass
class Series:
    label: str
    curve: LossCurve
    color: QColor | None = None  # None: the palette's highlight


class CurvesView(QWidget):
    """Paints the series ``series()`` gives (asked at every paint: the live run's curve grows meanwhile)."""

    def __init__(self, series: Callable[[], list[Series]], empty: str, parent: QWidget | None = None):
        super().__init__(parent)
        self.series = series
        self.empty = empty
        self.setMinimumHeight(140)

    def bounds(self) -> tuple[float, float, int]:
        """(lowest loss, highest loss, last step) over every series, validation included."""
        values = [v for s in self.series() for v in (*s.curve.losses, *s.curve.validation)]
        steps = [st for s in self.series() for st in (*s.curve.steps, *s.curve.validation_steps)]
        if not values:
            return 0.0, 1.0, 2
        return min(values), max(values), max(max(steps), 2)

    def axis_labels(self) -> tuple[tuple[str, str], tuple[str, str]]:
        """((the highest loss, the lowest), (the first step, the last)) as the axes show them."""
        if not any(s.curve.losses for s in self.series()):
            return ("", ""), ("", "")
        lo, hi, n = self.bounds()
        return (f"{hi:.3f}", f"{lo:.3f}"), ("0", f"step {n}")

    def paintEvent(self, _event) -> None:  # noqa: N802, ANN001
        p = QPainter(self)
        p.fillRect(self.rect(), self.palette().base())
        shown = [s for s in self.series() if len(s.curve.losses) >= 2 or s.curve.validation]
        if not shown:
            p.setPen(self.palette().placeholderText().color())
            p.drawText(self.rect(), Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap, self.empty)
            return
        lo, hi, n = self.bounds()
        span = (hi - lo) or 1.0
        line = self.fontMetrics().height()
        below = line + 6 + line * len(shown)  # the steps, then a legend line per run
        area = QRectF(52, 8, self.width() - 60, self.height() - 8 - below)  # the values' room on the left

        def at(step: int, value: float) -> QPointF:
            return QPointF(
                area.left() + area.width() * step / n, area.top() + area.height() * (1 - (value - lo) / span)
            )

        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        self._axes(p, area)
        legend = []
        for s in shown:
            color = s.color or self.palette().highlight().color()
            faint = QColor(color)
            faint.setAlpha(70)
            p.setPen(QPen(faint, 1))
            p.drawPolyline(
                QPolygonF([at(st, v) for st, v in zip(s.curve.steps, s.curve.losses, strict=True)])
            )
            p.setPen(QPen(color, 2))
            p.drawPolyline(
                QPolygonF([at(st, v) for st, v in zip(s.curve.steps, s.curve.smoothed(), strict=True)])
            )
            if s.curve.validation:
                points = [
                    at(st, v) for st, v in zip(s.curve.validation_steps, s.curve.validation, strict=True)
                ]
                p.setPen(QPen(color, 1.5, Qt.PenStyle.DashLine))
                p.drawPolyline(QPolygonF(points))
                p.setBrush(color)
                for point in points:
                    p.drawEllipse(point, 3, 3)
                p.setBrush(Qt.BrushStyle.NoBrush)
            legend.append((color, self._legend(s)))
        for k, (color, text) in enumerate(legend):
            p.setPen(color if len(legend) > 1 else self.palette().text().color())
            p.drawText(QPointF(area.left(), self.height() - 4 - line * (len(legend) - 1 - k)), text)

    def _axes(self, p: QPainter, area: QRectF) -> None:
        p.setPen(QPen(self.palette().mid().color(), 1))
        p.drawLine(area.topLeft(), area.bottomLeft())
        p.drawLine(area.bottomLeft(), area.bottomRight())
        p.setPen(self.palette().placeholderText().color())
        (y_hi, y_lo), (x_0, x_n) = self.axis_labels()
        fm = p.fontMetrics()
        p.drawText(QPointF(area.left() - 6 - fm.horizontalAdvance(y_hi), area.top() + fm.ascent()), y_hi)
        p.drawText(QPointF(area.left() - 6 - fm.horizontalAdvance(y_lo), area.bottom()), y_lo)
        p.drawText(QPointF(area.left(), area.bottom() + fm.height()), x_0)
        p.drawText(QPointF(area.right() - fm.horizontalAdvance(x_n), area.bottom() + fm.height()), x_n)

    @staticmethod
    def _legend(s: Series) -> str:
        c = s.curve
        parts = [s.label] if s.label else []
        if c.losses:
            parts.append(f"loss {c.smoothed()[-1]:.4f} (smoothed) · step {c.steps[-1]}")
        if c.validation:
            parts.append(f"validation {c.validation[-1]:.4f} (dashed)")
        return " · ".join(parts)
