"""The tools under *What training sees*: centre the crop, paint the picture's mask with a brush, or select its
subject — the loss then counts the rest of the picture at the background weight."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import Qt
from PySide6.QtGui import QImage
from PySide6.QtWidgets import (
    QCheckBox,
    QDialog,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSlider,
    QVBoxLayout,
    QWidget,
)

from studio.ui.common.image_canvas import MaskCanvas
from studio.ui.common.theme import fit_size
from studio.viewmodels.train_session import TrainSession


class MaskTools(QWidget):
    def __init__(self, session: TrainSession, row: Callable[[], int], centre: Callable[[], None],
                 parent: QWidget | None = None):  # fmt: skip
        super().__init__(parent)
        self.session, self.row = session, row
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        centre_btn = QPushButton("Centre the crop")
        centre_btn.clicked.connect(centre)
        buttons = QHBoxLayout()
        self.paint_btn = QPushButton("Mask…")
        self.paint_btn.setToolTip(
            "Paint where the subject is: the loss counts the rest at the background weight"
        )
        self.paint_btn.clicked.connect(self.paint)
        self.select_btn = QPushButton("Select the subject")
        self.select_btn.setToolTip("Segment Anything makes the mask: the object at the crop's centre, or what the "
                                   "class word names when a detector is installed")  # fmt: skip
        self.select_btn.clicked.connect(self.select)
        buttons.addWidget(self.paint_btn)
        buttons.addWidget(self.select_btn)
        self.state = QLabel()
        self.state.setWordWrap(True)
        for w in (centre_btn, self.state):
            lay.addWidget(w)
        lay.insertLayout(1, buttons)
        self.dialog: MaskDialog | None = None
        session.masks.changed.connect(lambda _row, text: self.state.setText(text))
        session.masks.loaded.connect(self._loaded)

    def show_row(self, row: int) -> None:
        images = self.session.dataset.images
        has = 0 <= row < len(images) and bool(images[row].mask)
        self.state.setText("This picture has a mask." if has else "")
        for b in (self.paint_btn, self.select_btn):
            b.setEnabled(0 <= row < len(images))

    def select(self) -> None:
        if self.row() >= 0:
            problem = self.session.masks.select_subject(self.row())
            self.state.setText(problem or "Selecting the subject… (it waits for the device like any job)")

    def paint(self) -> None:
        if self.row() >= 0:
            self.session.masks.load(self.row())  # the dialog opens once the picture is read

    def _loaded(self, row: int, picture: QImage, mask: QImage) -> None:
        if picture.isNull():
            self.state.setText("The picture could not be read.")
            return
        self.dialog = MaskDialog(picture, mask, lambda m: self.session.masks.save(row, m), self)
        self.dialog.show()


class MaskDialog(QDialog):
    """The brush: left button paints the subject, *Eraser* takes it away; *Save* keeps the mask."""

    def __init__(self, picture: QImage, mask: QImage, save: Callable[[QImage | None], None],
                 parent: QWidget | None = None):  # fmt: skip
        super().__init__(parent)
        self.setWindowTitle("Mask: paint the subject")
        self.save_to = save
        lay = QVBoxLayout(self)
        hint = QLabel("Paint over the subject; the rest of the picture counts at the background weight.")
        hint.setWordWrap(True)
        lay.addWidget(hint)
        self.canvas = MaskCanvas()
        self.canvas.set_image(picture)
        if not mask.isNull():
            self.canvas.set_mask(mask)
        lay.addWidget(self.canvas, 1)
        row = QHBoxLayout()
        self.size = QSlider(Qt.Orientation.Horizontal)
        self.size.setRange(4, max(8, max(picture.width(), picture.height()) // 2))
        self.size.setValue(max(8, picture.width() // 12))
        self.size.valueChanged.connect(lambda v: setattr(self.canvas, "brush_size", v))
        self.canvas.brush_size = self.size.value()
        self.eraser = QCheckBox("Eraser")
        self.eraser.toggled.connect(lambda on: setattr(self.canvas, "erasing", on))
        clear = QPushButton("Clear")
        clear.clicked.connect(self.canvas.clear_mask)
        row.addWidget(QLabel("Brush"))
        row.addWidget(self.size, 1)
        row.addWidget(self.eraser)
        row.addWidget(clear)
        lay.addLayout(row)
        buttons = QHBoxLayout()
        remove = QPushButton("No mask")
        remove.setToolTip("Train on the whole picture")
        remove.clicked.connect(lambda: self._done(None))
        keep = QPushButton("Save")
        keep.setDefault(True)
        keep.clicked.connect(lambda: self._done(self.canvas.mask()))
        cancel = QPushButton("Cancel")
        cancel.clicked.connect(self.reject)
        for b in (remove, cancel, keep):
            buttons.addWidget(b)
        lay.addLayout(buttons)
        fit_size(self, 720, 640)

    def _done(self, mask: QImage | None) -> None:
        self.save_to(mask)
        self.accept()
