"""Teaching a text model from the Writer: the voice of chosen documents, or the choices recorded in chosen stories —
a text LoRA trained on the queue (the trainer's own process), its loss followed live, its result in the model picker."""

from __future__ import annotations

import contextlib
import time
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, Signal

from studio.core.jobs.events import Cancelled, Failed, Finished, Note
from studio.core.models.memory_plan import system_memory
from studio.core.text.text_memory import parameters_of
from studio.core.train.text_train_plan import PRESETS, plan, preset_for
from studio.core.train.text_train_specs import TextTrainSpec, validate_text_train
from studio.core.train.train_specs import SamplesSaved, TrainDone, TrainStep
from studio.viewmodels.bridge import EventBridge, UiEvent
from studio.viewmodels.job_queue import JobQueue


class TextTrainSession(QObject):
    stepped = Signal(int, int, float)  # step, total, loss
    said = Signal(str)
    finished = Signal(str)  # the LoRA's path
    sampled = Signal(str)  # a continuation written at a checkpoint (the run's own words, so far)
    running = Signal(bool)

    def __init__(self, queue: JobQueue, bridge: EventBridge, loras_dir: Path, runs_dir: Path):
        super().__init__()
        self.queue, self.loras_dir, self.runs_dir = queue, loras_dir, runs_dir
        self.job: str | None = None
        bridge.arrived.connect(self._on_event)

    def build(self, base: str, docs: list[str], name: str, mode: str = "voice", on: str = "",
              overrides: dict[str, Any] | None = None) -> TextTrainSpec | str:  # fmt: skip
        """The run (``mode`` "voice": learn from the documents' text; "choices": from the choices recorded in
        them), with the preset for the base model's size; or why it cannot run."""
        name = "".join(c if c.isalnum() or c in "-_" else "-" for c in name.strip()) or "my-voice"
        params = parameters_of(Path(base)) if Path(base).is_dir() else 0
        values = {**PRESETS[preset_for(params)], **(overrides or {})}
        spec = TextTrainSpec(
            base=base,
            docs=tuple(docs) if mode == "voice" else (),
            preferences=tuple(docs) if mode == "choices" else (),
            on=on if mode == "choices" else "",
            out=str(self.loras_dir / f"{name}.safetensors"),
            run_dir=str(self.runs_dir / f"{name}-{time.strftime('%Y%m%d-%H%M%S')}"),
            alpha=float(2 * values["rank"]),
            **values,
        )
        if problems := validate_text_train(spec):
            return next(iter(problems.values()))
        return spec

    def estimate(self, spec: TextTrainSpec) -> tuple[str, str]:
        params = parameters_of(Path(spec.base)) if Path(spec.base).is_dir() else 0
        return plan(params, spec.steps, spec.batch_size, spec.seq_len, system_memory()[1])

    def start(self, spec: TextTrainSpec) -> str:
        words, refusal = self.estimate(spec)
        if refusal:
            return refusal
        self.job = self.queue.enqueue(spec)
        self.running.emit(True)
        return f"Queued. {words}"

    def cancel(self) -> None:
        if self.job is not None:
            self.queue.cancel(self.job)

    def _on_event(self, ui: UiEvent) -> None:
        e = ui.event
        if self.job is None or e.job_id != self.job:
            return
        if isinstance(e, TrainStep):
            self.stepped.emit(e.step, e.total, e.loss)
        elif isinstance(e, Note):
            self.said.emit(e.text)
        elif isinstance(e, SamplesSaved) and e.paths:
            with contextlib.suppress(OSError):
                self.sampled.emit(Path(e.paths[0]).read_text("utf-8")[:2000])
        elif isinstance(e, TrainDone):
            self.finished.emit(e.path)
        elif isinstance(e, Finished | Failed | Cancelled):
            self.job = None
            self.running.emit(False)
            if isinstance(e, Failed):
                self.said.emit(e.error.user_message if e.error else "Training failed.")
            elif isinstance(e, Cancelled):
                self.said.emit("Cancelled; the last checkpoint is kept (studio train-text --resume RUN_DIR).")
