"""The Fine-tune room's state: the dataset being built, the run's settings, and the live run (loss curve, step,
ETA, samples, checkpoints), on the same queue as every other job."""

from __future__ import annotations

import contextlib
import threading
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, Qt, Signal

from studio.core.dataset import Dataset
from studio.core.events import Cancelled, Failed, Finished
from studio.core.train_specs import (
    CheckpointSaved,
    LossCurve,
    SamplesSaved,
    TrainDone,
    TrainSpec,
    TrainStep,
    run_state,
    validate_train,
    with_preset,
)
from studio.viewmodels.bridge import EventBridge, UiEvent
from studio.viewmodels.job_queue import JobQueue


class TrainSession(QObject):
    datasetChanged = Signal()
    importing = Signal(bool)  # pictures are being copied and checked (off the GUI thread)
    _imported = Signal()
    stepped = Signal(int, int, float, str)  # step, total, loss, "ETA" in words
    samplesReady = Signal(str)  # a samples strip (PNG path)
    checkpointSaved = Signal(int, str)
    finished = Signal(object)  # TrainDone
    failed = Signal(str)
    stopped = Signal(str)  # "cancelled" | "failed" | "done"
    running = Signal(bool)

    def __init__(self, queue: JobQueue, bridge: EventBridge, training_dir: Path, loras_dir: Path,
                 default_base: str = "", parent: QObject | None = None):
        super().__init__(parent)
        self.queue = queue
        self.training_dir = Path(training_dir)
        self.loras_dir = Path(loras_dir)  # where finished LoRAs go (the models folder's loras/)
        self.dataset = Dataset.open(self.training_dir / "datasets" / "default")
        self.preset = "person"
        self.base = default_base
        self.settings: dict[str, Any] = {"steps": 1500, "rank": 16, "lr_unet": 1e-4, "resolution": 512,
                                         "train_text_encoder": True}
        self.curve = LossCurve()
        self.job: str | None = None
        self.run_dir: Path | None = None
        self.last: TrainDone | None = None
        self._began = 0.0
        self.busy_importing = False
        self._imported.connect(self._import_done, Qt.ConnectionType.QueuedConnection)
        bridge.event.connect(self._on_event)

    # -- dataset -------------------------------------------------------------------------------------------------
    def add_pictures(self, paths: list[str]) -> bool:
        """Copy and check pictures in the background (decoding and writing large photos takes seconds);
        ``importing`` says when it starts and ends, ``datasetChanged`` when the grid can show them."""
        if self.busy_importing:
            return False
        self.busy_importing = True
        self.importing.emit(True)

        def work() -> None:
            try:
                self.dataset.add_files([Path(p) for p in paths])
            finally:
                with contextlib.suppress(RuntimeError):  # the window closed meanwhile
                    self._imported.emit()

        threading.Thread(target=work, name="studio-dataset-import", daemon=True).start()
        return True

    def _import_done(self) -> None:
        self.busy_importing = False
        self.importing.emit(False)
        self.datasetChanged.emit()

    def set_caption(self, index: int, caption: str) -> None:
        self.dataset.images[index].caption = caption
        self.dataset.save()

    def set_keep(self, index: int, keep: bool) -> None:
        self.dataset.images[index].keep = keep
        self.dataset.save()
        self.datasetChanged.emit()

    def remove(self, index: int) -> None:
        self.dataset.remove(self.dataset.images[index])
        self.datasetChanged.emit()

    def set_words(self, trigger: str, class_word: str) -> None:
        self.dataset.trigger, self.dataset.class_word = trigger.strip(), class_word.strip()
        self.dataset.save()

    def replace_in_captions(self, find: str, new: str) -> int:
        n = self.dataset.replace_in_captions(find, new)
        self.datasetChanged.emit()
        return n

    # -- run -----------------------------------------------------------------------------------------------------
    def interrupted_run(self) -> Path | None:
        """A run that stopped without finishing (killed, crashed, power cut): offer to resume it."""
        runs = sorted((self.training_dir / "runs").glob("*/status.json"), key=lambda p: p.stat().st_mtime)
        if not runs or self.job:
            return None
        newest = runs[-1].parent
        if run_state(newest).get("status") == "running" and not _alive(newest / "trainer.pid"):
            return newest
        return None

    def build_spec(self, name: str | None = None) -> TrainSpec | str:
        """The run to start, or why it cannot start (one sentence)."""
        if problems := self.dataset.problems():
            return problems[0]
        if not self.base:
            return "Choose a base model (an SD 1.x or SDXL checkpoint) to train on."
        name = name or f"{self.dataset.trigger}-{time.strftime('%Y%m%d-%H%M%S')}"
        run = self.training_dir / "runs" / name
        spec = with_preset(TrainSpec(dataset=str(self.dataset.folder), base=self.base,
                                     out=str(self.loras_dir / f"{name}.safetensors"),
                                     run_dir=str(run), trigger=self.dataset.trigger,
                                     class_word=self.dataset.class_word), self.preset)
        s = self.settings
        spec = replace(spec, steps=int(s["steps"]), rank=int(s["rank"]), alpha=float(s["rank"]),
                       lr_unet=float(s["lr_unet"]), resolution=int(s["resolution"]),
                       train_text_encoder=bool(s["train_text_encoder"]),
                       sample_every=max(1, min(250, int(s["steps"]) // 6)),
                       checkpoint_every=max(1, min(250, int(s["steps"]) // 4)))
        if problems := validate_train(spec):
            return next(iter(problems.values()))
        return spec

    def start(self, spec: TrainSpec | None = None) -> str | None:
        """Queue the run; returns an error sentence instead when it cannot start."""
        built = spec or self.build_spec()
        if isinstance(built, str):
            return built
        self.curve = LossCurve()
        self.run_dir = Path(built.run_dir)
        self.job = self.queue.submit(built)
        self._began = time.monotonic()
        self.running.emit(True)
        return None

    def resume(self, run: Path) -> str | None:
        try:
            spec = TrainSpec.from_json((run / "spec.json").read_text("utf-8"))
        except (OSError, ValueError):
            return f"{run} cannot be resumed: its settings are missing."
        return self.start(spec)

    def cancel(self) -> None:
        if self.job:
            self.queue.cancel(self.job)

    def _on_event(self, ui: UiEvent) -> None:
        e = ui.event
        if e.job_id != self.job or not self.job:
            return
        if isinstance(e, TrainStep):
            self.curve.add(e.step, e.loss)
            eta = (e.total - e.step) * e.seconds / e.step if e.step and e.seconds else 0.0
            self.stepped.emit(e.step, e.total, e.loss, _words(eta))
        elif isinstance(e, SamplesSaved) and e.paths:
            self.samplesReady.emit(e.paths[0])
        elif isinstance(e, CheckpointSaved):
            self.checkpointSaved.emit(e.step, e.path)
        elif isinstance(e, TrainDone):
            self.last = e
            self.finished.emit(e)
        elif isinstance(e, (Finished, Failed, Cancelled)):
            self.job = None
            self.running.emit(False)
            if isinstance(e, Failed):
                self.failed.emit(e.error.user_message if e.error else "Training failed.")
            self.stopped.emit({Finished: "done", Failed: "failed", Cancelled: "cancelled"}[type(e)])


def _alive(pid_file: Path) -> bool:
    import os

    try:
        os.kill(int(pid_file.read_text()), 0)
        return True
    except (OSError, ValueError):
        return False


def _words(seconds: float) -> str:
    if seconds <= 0:
        return ""
    s = int(seconds)
    return f"{s // 60} min {s % 60} s left" if s >= 60 else f"{s} s left"
