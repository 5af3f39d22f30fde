"""The Fine-tune room's state: the dataset being built, the run's settings, and the live run (loss curve, step,
ETA, samples, checkpoints), on the same queue as every other job."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, Qt, Signal

from studio.core.dataset import Dataset
from studio.core.downloads import human_duration
from studio.core.events import Cancelled, Failed, Finished
from studio.core.memory_plan import GB, DeviceInfo
from studio.core.train_plan import base_profile, duration_words, estimate_seconds, memory_needed
from studio.core.train_specs import (
    CaptionsMade,
    CaptionSpec,
    CheckpointSaved,
    LossCurve,
    SamplesSaved,
    TrainDone,
    TrainSpec,
    TrainStep,
    read_run_spec,
    run_state,
    validate_train,
    with_preset,
)
from studio.core.untrusted import Unreadable
from studio.viewmodels.bridge import EventBridge, UiEvent
from studio.viewmodels.job_queue import JobQueue

# The room's "More settings", with the values a run gets when they are not touched.
ADVANCED: dict[str, Any] = {
    "epochs": 0,
    "batch_size": 1,
    "lr_text": 5e-5,
    "optimizer": "adamw",
    "schedule": "constant_with_warmup",
    "mixed_precision": "auto",
    "gradient_checkpointing": False,
    "seed": 0,
}


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
    captioning = Signal(bool)
    captioned = Signal(str)  # what happened, in a sentence

    def __init__(
        self,
        queue: JobQueue,
        bridge: EventBridge,
        training_dir: Path,
        loras_dir: Path,
        default_base: str = "",
        parent: QObject | None = None,
        captioners: Callable[[], list[str]] = lambda: [],
        device: Callable[[], DeviceInfo | None] = lambda: None,
    ):
        super().__init__(parent)
        self.queue = queue
        self.training_dir = Path(training_dir)
        self.loras_dir = Path(loras_dir)  # where finished LoRAs go (the models folder's loras/)
        self.dataset = Dataset.open(self.training_dir / "datasets" / "default")
        self.preset = "person"
        self.base = default_base
        self.settings: dict[str, Any] = {
            "steps": 1500,
            "rank": 16,
            "lr_unet": 1e-4,
            "resolution": 512,
            "train_text_encoder": True,
            "use_class": False,
            "class_images": 100,
            "prior_weight": 1.0,
            "class_dir": "",
            **ADVANCED,
        }
        self.captioners = captioners
        self.device = device
        self.caption_job: str | None = None
        self._before_captioning: dict[str, str] = {}
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

    def set_focus(self, index: int, focus: tuple[float, float] | None) -> None:
        """The part of the picture to keep when it is cropped to its bucket (0..1 each way; None: the centre)."""
        img = self.dataset.images[index]
        img.focus = None if focus is None else (min(1.0, max(0.0, focus[0])), min(1.0, max(0.0, focus[1])))
        self.dataset.save()

    def caption(self, overwrite: bool = False) -> str | None:
        """Caption the pictures (those without a caption, or all) with the first captioning model installed;
        returns why it cannot, in a sentence."""
        if self.caption_job:
            return "Captioning is already running."
        models = self.captioners()
        if not models:
            return (
                "No captioning model is installed. In the Models room, press Download… and get “BLIP image "
                "captioning (base)” (about 1 GB), or put a BLIP/GIT folder in your models folder."
            )
        if not self.dataset.images:
            return "Add pictures first."
        if not overwrite and all(i.caption.strip() for i in self.dataset.images):
            return "Every picture already has a caption; tick “replace mine” to caption them all again."
        self.dataset.save()
        self._before_captioning = {img.file: img.caption for img in self.dataset.images}
        self.caption_job = self.queue.submit(
            CaptionSpec(dataset=str(self.dataset.folder), model=models[0], overwrite=overwrite)
        )
        self.captioning.emit(True)
        return None

    def _apply_captions(self, e: CaptionsMade) -> None:
        """Fill in what the captioner wrote — never over a caption the user edited while it ran."""
        by_file = {img.file: img for img in self.dataset.images}
        n = 0
        for file, text in e.captions:
            img = by_file.get(file)
            if img is not None and text and img.caption == self._before_captioning.get(file):
                img.caption = text
                n += 1
        self.dataset.save()
        self.datasetChanged.emit()
        self.captioned.emit(f"{e.model} captioned {n} picture{'s' if n != 1 else ''}; check and edit them.")

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
        spec = with_preset(
            TrainSpec(
                dataset=str(self.dataset.folder),
                base=self.base,
                out=str(self.loras_dir / f"{name}.safetensors"),
                run_dir=str(run),
                trigger=self.dataset.trigger,
                class_word=self.dataset.class_word,
            ),
            self.preset,
        )
        s = self.settings
        spec = replace(
            spec,
            steps=int(s["steps"]),
            rank=int(s["rank"]),
            alpha=float(s["rank"]),
            lr_unet=float(s["lr_unet"]),
            resolution=int(s["resolution"]),
            train_text_encoder=bool(s["train_text_encoder"]),
            sample_every=max(1, min(250, int(s["steps"]) // 6)),
            checkpoint_every=max(1, min(250, int(s["steps"]) // 4)),
        )
        spec = replace(spec, **{k: type(v)(s[k]) for k, v in ADVANCED.items()})
        if s["use_class"]:
            spec = replace(
                spec,
                class_dir=self.class_dir(),
                class_images=int(s["class_images"]),
                prior_weight=float(s["prior_weight"]),
            )
        if problems := validate_train(spec):
            return next(iter(problems.values()))
        return spec

    def class_dir(self) -> str:
        """Where the class pictures are: the user's folder, else one per class word that Studio fills."""
        if self.settings["class_dir"]:
            return str(self.settings["class_dir"])
        word = "".join(c if c.isalnum() else "-" for c in self.dataset.class_word.strip().lower()) or "class"
        return str(self.training_dir / "class" / word)

    def set_base(self, base: str) -> int:
        """Choose the base model; returns its native training resolution (64 px for the built-in demo)."""
        self.base = base
        return base_profile(base).resolution

    def estimate(self) -> str:
        """The pre-flight estimate in words: time and memory on the device, or why it cannot run."""
        spec = self.build_spec("estimate")
        if isinstance(spec, str):
            return ""
        info = self.device()
        device = info.device if info else "cpu"
        profile = base_profile(spec.base)
        family = profile.family or "sd1"
        seconds, how = estimate_seconds(spec, family, device, profile.unet_params, self.training_dir / "runs")
        needed, refusal = memory_needed(spec, family, device, info.free if info else None, profile.params)
        if refusal:
            return refusal
        return f"About {duration_words(seconds)} on {info.name if info else 'CPU'}, about {needed / GB:.1f} GB ({how})."

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
        spec = read_run_spec(run)
        if isinstance(spec, Unreadable):
            return f"{spec.why}."
        return self.start(spec)

    def cancel(self) -> None:
        if self.job:
            self.queue.cancel(self.job)

    def _on_event(self, ui: UiEvent) -> None:
        e = ui.event
        if self.caption_job and e.job_id == self.caption_job:
            if isinstance(e, CaptionsMade):
                self._apply_captions(e)
            elif isinstance(e, (Finished, Failed, Cancelled)):
                self.caption_job = None
                self.captioning.emit(False)
                if isinstance(e, Failed):
                    self.captioned.emit(e.error.user_message if e.error else "Captioning failed.")
            return
        if e.job_id != self.job or not self.job:
            return
        if isinstance(e, TrainStep):
            self.curve.add(e.step, e.loss)
            eta = (e.total - e.step) * e.seconds / e.step if e.step and e.seconds else 0.0
            self.stepped.emit(e.step, e.total, e.loss, f"{human_duration(eta)} left" if eta > 0 else "")
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
