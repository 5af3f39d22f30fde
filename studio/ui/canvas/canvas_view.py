"""The canvas itself: the layers drawn in order, the box the next picture goes into, the staged result over it.
Tools: the brush and the eraser paint the active layer (a mask layer in white), the box tool draws the box, the
move tool drags the active layer, the select tool makes a mask layer of the thing clicked (Segment Anything); the wheel zooms around the cursor, the middle button (or Space) pans."""

from __future__ import annotations

from PySide6.QtCore import QPointF, QRectF, Qt, Signal
from PySide6.QtGui import QBrush, QColor, QImage, QKeyEvent, QMouseEvent, QPainter, QPen, QPixmap, QWheelEvent
from PySide6.QtWidgets import QGraphicsPixmapItem, QGraphicsRectItem, QGraphicsScene, QGraphicsView

from studio.viewmodels.canvas_session import CanvasSession

TOOLS = ("brush", "eraser", "box", "move", "select")


class CanvasView(QGraphicsView):
    toolChanged = Signal(str)

    def __init__(self, session: CanvasSession):
        super().__init__()
        self.session = session
        self.tool = "brush"
        self.colour = QColor("#d62728")
        self.size = 24
        self.setScene(QGraphicsScene(self))
        self.setRenderHints(QPainter.RenderHint.Antialiasing | QPainter.RenderHint.SmoothPixmapTransform)
        self.setTransformationAnchor(QGraphicsView.ViewportAnchor.AnchorUnderMouse)
        self.setBackgroundBrush(QBrush(QColor("#8a8a8a"), Qt.BrushStyle.Dense6Pattern))
        self._items: dict[str, QGraphicsPixmapItem] = {}
        self._box = QGraphicsRectItem()
        self._box.setPen(QPen(QColor("#7c5cff"), 0, Qt.PenStyle.DashLine))
        self._box.setZValue(10_000)
        self._staged = QGraphicsPixmapItem()
        self._staged.setZValue(9_999)
        self.scene().addItem(self._box)
        self.scene().addItem(self._staged)
        self._drag: QPointF | None = None  # where a stroke, a box or a move began (canvas coordinates)
        self._work: QImage | None = None  # the active layer's picture while a stroke is under way
        self._panning = False
        self._last: QPointF | None = None  # the brush's last point in the layer's coordinates
        session.changed.connect(self.rebuild)
        session.boxChanged.connect(self._show_box)
        session.stagingChanged.connect(self._show_staged)
        self.rebuild()
        self._show_box()

    def set_tool(self, tool: str) -> None:
        self.tool = tool
        self.setCursor(Qt.CursorShape.CrossCursor if tool != "move" else Qt.CursorShape.SizeAllCursor)
        self.toolChanged.emit(tool)

    # -- drawing the layers ----------------------------------------------------------------------------------
    def rebuild(self) -> None:
        doc = self.session.doc
        self.scene().setSceneRect(QRectF(-64, -64, doc.width + 128, doc.height + 128))
        seen = set()
        for z, layer in enumerate(doc.layers):
            item = self._items.get(layer.id)
            if item is None:
                item = self._items[layer.id] = QGraphicsPixmapItem()
                self.scene().addItem(item)
            item.setPixmap(QPixmap.fromImage(self.session.qimage(layer)))
            item.setPos(layer.x, layer.y)
            item.setZValue(z)
            item.setOpacity(layer.opacity * (0.5 if layer.kind in ("mask", "region", "control") else 1.0))
            item.setVisible(layer.visible)
            seen.add(layer.id)
        for gone in set(self._items) - seen:
            self.scene().removeItem(self._items.pop(gone))
        self.viewport().update()

    def _show_box(self) -> None:
        x0, y0, x1, y1 = self.session.box
        self._box.setRect(QRectF(x0, y0, x1 - x0, y1 - y0))
        self._show_staged()

    def _show_staged(self) -> None:
        s = self.session
        if not s.staging:
            self._staged.setVisible(False)
            return
        x0, y0, x1, y1 = s.box
        picture = QPixmap.fromImage(s.staging[s.staged][0]).scaled(x1 - x0, y1 - y0)
        self._staged.setPixmap(picture)
        self._staged.setPos(x0, y0)
        self._staged.setVisible(True)

    def fit(self) -> None:
        doc = self.session.doc
        self.fitInView(QRectF(0, 0, doc.width, doc.height), Qt.AspectRatioMode.KeepAspectRatio)

    # -- input -----------------------------------------------------------------------------------------------
    def wheelEvent(self, event: QWheelEvent) -> None:  # noqa: N802 (Qt's name)
        factor = 1.15 if event.angleDelta().y() > 0 else 1 / 1.15
        if 0.05 < self.transform().m11() * factor < 32:
            self.scale(factor, factor)

    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802
        if event.key() == Qt.Key.Key_Space and not event.isAutoRepeat():
            self.setDragMode(QGraphicsView.DragMode.ScrollHandDrag)
            self._panning = True
        super().keyPressEvent(event)

    def keyReleaseEvent(self, event: QKeyEvent) -> None:  # noqa: N802
        if event.key() == Qt.Key.Key_Space and not event.isAutoRepeat():
            self.setDragMode(QGraphicsView.DragMode.NoDrag)
            self._panning = False
        super().keyReleaseEvent(event)

    def mousePressEvent(self, event: QMouseEvent) -> None:  # noqa: N802
        if self._panning or event.button() == Qt.MouseButton.MiddleButton:
            self.setDragMode(QGraphicsView.DragMode.ScrollHandDrag)
            self._panning = True
            super().mousePressEvent(event)
            return
        if event.button() != Qt.MouseButton.LeftButton:
            return
        self._drag = self.mapToScene(event.position().toPoint())
        if self.tool == "select":  # Segment Anything: the thing under the click becomes a mask layer
            self.session.selection.select_at(self._drag.x(), self._drag.y())
            self._drag = None
            return
        layer = self.session.doc.get(self.session.active)
        if self.tool in ("brush", "eraser") and layer is not None:
            self._work, self._last = self.session.qimage(layer).copy(), None
            self._paint_to(self._drag)

    def mouseMoveEvent(self, event: QMouseEvent) -> None:  # noqa: N802
        if self._panning or self._drag is None:
            super().mouseMoveEvent(event)
            return
        at = self.mapToScene(event.position().toPoint())
        if self._work is not None:
            self._paint_to(at)
        elif self.tool == "box":
            self._box.setRect(QRectF(self._drag, at).normalized())
        elif self.tool == "move" and (item := self._items.get(self.session.active)) is not None:
            layer = self.session.doc.get(self.session.active)
            if layer is not None:
                item.setPos(layer.x + at.x() - self._drag.x(), layer.y + at.y() - self._drag.y())

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:  # noqa: N802
        if self._panning:
            super().mouseReleaseEvent(event)
            self._panning = event.modifiers() != Qt.KeyboardModifier.NoModifier
            self.setDragMode(QGraphicsView.DragMode.NoDrag)
            return
        start, self._drag = self._drag, None
        if start is None:
            return
        at = self.mapToScene(event.position().toPoint())
        if self._work is not None:
            work, self._work = self._work, None
            self.session.stroke(self.session.active, work)
        elif self.tool == "box":
            self.session.set_box(min(start.x(), at.x()), min(start.y(), at.y()), max(start.x(), at.x()),
                                 max(start.y(), at.y()))  # fmt: skip
        elif self.tool == "move" and (layer := self.session.doc.get(self.session.active)) is not None:
            dx, dy = round(at.x() - start.x()), round(at.y() - start.y())
            if dx or dy:
                self.session.set_layer(layer.id, x=layer.x + dx, y=layer.y + dy)

    def _paint_to(self, at: QPointF) -> None:
        """A dab of the brush (or the eraser) from the last point to ``at`` on the working picture."""
        layer = self.session.doc.get(self.session.active)
        if layer is None or self._work is None:
            return
        last = self._last
        painter = QPainter(self._work)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        if self.tool == "eraser":
            painter.setCompositionMode(QPainter.CompositionMode.CompositionMode_Clear)
        colour = QColor("white") if layer.kind in ("mask", "region") else self.colour
        painter.setPen(QPen(colour, self.size, Qt.PenStyle.SolidLine, Qt.PenCapStyle.RoundCap,
                            Qt.PenJoinStyle.RoundJoin))  # fmt: skip
        here = at - QPointF(layer.x, layer.y)
        painter.drawLine(last if last is not None else here, here)
        painter.end()
        self._last = here
        self._items[layer.id].setPixmap(QPixmap.fromImage(self._work))
