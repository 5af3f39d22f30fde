"""The picture area: shows previews and results fitted to the view, takes dropped images, paints masks."""

from __future__ import annotations

from PySide6.QtCore import QMimeData, QPoint, QPointF, QRect, QRectF, QSize, Qt, QUrl, Signal
from PySide6.QtGui import (
    QColor,
    QDrag,
    QImage,
    QMouseEvent,
    QPainter,
    QPaintEvent,
    QPalette,
    QPen,
)
from PySide6.QtWidgets import QSizePolicy, QWidget

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".bmp", ".gif", ".tif", ".tiff")


def fit_rect(image_size: QSize, area: QRect) -> QRectF:
    if image_size.isEmpty():
        return QRectF()
    scale = min(area.width() / image_size.width(), area.height() / image_size.height())
    w, h = image_size.width() * scale, image_size.height() * scale
    return QRectF(area.x() + (area.width() - w) / 2, area.y() + (area.height() - h) / 2, w, h)


class ImageView(QWidget):
    """A fitted image with an empty-state message; drag the image out, drop image files in."""

    imageDropped = Signal(str)

    def __init__(self, placeholder: str = "", parent: QWidget | None = None):
        super().__init__(parent)
        self._image = QImage()
        self._path = ""
        self._placeholder = placeholder
        self._press: QPoint | None = None
        self.setAcceptDrops(True)
        self.setMinimumSize(96, 96)  # small screens: the picture is fitted into whatever room there is
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)

    def set_image(self, image: QImage, path: str = "") -> None:
        self._image = image
        self._path = path
        self.update()

    def image(self) -> QImage:
        return self._image

    def path(self) -> str:
        return self._path

    def set_placeholder(self, text: str) -> None:
        self._placeholder = text
        self.update()

    def image_rect(self) -> QRectF:
        return fit_rect(self._image.size(), self.rect().adjusted(12, 12, -12, -12))

    def paintEvent(self, _event: QPaintEvent) -> None:  # noqa: N802
        p = QPainter(self)
        pal = self.palette()
        p.fillRect(self.rect(), pal.color(QPalette.ColorRole.Base))
        if self._image.isNull():
            p.setPen(pal.color(QPalette.ColorRole.PlaceholderText))
            p.drawText(
                self.rect().adjusted(30, 30, -30, -30),
                Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap,
                self._placeholder,
            )
            return
        target = self.image_rect()
        p.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, True)
        p.drawImage(target, self._image)
        self.paint_overlay(p, target)

    def paint_overlay(self, painter: QPainter, target: QRectF) -> None:
        pass

    # drag out ----------------------------------------------------------------------------------------------
    def mousePressEvent(self, e: QMouseEvent) -> None:  # noqa: N802
        self._press = e.position().toPoint() if e.button() == Qt.MouseButton.LeftButton else None

    def mouseMoveEvent(self, e: QMouseEvent) -> None:  # noqa: N802
        if self._press is None or not self._path:
            return
        if (e.position().toPoint() - self._press).manhattanLength() < 12:
            return
        mime = QMimeData()
        mime.setUrls([QUrl.fromLocalFile(self._path)])
        mime.setImageData(self._image)
        drag = QDrag(self)
        drag.setMimeData(mime)
        drag.setPixmap(_thumb(self._image))
        self._press = None
        drag.exec(Qt.DropAction.CopyAction)

    # drop in -------------------------------------------------------------------------------------------------
    def dragEnterEvent(self, e) -> None:  # noqa: N802
        if any(u.toLocalFile().lower().endswith(IMAGE_SUFFIXES) for u in e.mimeData().urls()):
            e.acceptProposedAction()

    def dropEvent(self, e) -> None:  # noqa: N802
        for u in e.mimeData().urls():
            if u.toLocalFile().lower().endswith(IMAGE_SUFFIXES):
                self.imageDropped.emit(u.toLocalFile())
                e.acceptProposedAction()
                return


def _thumb(image: QImage):
    from PySide6.QtGui import QPixmap

    return QPixmap.fromImage(
        image.scaled(96, 96, Qt.AspectRatioMode.KeepAspectRatio, Qt.TransformationMode.SmoothTransformation)
    )


class MaskCanvas(ImageView):
    """Shows the init image; when painting is on, a brush (or eraser) paints the inpaint mask over it."""

    maskChanged = Signal(QImage)

    def __init__(self, placeholder: str = "", parent: QWidget | None = None):
        super().__init__(placeholder, parent)
        self._mask = QImage()
        self.brush_size = 32  # in image pixels
        self.erasing = False
        self.painting_enabled = True
        self._last: QPointF | None = None
        self.setMouseTracking(True)

    def set_image(self, image: QImage, path: str = "") -> None:
        super().set_image(image, path)
        if self._mask.size() != image.size():
            self.clear_mask(emit=False)

    def mask(self) -> QImage:
        return self._mask

    def set_mask(self, mask: QImage) -> None:
        """Paint on from a mask already made (scaled to the picture)."""
        grey = mask.convertToFormat(QImage.Format.Format_Grayscale8)
        self._mask = grey if grey.size() == self._image.size() else grey.scaled(self._image.size())
        self.update()

    def clear_mask(self, emit: bool = True) -> None:
        self._mask = (
            QImage(self._image.size(), QImage.Format.Format_Grayscale8)
            if not self._image.isNull()
            else QImage()
        )
        if not self._mask.isNull():
            self._mask.fill(0)
        self.update()
        if emit:
            self.maskChanged.emit(self._mask)

    def _to_image(self, pos: QPointF) -> QPointF:
        r = self.image_rect()
        return QPointF(
            (pos.x() - r.x()) * self._image.width() / r.width(),
            (pos.y() - r.y()) * self._image.height() / r.height(),
        )

    def _stroke(self, a: QPointF, b: QPointF) -> None:
        p = QPainter(self._mask)
        p.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        pen = QPen(
            QColor(0, 0, 0) if self.erasing else QColor(255, 255, 255),
            self.brush_size,
            Qt.PenStyle.SolidLine,
            Qt.PenCapStyle.RoundCap,
            Qt.PenJoinStyle.RoundJoin,
        )
        p.setPen(pen)
        p.drawLine(a, b)
        p.end()
        self.update()

    def mousePressEvent(self, e: QMouseEvent) -> None:  # noqa: N802
        if self._image.isNull() or not self.painting_enabled or e.button() != Qt.MouseButton.LeftButton:
            return
        self._last = self._to_image(e.position())
        self._stroke(self._last, self._last)

    def mouseMoveEvent(self, e: QMouseEvent) -> None:  # noqa: N802
        if self._last is not None:
            cur = self._to_image(e.position())
            self._stroke(self._last, cur)
            self._last = cur
        else:
            self.update()

    def mouseReleaseEvent(self, e: QMouseEvent) -> None:  # noqa: N802
        if self._last is not None:
            self._last = None
            self.maskChanged.emit(self._mask)

    def paint_overlay(self, painter: QPainter, target: QRectF) -> None:
        if self._mask.isNull():
            return
        overlay = QImage(self._mask.size(), QImage.Format.Format_ARGB32_Premultiplied)
        overlay.fill(QColor(229, 72, 77))
        overlay.setAlphaChannel(self._mask)
        painter.setOpacity(0.5)
        painter.drawImage(target, overlay)
        painter.setOpacity(1.0)
        if self.painting_enabled and self.underMouse():
            pos = self.mapFromGlobal(self.cursor().pos())
            radius = self.brush_size * target.width() / max(1, self._image.width()) / 2
            painter.setPen(QPen(QColor(255, 255, 255, 200), 1))
            painter.drawEllipse(QPointF(pos), radius, radius)
