"""The Fine-tune room's own widgets: the live loss curve and the crop/focus-point editor."""

from __future__ import annotations

from PySide6.QtCore import QPointF, QRectF, Qt, Signal
from PySide6.QtGui import QColor, QImage, QPainter, QPainterPath, QPen, QPolygonF
from PySide6.QtWidgets import QSizePolicy, QWidget

from studio.core.train.dataset import bucket_for, buckets, crop_box
from studio.viewmodels.train_session import TrainSession


class LossCurveView(QWidget):
    """The loss per step (faint) and smoothed (bold)."""

    def __init__(self, session: TrainSession, parent: QWidget | None = None):
        super().__init__(parent)
        self.session = session
        self.setMinimumHeight(140)

    def paintEvent(self, _event) -> None:  # noqa: N802, ANN001
        p = QPainter(self)
        p.fillRect(self.rect(), self.palette().base())
        curve = self.session.curve
        if len(curve.losses) < 2:
            p.setPen(self.palette().placeholderText().color())
            p.drawText(
                self.rect(), Qt.AlignmentFlag.AlignCenter, "The loss curve appears here as training runs."
            )
            return
        lo, hi = min(curve.losses), max(curve.losses)
        span = (hi - lo) or 1.0
        n = max(curve.steps[-1], 2)
        left, top, bottom = 52, 8, 36  # room for the loss values (left) and the steps (below)
        w, h = self.width() - left - 8, self.height() - top - bottom

        def poly(values: list[float]) -> QPolygonF:
            return QPolygonF(
                [
                    QPointF(left + w * s / n, top + h * (1 - (v - lo) / span))
                    for s, v in zip(curve.steps, values, strict=True)
                ]
            )

        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        grid = self.palette().mid().color()
        p.setPen(QPen(grid, 1))
        p.drawLine(left, top, left, top + h)
        p.drawLine(left, top + h, left + w, top + h)
        p.setPen(self.palette().placeholderText().color())
        (y_hi, y_lo), (x_0, x_n) = self.axis_labels()
        fm = p.fontMetrics()
        p.drawText(left - 6 - fm.horizontalAdvance(y_hi), top + fm.ascent(), y_hi)
        p.drawText(left - 6 - fm.horizontalAdvance(y_lo), top + h, y_lo)
        p.drawText(left, top + h + fm.height(), x_0)
        p.drawText(left + w - fm.horizontalAdvance(x_n), top + h + fm.height(), x_n)
        accent = self.palette().highlight().color()
        faint = QColor(accent)
        faint.setAlpha(70)
        p.setPen(QPen(faint, 1))
        p.drawPolyline(poly(curve.losses))
        p.setPen(QPen(accent, 2))
        p.drawPolyline(poly(curve.smoothed()))
        p.setPen(self.palette().text().color())
        p.drawText(
            left, self.height() - 4, f"loss {curve.smoothed()[-1]:.4f} (smoothed) · step {curve.steps[-1]}"
        )

    def axis_labels(self) -> tuple[tuple[str, str], tuple[str, str]]:
        """((the highest loss, the lowest), (the first step, the last)) as the axes show them."""
        curve = self.session.curve
        if not curve.losses:
            return ("", ""), ("", "")
        return (f"{max(curve.losses):.3f}", f"{min(curve.losses):.3f}"), (
            "0",
            f"step {max(curve.steps[-1], 2)}",
        )


class FocusView(QWidget):
    """One picture with the part that will be trained on (its aspect-ratio bucket at the run's resolution);
    a click moves that crop to centre on the clicked point."""

    focusChanged = Signal(object)  # (x, y) in 0..1, or None for the centre

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.image = QImage()
        self.focus: tuple[float, float] | None = None
        self.resolution = 512
        self.setMinimumSize(160, 100)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setCursor(Qt.CursorShape.CrossCursor)
        self.setToolTip("Click the part of the picture to keep: the bright box is what training sees")

    def show_picture(self, path: str | None, focus: tuple[float, float] | None, resolution: int) -> None:
        self.image = QImage(path) if path else QImage()
        self.focus, self.resolution = focus, resolution
        self.update()

    def set_resolution(self, resolution: int) -> None:
        self.resolution = resolution
        self.update()

    def picture_rect(self) -> QRectF:
        if self.image.isNull():
            return QRectF()
        s = min(self.width() / self.image.width(), self.height() / self.image.height())
        w, h = self.image.width() * s, self.image.height() * s
        return QRectF((self.width() - w) / 2, (self.height() - h) / 2, w, h)

    def crop_rect(self) -> QRectF:
        r = self.picture_rect()
        if r.isEmpty():
            return QRectF()
        w, h = self.image.width(), self.image.height()
        left, top, right, bottom = crop_box(w, h, bucket_for(w, h, buckets(self.resolution)), self.focus)
        sx, sy = r.width() / w, r.height() / h
        return QRectF(r.x() + left * sx, r.y() + top * sy, (right - left) * sx, (bottom - top) * sy)

    def mousePressEvent(self, event) -> None:  # noqa: N802, ANN001
        r = self.picture_rect()
        if r.isEmpty() or event.button() != Qt.MouseButton.LeftButton:
            return
        p = event.position()
        self.focus = (
            min(1.0, max(0.0, (p.x() - r.x()) / r.width())),
            min(1.0, max(0.0, (p.y() - r.y()) / r.height())),
        )
        self.update()
        self.focusChanged.emit(self.focus)

    def paintEvent(self, _event) -> None:  # noqa: N802, ANN001
        p = QPainter(self)
        p.fillRect(self.rect(), self.palette().base())
        r = self.picture_rect()
        if r.isEmpty():
            p.setPen(self.palette().placeholderText().color())
            p.drawText(
                self.rect(),
                Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap,
                "Select a picture to choose\nthe part to train on.",
            )
            return
        p.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
        p.drawImage(r, self.image)
        crop = self.crop_rect()
        shade = QPainterPath()
        shade.addRect(r)
        inner = QPainterPath()
        inner.addRect(crop)
        p.fillPath(shade.subtracted(inner), QColor(0, 0, 0, 140))
        p.setPen(QPen(self.palette().highlight().color(), 2))
        p.drawRect(crop)
        c = crop.center()
        p.drawLine(QPointF(c.x() - 6, c.y()), QPointF(c.x() + 6, c.y()))
        p.drawLine(QPointF(c.x(), c.y() - 6), QPointF(c.x(), c.y() + 6))
