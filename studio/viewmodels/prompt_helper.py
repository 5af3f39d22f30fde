"""A language model and a captioner helping with the prompt: *Enhance prompt* (an idea → a detailed prompt, on the
Writer's engine), the Writer's *Illustrate* (a passage → a prompt, the same step) and *Describe this image* (a
captioner's description). Each runs as a queued job; the result is proposed, never used unseen."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, Signal

from studio.core.image.prompt_expansion import SETTINGS, clean_expansion, expansion_prompt
from studio.core.jobs import random_seed
from studio.core.jobs.events import Failed, Finished, Token
from studio.core.jobs.rooms import Room
from studio.core.text.recipe import freeze_text
from studio.core.train.train_specs import CaptionsMade, CaptionSpec
from studio.viewmodels.bridge import EventBridge, UiEvent
from studio.viewmodels.job_queue import JobQueue


class PromptHelper(QObject):
    proposed = Signal(
        str, str, str
    )  # (what it came from, the proposed prompt, "enhance" | "illustrate" | "describe")
    failed = Signal(str)  # one sentence
    busyChanged = Signal(bool)

    def __init__(
        self,
        queue: JobQueue,
        bridge: EventBridge,
        text_values: Callable[[], dict[str, Any]],
        captioners: Callable[[], list[str]] = lambda: [],
        parent: QObject | None = None,
    ):
        super().__init__(parent)
        self._queue = queue
        self._text_values = text_values  # the Writer's model, engine and weights
        self._captioners = captioners
        self._job: str | None = None
        self._source = ("", "")
        self._pieces: list[str] = []
        bridge.arrived.connect(self._on_event)

    @property
    def busy(self) -> bool:
        return self._job is not None

    def expand(self, idea: str, family: str = "", why: str = "enhance") -> str | None:
        """Queue the expansion of ``idea`` for an image model of ``family``; the job id, or None (said)."""
        if self.busy:
            self.failed.emit("The prompt helper is still writing the last one.")
            return None
        if not idea.strip():
            self.failed.emit("Write an idea first: a few words of what the picture should show.")
            return None
        values = {k: v for k, v in self._text_values().items() if k in ("model", "engine", "quantize")}
        frozen = freeze_text({**values, **SETTINGS}, expansion_prompt(idea, family), seed=random_seed)
        if isinstance(frozen, dict):
            self.failed.emit("The Writer's model cannot write the prompt: " + " ".join(frozen.values()))
            return None
        return self._start(frozen, idea, why)

    def describe(self, image: str) -> str | None:
        """Queue a captioner's description of ``image``; the job id, or None (said: which model to get)."""
        if self.busy:
            self.failed.emit("The prompt helper is still busy with the last one.")
            return None
        models = self._captioners()
        if not models:
            self.failed.emit("Describing a picture needs a captioning model (BLIP, GIT, Florence…): download one "
                             "in the Models room (Download… ▸ captioners).")  # fmt: skip
            return None
        return self._start(
            CaptionSpec(dataset="", model=models[0], image=image), Path(image).name, "describe"
        )

    def _start(self, spec: Any, source: str, why: str) -> str:
        self._pieces, self._source = [], (source, why)
        self._job = self._queue.enqueue(spec, Room.IMAGE)  # a prompt for the Image room, whoever asked
        self.busyChanged.emit(True)
        return self._job

    def _on_event(self, ui: UiEvent) -> None:
        e = ui.event
        if self._job is None or e.job_id != self._job:
            return
        if isinstance(e, Token):
            self._pieces.append(e.text)
        elif isinstance(e, CaptionsMade) and e.captions:
            self._pieces = [e.captions[0][1]]
        elif isinstance(e, Finished | Failed):
            self._job = None
            self.busyChanged.emit(False)
            if isinstance(e, Failed):
                self.failed.emit(e.error.user_message if e.error else "The prompt helper failed.")
                return
            source, why = self._source
            text = clean_expansion("".join(self._pieces)) if why != "describe" else "".join(self._pieces)
            if not text:
                self.failed.emit(
                    "The model wrote no prompt; try again, or choose another model in the Writer."
                )
                return
            self.proposed.emit(source, text, why)
