"""Blind comparison: did tuning help? The same passage is continued twice from one seed — by the model alone and
with the LoRA — shown as A and B in an order the writer does not know; the writer picks the better, and the LoRA's
win rate over the picks is the answer, measured rather than assumed."""

from __future__ import annotations

import dataclasses
import random
from typing import Any

from PySide6.QtCore import QObject, Signal

from studio.core.jobs.events import Cancelled, Failed, Finished
from studio.viewmodels.bridge import EventBridge, UiEvent
from studio.viewmodels.job_queue import JobQueue
from studio.viewmodels.writer_session import WriterSession


class BlindComparison(QObject):
    pairReady = Signal(str, str)  # the continuations shown as A and B
    said = Signal(str)

    def __init__(
        self, session: WriterSession, queue: JobQueue, bridge: EventBridge, rng: random.Random | None = None
    ):
        super().__init__(session)
        self.session, self._queue = session, queue
        self._rng = rng or random.SystemRandom()
        self._jobs: dict[str, str] = {}  # job id → "base" | "tuned"
        self._texts: dict[str, str] = {}
        self.order: tuple[str, str] = ("base", "tuned")  # which is A, which is B (hidden from the writer)
        self.picks: list[str] = []  # "base" | "tuned", one per pick
        bridge.arrived.connect(self._on_event)

    @property
    def busy(self) -> bool:
        return bool(self._jobs)

    def start(self, story: str) -> bool:
        """Two continuations of ``story`` — without and with the chosen LoRA — from one seed, order hidden."""
        lora = self.session.value("lora")
        if not lora:
            self.said.emit(
                "Choose a model with a LoRA (BASE + NAME) to compare it blind with the model alone."
            )
            return False
        if self.busy:
            return False
        spec = self.session.build_spec(story)
        if isinstance(spec, dict):
            self.said.emit(" ".join(spec.values()))
            return False
        self._texts = {}
        self.order = ("base", "tuned") if self._rng.random() < 0.5 else ("tuned", "base")
        for side, with_lora in (("base", ""), ("tuned", lora)):
            self._jobs[self._queue.enqueue(dataclasses.replace(spec, lora=with_lora))] = side
        self.said.emit("Writing A and B…")
        return True

    def pick(self, letter: str) -> str:
        """The writer's pick ("A" or "B"); returns the tally in words."""
        if len(self._texts) < 2 or letter not in ("A", "B"):
            return self.tally()
        self.picks.append(self.order[0 if letter == "A" else 1])
        self._texts = {}
        return self.tally()

    def tally(self) -> str:
        n, won = len(self.picks), self.picks.count("tuned")
        if not n:
            return "No picks yet."
        return f"With the LoRA won {won} of {n} ({won / n:.0%}); the model alone {n - won}."

    def _on_event(self, ui: UiEvent) -> None:
        e: Any = ui.event
        side = self._jobs.get(e.job_id)
        if side is None:
            return
        if isinstance(e, Finished):
            del self._jobs[e.job_id]
            self._texts[side] = e.items[0].text if e.items else ""
            if len(self._texts) == 2:
                self.pairReady.emit(self._texts[self.order[0]], self._texts[self.order[1]])
                self.said.emit("Which continues the passage better?")
        elif isinstance(e, Failed | Cancelled):
            for job_id in list(self._jobs):
                self._queue.cancel(job_id)
            self._jobs.clear()
            error = getattr(e, "error", None)
            self.said.emit(error.user_message if error is not None else "Stopped.")
