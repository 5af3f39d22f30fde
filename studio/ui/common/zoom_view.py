"""A large image view with zoom (wheel, around the cursor) and pan (drag); double-click fits the window."""

from __future__ import annotations

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QImage, QMouseEvent, QPainter, QPaintEvent, QWheelEvent
from PySide6.QtWidgets import QDialog, QSizePolicy, QVBoxLayout, QWidget

MIN_ZOOM, MAX_ZOOM = 0.05, 32.0


class ZoomView(QWidget):
    def __init__(self, placeholder: str = "", parent: QWidget | None = None):
        super().__init__(parent)
        self._image = QImage()
        self._placeholder = placeholder
        self._zoom: float | None = None  # None: fit to the widget
        self._offset = QPointF(0, 0)  # image-space point shown at the widget centre, when zoomed
        self._drag: QPointF | None = None
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setMinimumSize(160, 160)
        self.setCursor(Qt.CursorShape.OpenHandCursor)

    def set_image(self, image: QImage) -> None:
        self._image = image
        self._zoom = None
        self.update()

    def image(self) -> QImage:
        return self._image

    def fit_scale(self) -> float:
        if self._image.isNull():
            return 1.0
        return min(self.width() / self._image.width(), self.height() / self._image.height())

    def scale(self) -> float:
        return self._zoom if self._zoom is not None else self.fit_scale()

    def _target(self) -> QRectF:
        s = self.scale()
        w, h = self._image.width() * s, self._image.height() * s
        if self._zoom is None:
            return QRectF((self.width() - w) / 2, (self.height() - h) / 2, w, h)
        return QRectF(self.width() / 2 - self._offset.x() * s, self.height() / 2 - self._offset.y() * s, w, h)

    def paintEvent(self, _e: QPaintEvent) -> None:  # noqa: N802
        p = QPainter(self)
        if self._image.isNull():
            p.setPen(self.palette().placeholderText().color())
            p.drawText(
                self.rect(), Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap, self._placeholder
            )
            return
        # small images (the 64-px built-in model) stay crisp when enlarged; photos are smoothed
        p.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, self.scale() < 2.0)
        p.drawImage(self._target(), self._image)

    def zoom_to(self, zoom: float, anchor: QPointF | None = None) -> None:
        if self._image.isNull():
            return
        anchor = anchor or QPointF(self.width() / 2, self.height() / 2)
        old = self._target()
        s_old = self.scale()
        image_point = QPointF((anchor.x() - old.x()) / s_old, (anchor.y() - old.y()) / s_old)
        self._zoom = max(MIN_ZOOM, min(MAX_ZOOM, zoom))
        # keep the image point under the anchor where it was
        self._offset = QPointF(
            image_point.x() - (anchor.x() - self.width() / 2) / self._zoom,
            image_point.y() - (anchor.y() - self.height() / 2) / self._zoom,
        )
        self.update()

    def wheelEvent(self, e: QWheelEvent) -> None:  # noqa: N802
        steps = e.angleDelta().y() / 120
        if steps:
            self.zoom_to(self.scale() * (1.25**steps), e.position())

    def mouseDoubleClickEvent(self, _e: QMouseEvent) -> None:  # noqa: N802
        self._zoom = None
        self.update()

    def mousePressEvent(self, e: QMouseEvent) -> None:  # noqa: N802
        if e.button() == Qt.MouseButton.LeftButton and self._zoom is not None:
            self._drag = e.position()
            self.setCursor(Qt.CursorShape.ClosedHandCursor)

    def mouseMoveEvent(self, e: QMouseEvent) -> None:  # noqa: N802
        if self._drag is not None and self._zoom:
            delta = e.position() - self._drag
            self._drag = e.position()
            self._offset -= QPointF(delta.x() / self._zoom, delta.y() / self._zoom)
            self.update()

    def mouseReleaseEvent(self, _e: QMouseEvent) -> None:  # noqa: N802
        self._drag = None
        self.setCursor(Qt.CursorShape.OpenHandCursor)


def show_large(parent: QWidget, title: str, image: QImage) -> QDialog:
    """A picture in a window of its own, to zoom into (wheel) and pan (drag); returned so the caller keeps it."""
    from studio.ui.common.theme import fit_size

    dialog = QDialog(parent)
    dialog.setWindowTitle(title)
    view = ZoomView()
    view.set_image(image)
    QVBoxLayout(dialog).addWidget(view)
    fit_size(dialog, 1000, 700)
    dialog.show()
    return dialog
