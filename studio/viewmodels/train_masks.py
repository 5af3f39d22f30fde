"""Masks in the Fine-tune room: painted with a brush, or made by selecting the subject (Segment Anything at the
picture's focus point — or around what the class word names, when a detector is installed); saved beside the dataset's
pictures, read and written off the GUI thread."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QImage

from studio.core.jobs.events import Cancelled, Event, Failed, Finished
from studio.core.train.dataset_masks import mask_path, set_mask
from studio.viewmodels.background import in_background

if TYPE_CHECKING:
    from studio.viewmodels.train_session import TrainSession


def to_pil(image: QImage) -> Any:
    """A painted mask (any QImage) as a grey PIL picture."""
    from PIL import Image

    grey = image.convertToFormat(QImage.Format.Format_Grayscale8)
    data = bytes(grey.constBits())[: grey.bytesPerLine() * grey.height()]
    return Image.frombuffer(
        "L", (grey.width(), grey.height()), data, "raw", "L", grey.bytesPerLine(), 1
    ).copy()


class MaskJobs(QObject):
    changed = Signal(int, str)  # picture's row, what happened in words
    loaded = Signal(int, QImage, QImage)  # row, the picture, its mask (null: none yet)

    def __init__(
        self, session: TrainSession, models: Callable[[str], list[Path]], parent: QObject | None = None
    ):
        super().__init__(parent)
        self.session = session
        self.models = models  # kind ("segmenter", "detector") → the library's folders of it
        self.jobs: dict[str, int] = {}  # selection job → row

    def load(self, row: int) -> None:
        """The picture and its mask for the brush, read in the background (``loaded``)."""
        ds = self.session.dataset
        img = ds.images[row]
        picture, mask = ds.path(img), mask_path(ds, img)

        def read() -> tuple[QImage, QImage]:
            return QImage(str(picture)), QImage(
                str(mask)
            ) if mask is not None and mask.is_file() else QImage()

        in_background(self, read, lambda got: self.loaded.emit(row, *got), name="studio-mask-load")

    def save(self, row: int, mask: QImage | None) -> None:
        """Keep a painted mask (None: take the picture's away), written in the background."""
        ds = self.session.dataset
        img = ds.images[row]
        picture = None if mask is None else to_pil(mask)
        word = "saved" if mask is not None else "removed"
        in_background(self, lambda: set_mask(ds, img, picture), lambda _r: self.changed.emit(row, f"Mask {word}."),
                      name="studio-mask-save", on_error=lambda e: self.changed.emit(row, f"The mask could not be "
                                                                                          f"saved: {e}"))  # fmt: skip

    def select_subject(self, row: int) -> str | None:
        """Queue Segment Anything on the picture: the subject under its focus point (or what the class word names,
        when a detector is installed); why it cannot, in a sentence."""
        from studio.core.image.selection import DETECTOR, SEGMENTER, SelectionDraft, freeze_selection

        ds = self.session.dataset
        img = ds.images[row]
        fx, fy = img.focus or (0.5, 0.5)
        words = ds.class_word.strip() if self.models(DETECTOR) else ""
        (ds.folder / "masks").mkdir(parents=True, exist_ok=True)
        draft = SelectionDraft(str(ds.path(img)), str(ds.folder / "masks" / img.file),
                               points=[] if words else [f"{fx * img.width:.0f},{fy * img.height:.0f}"], text=words)  # fmt: skip
        spec = freeze_selection(draft, {k: self.models(k) for k in (SEGMENTER, DETECTOR)},
                                lambda _p: (img.width, img.height))  # fmt: skip
        if isinstance(spec, dict):
            return next(iter(spec.values()))
        self.jobs[self.session.queue.enqueue(spec)] = row
        return None

    def handle(self, e: Event) -> bool:
        from studio.core.image.selection import SelectionMade

        row = self.jobs.get(e.job_id or "")
        if row is None:
            return False
        ds = self.session.dataset
        if isinstance(e, SelectionMade) and row < len(ds.images):
            ds.images[row].mask = Path(e.path).name
            ds.save()
            self.changed.emit(row, f"The subject is selected ({e.share:.0%} of the picture); the rest counts "
                                   f"{self.session.value('mask_floor'):.0%}.")  # fmt: skip
        elif isinstance(e, (Finished, Failed, Cancelled)):
            self.jobs.pop(e.job_id or "", None)
            if isinstance(e, Failed):
                self.changed.emit(row, e.error.user_message if e.error else "Selecting the subject failed.")
        return True
