"""The Canvas room's layers: topmost first, each with its visibility box and its name (double-click to rename);
buttons to add a paint or a mask layer, remove, raise and lower; the active layer's opacity and scale."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QDoubleSpinBox,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QSlider,
    QVBoxLayout,
    QWidget,
)

from studio.ui.common.theme import icon
from studio.ui.common.theme import tool_button as _tool
from studio.viewmodels.canvas_session import CanvasSession

KIND_ICONS = {
    "paint": "brush",
    "image": "image",
    "generated": "generate",
    "mask": "paint",
    "control": "fit",
    "region": "box",
}
KIND_WORDS = {
    "paint": "paint",
    "image": "image",
    "generated": "generated",
    "mask": "mask",
    "control": "control",
}


class LayersPanel(QWidget):
    def __init__(self, session: CanvasSession):
        super().__init__()
        self.session = session
        column = QVBoxLayout(self)
        column.setContentsMargins(4, 4, 4, 4)
        self.list = QListWidget()
        self.list.setObjectName("canvas-layers")
        self.list.currentItemChanged.connect(self._picked)
        self.list.itemChanged.connect(self._edited)
        column.addWidget(self.list, 1)
        buttons = QHBoxLayout()
        for name, tip, action in (
            ("plus", "Add a paint layer", lambda: session.add_layer("paint")),
            ("image", "Add a picture as a layer…", self._import_picture),
            (
                "paint",
                "Add a mask layer (paint where the next picture repaints)",
                lambda: session.add_layer("mask"),
            ),
            (
                "box",
                "Add a region layer: paint where it is, and name it with what goes there (its opacity is its "
                "weight)",
                lambda: session.add_layer("region"),
            ),
            (
                "fit",
                "Add a control layer: its picture steers the Image room's ControlNet units",
                lambda: session.add_layer("control"),
            ),
            ("up", "Raise the layer", lambda: session.move_layer(session.active, +1)),
            ("down", "Lower the layer", lambda: session.move_layer(session.active, -1)),
            ("trash", "Remove the layer", lambda: session.remove_layer(session.active)),
            (
                "select",
                "Remove the layer's background (Segment Anything; ViTMatte's edges where present)",
                lambda: session.selection.remove_background(session.active),
            ),
        ):
            button = _tool(name, tip)
            button.clicked.connect(action)
            buttons.addWidget(button)
        buttons.addStretch(1)
        column.addLayout(buttons)
        row = QHBoxLayout()
        row.addWidget(QLabel("Opacity"))
        self.opacity = QSlider(Qt.Orientation.Horizontal)
        self.opacity.setRange(0, 100)
        self.opacity.sliderReleased.connect(
            lambda: session.set_layer(session.active, opacity=self.opacity.value() / 100)
        )
        row.addWidget(self.opacity, 1)
        column.addLayout(row)
        scale_row = QHBoxLayout()
        scale_row.addWidget(QLabel("Scale by"))
        self.scale = QDoubleSpinBox()
        self.scale.setRange(0.1, 8.0)
        self.scale.setSingleStep(0.25)
        self.scale.setValue(1.0)
        self.scale.setToolTip("Resize the active layer by this factor (Apply)")
        scale_row.addWidget(self.scale)
        apply = _tool("use", "Resize the active layer by the factor")
        apply.clicked.connect(lambda: session.scale_layer(session.active, self.scale.value()))
        scale_row.addWidget(apply)
        column.addLayout(scale_row)
        session.changed.connect(self.refresh)
        session.activeChanged.connect(lambda _id: self.refresh())
        self.refresh()

    def _import_picture(self) -> None:
        from PySide6.QtWidgets import QFileDialog

        path, _ = QFileDialog.getOpenFileName(self, "Add a picture as a layer", "",
                                              "Images (*.png *.jpg *.jpeg *.webp *.bmp)")  # fmt: skip
        if path:
            self.session.files.import_picture(path)

    def refresh(self) -> None:
        self.list.blockSignals(True)
        self.list.clear()
        for layer in reversed(self.session.doc.layers):
            item = QListWidgetItem(icon(KIND_ICONS.get(layer.kind, "image")), layer.name)
            item.setData(Qt.ItemDataRole.UserRole, layer.id)
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsEditable | Qt.ItemFlag.ItemIsUserCheckable)
            item.setCheckState(Qt.CheckState.Checked if layer.visible else Qt.CheckState.Unchecked)
            item.setToolTip(f"{KIND_WORDS.get(layer.kind, layer.kind)} layer at {layer.x},{layer.y}, "
                            f"{layer.image.width}×{layer.image.height}" + (" — has its recipe" if layer.recipe else ""))  # fmt: skip
            self.list.addItem(item)
            if layer.id == self.session.active:
                self.list.setCurrentItem(item)
        active = self.session.doc.get(self.session.active)
        self.opacity.setValue(round((active.opacity if active else 1.0) * 100))
        self.list.blockSignals(False)

    def _picked(self, item: QListWidgetItem | None) -> None:
        if item is not None:
            self.session.set_active(item.data(Qt.ItemDataRole.UserRole))

    def _edited(self, item: QListWidgetItem) -> None:
        layer = self.session.doc.get(item.data(Qt.ItemDataRole.UserRole))
        if layer is None:
            return
        visible = item.checkState() == Qt.CheckState.Checked
        name = item.text().strip() or layer.name
        if visible != layer.visible or name != layer.name:
            self.session.set_layer(layer.id, visible=visible, name=name[:200])
