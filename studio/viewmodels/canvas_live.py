"""The Canvas's live painting (Krita AI Diffusion's live mode): a frame of the box after every stroke, image to
image at the live strength, shown in the staging area and never saved. A frame not yet begun when the canvas
changes again is dropped for the newer one; a frame under way finishes and the newest strokes follow."""

from __future__ import annotations

import weakref
from typing import Any

from studio.core.image.detail_job import LiveSpec
from studio.core.jobs.events import Cancelled, Failed, Finished, Preview, Started
from studio.core.jobs.rooms import Room
from studio.viewmodels.bridge import UiEvent


class LivePainting:
    """``canvas``: the CanvasSession (its box's picture, its draft, its queue and its staging area)."""

    def __init__(self, canvas: Any):
        self._canvas = weakref.ref(
            canvas
        )  # no cycle with the session: it is freed on the GUI thread, by count
        self.on, self.strength = False, 0.5
        self.job: str | None = None  # the frame wanted now
        self._started = self._stale = False
        self._recipe: dict[str, Any] = {}

    @property
    def canvas(self) -> Any:
        return self._canvas()

    def set_on(self, on: bool) -> None:
        c = self.canvas
        self.on = on
        c.liveChanged.emit(on)
        if on:
            steps = int(c.generation.value("steps"))
            if steps > 8:
                c.statusChanged.emit(f"Live painting wants a few-step model (LCM, Turbo, Lightning); at {steps} "
                                     "steps a frame takes a while.")  # fmt: skip
            self.want_frame()
        elif self.job is not None:
            c.queue.cancel(self.job)

    def want_frame(self) -> None:
        """A frame of the box as it is now (so the newest strokes are always shown next; the brush never waits)."""
        c = self.canvas
        if not self.on:
            return
        if self.job is not None:
            if self._started:
                self._stale = True
                return
            c.queue.cancel(self.job)
        overrides = c.picture_under_box()
        if not overrides["init_image"]:
            self.job = None
            return
        frozen = c.generation.freeze_with({**overrides, "strength": self.strength, "batch_size": 1,
                                           "batch_count": 1, "details": []})  # fmt: skip
        if isinstance(frozen, dict):
            c.failed.emit(next(iter(frozen.values())))
            self.job = None
            return
        self.job = c.queue.enqueue(LiveSpec(frozen), Room.CANVAS)
        self._started = self._stale = False
        self._recipe = frozen.to_dict()

    def on_event(self, ui: UiEvent) -> None:
        e, c = ui.event, self.canvas
        if isinstance(e, Started):
            self._started = True
        elif isinstance(e, Preview) and ui.image is not None:
            c.stage([(ui.image, self._recipe)])
        elif isinstance(e, Finished | Cancelled | Failed):
            self.job = None
            if isinstance(e, Failed):
                c.failed.emit(e.error.user_message if e.error else "The live frame could not be made.")
            elif self._stale:
                self.want_frame()
