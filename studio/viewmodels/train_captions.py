"""The Fine-tune room's captioning: a caption job on the queue (sentences or tags), its captions filled in — never
over one the user edited meanwhile — and tags added to or taken from many captions at once."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from studio.core.jobs.events import Cancelled, Event, Failed, Finished
from studio.core.train.caption_tags import add_tag, remove_tag
from studio.core.train.train_specs import CaptionsMade, CaptionSpec

if TYPE_CHECKING:
    from studio.viewmodels.train_session import TrainSession

NO_CAPTIONER = ("No captioning model is installed. In the Models room, press Download… and get “Florence-2 (base)” "
                "(about 0.5 GB) or “BLIP image captioning (base)”, or put a Florence-2/BLIP/GIT folder in your "
                "models folder.")  # fmt: skip


class CaptionJobs:
    def __init__(self, session: TrainSession, captioners: Callable[[], list[str]]):
        self.session = session
        self.captioners = captioners
        self.job: str | None = None
        self._before: dict[str, str] = {}

    def start(self, overwrite: bool, style: str) -> str | None:
        s = self.session
        if self.job:
            return "Captioning is already running."
        models = self.captioners()
        if not models:
            return NO_CAPTIONER
        if not s.dataset.images:
            return "Add pictures first."
        if not overwrite and all(i.caption.strip() for i in s.dataset.images):
            return "Every picture already has a caption; tick “replace mine” to caption them all again."
        s.dataset.save()
        self._before = {img.file: img.caption for img in s.dataset.images}
        self.job = s.queue.enqueue(CaptionSpec(dataset=str(s.dataset.folder), model=models[0], overwrite=overwrite,
                                               style=style))  # fmt: skip
        s.captioning.emit(True)
        return None

    def handle(self, e: Event) -> bool:
        """Take the caption job's events (True when it was one of them)."""
        if not self.job or e.job_id != self.job:
            return False
        if isinstance(e, CaptionsMade):
            self._apply(e)
        elif isinstance(e, (Finished, Failed, Cancelled)):
            self.job = None
            self.session.captioning.emit(False)
            if isinstance(e, Failed):
                self.session.captioned.emit(e.error.user_message if e.error else "Captioning failed.")
        return True

    def _apply(self, e: CaptionsMade) -> None:
        """Fill in what the captioner wrote — never over a caption the user edited while it ran."""
        ds = self.session.dataset
        by_file = {img.file: img for img in ds.images}
        n = 0
        for file, text in e.captions:
            img = by_file.get(file)
            if img is not None and text and img.caption == self._before.get(file):
                img.caption = text
                n += 1
        ds.save()
        self.session.datasetChanged.emit()
        self.session.captioned.emit(
            f"{e.model} captioned {n} picture{'s' if n != 1 else ''}; check and edit them."
        )

    def edit_tags(self, rows: list[int], tag: str, add: bool) -> int:
        """Add a tag to these pictures' captions (or take it away); how many captions changed."""
        ds = self.session.dataset
        n = 0
        for r in rows:
            img = ds.images[r]
            new = add_tag(img.caption, tag) if add else remove_tag(img.caption, tag)
            n += new != img.caption
            img.caption = new
        ds.save()
        self.session.datasetChanged.emit()
        return n
