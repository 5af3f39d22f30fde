"""The Fine-tune room's own widgets: the live loss curve and the crop/focus-point editor."""

from __future__ import annotations

from PySide6.QtCore import QPointF, QRectF, Qt, Signal
from PySide6.QtGui import QColor, QImage, QPainter, QPainterPath, QPen
from PySide6.QtWidgets import QSizePolicy, QWidget

from studio.core.train.dataset import bucket_for, buckets, crop_box
from studio.ui.train.loss_curves import CurvesView, Series
from studio.viewmodels.train_session import TrainSession


class LossCurveView(CurvesView):
    """The live run's loss per step (faint), smoothed (bold) and its validation loss (dashed, dots)."""

    def __init__(self, session: TrainSession, parent: QWidget | None = None):
        super().__init__(
            lambda: [Series("", session.curve)], "The loss curve appears here as training runs.", parent
        )
        self.session = session


class FocusView(QWidget):
    """One picture with the part that will be trained on (its aspect-ratio bucket at the run's resolution);
    a click moves that crop to centre on the clicked point."""

    focusChanged = Signal(object)  # (x, y) in 0..1, or None for the centre

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.image = QImage()
        self.background = QImage()
        self.focus: tuple[float, float] | None = None
        self.resolution = 512
        self.setMinimumSize(160, 100)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setCursor(Qt.CursorShape.CrossCursor)
        self.setToolTip("Click the part of the picture to keep: the bright box is what training sees")

    def show_picture(self, path: str | None, focus: tuple[float, float] | None, resolution: int,
                     mask: str | None = None) -> None:  # fmt: skip
        self.image = QImage(path) if path else QImage()
        self.focus, self.resolution = focus, resolution
        self.background = QImage()  # where the mask says "not the subject": shaded red over the picture
        if mask and not self.image.isNull():
            grey = QImage(mask).convertToFormat(QImage.Format.Format_Grayscale8)
            if not grey.isNull():
                grey.invertPixels()
                self.background = QImage(grey.size(), QImage.Format.Format_ARGB32_Premultiplied)
                self.background.fill(QColor(229, 72, 77))
                self.background.setAlphaChannel(grey)
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
        if not self.background.isNull():
            p.setOpacity(0.45)
            p.drawImage(r, self.background)
            p.setOpacity(1.0)
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
