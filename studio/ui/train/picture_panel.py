"""Beside the Fine-tune room's pictures: *what training sees* of the selected one — its bucket's crop (click to move
it), its mask shaded over the background — and the tools to centre the crop, paint the mask or select the subject."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget

from studio.core.train.dataset_masks import mask_path
from studio.ui.train.finetune_widgets import FocusView
from studio.ui.train.mask_tools import MaskTools
from studio.viewmodels.train_session import TrainSession


class PicturePanel(QWidget):
    def __init__(self, session: TrainSession, row: Callable[[], int], resolution: Callable[[], int],
                 parent: QWidget | None = None):  # fmt: skip
        super().__init__(parent)
        self.session, self.row, self.resolution = session, row, resolution
        lay = QVBoxLayout(self)
        lay.setContentsMargins(4, 0, 0, 0)
        sees = QLabel("What training sees (click to move the crop)")
        sees.setWordWrap(True)  # a narrow window gives the captions the room, not this title
        lay.addWidget(sees)
        self.focus_view = FocusView()
        self.focus_view.focusChanged.connect(self._focus_changed)
        lay.addWidget(self.focus_view, 1)
        self.mask_tools = MaskTools(session, row, lambda: self._focus_changed(None))
        lay.addWidget(self.mask_tools)
        session.masks.changed.connect(lambda r, _text: r == self.row() and self._show_picture(r))

    def show_row(self, row: int) -> None:
        self._show_picture(row)
        self.mask_tools.show_row(row)

    def _show_picture(self, row: int) -> None:
        ds = self.session.dataset
        if 0 <= row < len(ds.images):
            img = ds.images[row]
            mask = mask_path(ds, img)
            self.focus_view.show_picture(str(ds.path(img)), img.focus, self.resolution(),
                                         str(mask) if mask is not None else None)  # fmt: skip
        else:
            self.focus_view.show_picture(None, None, self.resolution())

    def _focus_changed(self, focus: tuple[float, float] | None) -> None:
        row = self.row()
        if 0 <= row < len(self.session.dataset.images):
            self.session.set_focus(row, focus)
            self.show_row(row)
