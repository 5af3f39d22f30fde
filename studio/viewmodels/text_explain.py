"""The Writer's look inside the model: the next-token distribution at the cursor (before and after the sampler
settings), the same start written with different settings side by side, and which earlier tokens a token
attended to. Quick reads go straight to the runner (the queue need not show them); the side-by-side writing is
real generations, queued and cancellable like Continue."""

from __future__ import annotations

import dataclasses
from typing import Any

from PySide6.QtCore import QObject, Signal

from studio.core.jobs.events import Cancelled, Failed, Finished, Token
from studio.core.text.text_explain import TextAttentionSpec, compare_specs, compare_values
from studio.viewmodels.bridge import EventBridge, UiEvent
from studio.viewmodels.job_queue import JobQueue
from studio.viewmodels.writer_session import WriterSession

CANDIDATES = 200  # the sampler settings are applied over this many of the likeliest tokens


class TextExplainer(QObject):
    nextReady = Signal(object)  # [(token text, log-probability)], likeliest first
    compareStarted = Signal(object)  # the columns' labels
    compareToken = Signal(int, str)  # a column, a piece of its text
    compareEnded = Signal(int, str)  # a column, "" when it finished, else why it stopped
    attentionReady = Signal(object)  # a TextAttention
    said = Signal(str)

    def __init__(self, session: WriterSession, queue: JobQueue, bridge: EventBridge, runner: Any):
        super().__init__(session)
        self.session, self._queue, self._runner = session, queue, runner
        self._next_job: str | None = None
        self._attention_job: str | None = None
        self._columns: dict[str, int] = {}  # compare job id → its column
        self.last_seed_note = ""
        bridge.arrived.connect(self._on_event)

    @property
    def comparing(self) -> bool:
        return bool(self._columns)

    # -- asking --------------------------------------------------------------------------------------------------
    def next_token(self, story: str) -> bool:
        """The model's distribution for the token after ``story`` (as it would see it: Memory, Note, Lorebook)."""
        spec = self.session.build_spec(story)
        if isinstance(spec, dict):
            self.said.emit(" ".join(spec.values()))
            return False
        quiet = dataclasses.replace(spec, max_new_tokens=1, temperature=0.0, logprobs=CANDIDATES, stop=())
        self._next_job = self._runner.submit(quiet)
        self.said.emit("Asking the model for its next token…")
        return True

    def compare(self, story: str, field: str, values_text: str) -> bool:
        """The continuation of ``story`` once per value of ``field``, from one seed."""
        if self.session.busy or self.comparing:
            self.said.emit("Wait for the writing under way to end (or stop it).")
            return False
        values, problem = compare_values(field, values_text)
        if problem:
            self.said.emit(problem)
            return False
        specs = compare_specs(self.session.recipe_values(), story, field, values, self.session.context())
        if isinstance(specs, str):
            self.said.emit(specs)
            return False
        self.last_seed_note = (
            f"The same seed ({specs[0].seed}) and settings for each; only {field.replace('_', '-')} changes. "
            f"Up to {specs[0].max_new_tokens} tokens each."
        )
        label = field.replace("_", "-")
        self.compareStarted.emit(
            [f"{label} {v:g}" if isinstance(v, float) else f"{label} {v}" for v in values]
        )
        for column, spec in enumerate(specs):
            self._columns[self._queue.enqueue(spec)] = column
        self.said.emit(f"Writing the same start {len(specs)} times, seed {specs[0].seed}…")
        return True

    def stop_compare(self) -> None:
        for job_id in list(self._columns):
            self._queue.cancel(job_id)

    def attention(self, text: str, position: int) -> bool:
        """Which earlier tokens the token at ``position`` attended to."""
        if self.session.value("engine"):
            self.said.emit(
                "A server does not send its attention weights: choose a model on this machine to see them."
            )
            return False
        spec = TextAttentionSpec(
            str(self.session.value("model")), text, position, self.session.value("quantize")
        )
        self._attention_job = self._runner.submit(spec)
        self.said.emit("Reading the text with the model's attention…")
        return True

    # -- answers -------------------------------------------------------------------------------------------------
    def _on_event(self, ui: UiEvent) -> None:
        e = ui.event
        if e.job_id == self._next_job:
            self._next_answer(e)
        elif e.job_id == self._attention_job:
            if isinstance(e, Finished) and e.items:
                self._attention_job = None
                self.attentionReady.emit(e.items[0])
                self.said.emit("")
            elif isinstance(e, Failed | Cancelled):
                self._attention_job = None
                self.said.emit(_why(e, "Could not read the attention."))
        elif e.job_id in self._columns:
            column = self._columns[e.job_id]
            if isinstance(e, Token):
                self.compareToken.emit(column, e.text)
            elif isinstance(e, Finished | Failed | Cancelled):
                del self._columns[e.job_id]
                self.compareEnded.emit(column, "" if isinstance(e, Finished) else _why(e, "Stopped."))
                if not self._columns:
                    self.said.emit("")

    def _next_answer(self, e: Any) -> None:
        if isinstance(e, Finished):
            self._next_job = None
            probs = getattr(e.items[0], "probs", ()) if e.items else ()
            if not probs:
                self.said.emit("The model returned no probabilities (a server that does not send logprobs?).")
                return
            self.nextReady.emit(list(probs[0].alternatives))
            self.said.emit("")
        elif isinstance(e, Failed | Cancelled):
            self._next_job = None
            self.said.emit(_why(e, "Could not ask the model."))


def _why(e: Any, otherwise: str) -> str:
    if isinstance(e, Cancelled):
        return "Stopped."
    error = getattr(e, "error", None)
    return error.user_message if error is not None else otherwise
