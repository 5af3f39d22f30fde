"""The Fine-tune room's state: the dataset being built, the run's settings, and the live run (loss curve, step,
ETA, samples, checkpoints), on the same queue as every other job."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, Signal

from studio.core.io.untrusted import Unreadable
from studio.core.io.words import duration
from studio.core.jobs.events import Cancelled, Failed, Finished
from studio.core.models.memory_plan import GB, DeviceInfo
from studio.core.train import recipe as train_recipe
from studio.core.train.dataset import Dataset
from studio.core.train.recipe import TRAIN
from studio.core.train.train_plan import base_profile, estimate_seconds, memory_needed
from studio.core.train.train_specs import (
    PRESETS,
    CheckpointSaved,
    LossCurve,
    SamplesSaved,
    TrainDone,
    TrainSpec,
    TrainStep,
    ValidationLoss,
    read_run_spec,
    run_state,
)
from studio.viewmodels.background import in_background
from studio.viewmodels.bridge import EventBridge, UiEvent
from studio.viewmodels.job_queue import JobQueue
from studio.viewmodels.queue_place import PlaceWatcher
from studio.viewmodels.train_captions import CaptionJobs
from studio.viewmodels.train_masks import MaskJobs

CLASS_PICTURES = 100  # what ticking "Class pictures" asks for (100–200 is usual)


class TrainSession(QObject):
    changed = Signal(str)  # a field of the draft (the training recipe's fields, plus use_class and class_dir)
    datasetChanged = Signal()
    importing = Signal(bool)  # pictures are being copied and checked (off the GUI thread)
    stepped = Signal(int, int, float, str)  # step, total, loss, "ETA" in words
    validated = Signal(int, float)  # step, the held-out pictures' loss
    samplesReady = Signal(str)  # a samples strip (PNG path)
    checkpointSaved = Signal(int, str)
    finished = Signal(object)  # TrainDone
    failed = Signal(str)
    stopped = Signal(str)  # "cancelled" | "failed" | "done"
    running = Signal(bool)
    captioning = Signal(bool)
    captioned = Signal(str)  # what happened, in a sentence
    waiting = Signal(str)  # where a queued run stands in the queue, in words

    def __init__(
        self,
        queue: JobQueue,
        bridge: EventBridge,
        training_dir: Path,
        loras_dir: Path,
        default_base: str = "",
        parent: QObject | None = None,
        device: Callable[[], DeviceInfo | None] = lambda: None,
        request_checkpoint: Callable[[], bool] = lambda: False,
        models_of: Callable[[str], list[Path]] = lambda kind: [],
    ):
        super().__init__(parent)
        self._request_checkpoint = request_checkpoint
        self.queue = queue
        self.training_dir = Path(training_dir)
        self.loras_dir = Path(loras_dir)  # where finished LoRAs go (the models folder's loras/)
        self.dataset = Dataset.open(self.training_dir / "datasets" / "default")
        # The draft: the training recipe's defaults (its preset's values), the base model and its resolution.
        self.draft: dict[str, Any] = {**train_recipe.complete({}), "use_class": False, "class_dir": ""}
        self.draft["base"] = default_base
        self.draft["resolution"] = base_profile(default_base).resolution if default_base else 512
        self.dataset.resolution = self.draft["resolution"]
        self.captions = CaptionJobs(self, lambda: [str(p) for p in models_of("captioner")])
        self.masks = MaskJobs(self, models_of, self)
        self.device = device
        self.place = PlaceWatcher(queue, self.waiting.emit, self)
        self.curve = LossCurve()
        self.job: str | None = None
        self.run_dir: Path | None = None
        self.last: TrainDone | None = None
        self._began = 0.0
        self.busy_importing = False
        bridge.arrived.connect(self._on_event)

    # -- dataset -------------------------------------------------------------------------------------------------
    def add_pictures(self, paths: list[str]) -> bool:
        """Copy and check pictures in the background (decoding and writing large photos takes seconds);
        ``importing`` says when it starts and ends, ``datasetChanged`` when the grid can show them."""
        if self.busy_importing:
            return False
        self.busy_importing = True
        self.importing.emit(True)

        def failed(e: BaseException) -> None:
            self.dataset.skipped.append(f"the import stopped: {e}")
            self._import_done()

        in_background(self, lambda: self.dataset.add_files([Path(p) for p in paths]), lambda _added: self._import_done(),
                      name="studio-dataset-import", on_error=failed)  # fmt: skip
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

    def caption(self, overwrite: bool = False, style: str = "sentences") -> str | None:
        """Caption the pictures with the first captioning model installed; why it cannot, in a sentence."""
        return self.captions.start(overwrite, style)

    def edit_tags(self, rows: list[int], tag: str, add: bool) -> int:
        return self.captions.edit_tags(rows, tag, add)

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

    # -- the draft ---------------------------------------------------------------------------------------------
    def value(self, name: str) -> Any:
        return self.draft[name]

    def set(self, name: str, value: Any) -> None:
        if self.draft.get(name) == value:
            return
        self.draft[name] = value
        if name == "preset" and value in PRESETS:  # a preset brings its values; the widgets follow
            for key, preset_value in PRESETS[value].items():
                if key in TRAIN and key != "alpha":
                    self.set(key, preset_value)
        if name == "use_class" and value and not self.draft["class_images"]:
            self.set("class_images", CLASS_PICTURES)  # ticking the box asks for the usual number
        if name == "resolution" and isinstance(value, int):
            self.dataset.resolution = value  # which pictures are too small follows the training size
            self.datasetChanged.emit()
        self.changed.emit(name)

    @property
    def base(self) -> str:
        return str(self.draft["base"])

    @property
    def preset(self) -> str:
        return str(self.draft["preset"])

    def set_base(self, base: str) -> int:
        """Choose the base model; its native training resolution (64 px for the built-in demo) becomes the
        draft's. Returns it."""
        self.set("base", base)
        native = base_profile(base).resolution
        self.set("resolution", native)
        return native

    def build_spec(self, name: str | None = None) -> TrainSpec | str:
        """The run to start (frozen by the training recipe, as ``studio train`` does), or why it cannot start."""
        self.dataset.resolution = int(self.draft["resolution"] or 512)
        if problems := self.dataset.problems():
            return problems[0]
        if not self.base:
            return "Choose a base model (an SD 1.x or SDXL checkpoint) to train on."
        name = name or f"{self.dataset.trigger}-{time.strftime('%Y%m%d-%H%M%S')}"
        use_class = bool(self.draft["use_class"])
        draft = {**self.draft, "trigger": self.dataset.trigger, "class_word": self.dataset.class_word,
                 "class_images": self.draft["class_images"] if use_class else 0}  # fmt: skip
        frozen = train_recipe.freeze_train(
            draft,
            dataset=str(self.dataset.folder),
            out=str(self.loras_dir / f"{name}.safetensors"),
            run_dir=str(self.training_dir / "runs" / name),
            class_dir=self.class_dir() if use_class else "",
            native_resolution=lambda base: base_profile(base).resolution,
        )
        if isinstance(frozen, dict):
            return next(iter(frozen.values()))
        return frozen

    def class_dir(self) -> str:
        """Where the class pictures are: the user's folder, else one per class word that Studio fills."""
        if self.draft["class_dir"]:
            return str(self.draft["class_dir"])
        word = "".join(c if c.isalnum() else "-" for c in self.dataset.class_word.strip().lower()) or "class"
        return str(self.training_dir / "class" / word)

    def estimate(self) -> str:
        """The pre-flight estimate in words: time and memory on the device, or why it cannot run."""
        spec = self.build_spec("estimate")
        if isinstance(spec, str):
            return ""
        info = self.device()
        device = info.device if info else "cpu"
        profile = base_profile(spec.base)
        family = profile.family or "sd1"
        seconds, how = estimate_seconds(spec, family, device, profile.unet_params, self.training_dir / "runs",
                                        max(1, len(self.dataset.used())), params=profile.params)  # fmt: skip
        needed, refusal = memory_needed(spec, family, device, info.free if info else None, profile.params)
        if refusal:
            return refusal
        return f"About {duration(seconds, rough=True)} on {info.name if info else 'CPU'}, about {needed / GB:.1f} GB ({how})."

    def start(self, spec: TrainSpec | None = None) -> str | None:
        """Queue the run; returns an error sentence instead when it cannot start."""
        built = spec or self.build_spec()
        if isinstance(built, str):
            return built
        self.curve = LossCurve()
        self.run_dir = Path(built.run_dir)
        self.job = self.queue.enqueue(built)
        self._began = time.monotonic()
        self.running.emit(True)
        self.place.watch(self.job)
        return None

    def resume(self, run: Path) -> str | None:
        spec = read_run_spec(run)
        if isinstance(spec, Unreadable):
            return f"{spec.why}."
        problem = self.start(spec)
        if problem is None:
            from studio.core.train.run_history import curve_to_resume

            self.curve = curve_to_resume(run)
        return problem

    def export_run(self, folder: Path) -> str:
        """Prepare the run in ``folder`` (dataset, recipe, command) to train on another machine; a sentence saying
        what was done or why not."""
        from studio.core.train.train_transfer import export_with_dataset

        spec = self.build_spec()
        return spec if isinstance(spec, str) else export_with_dataset(spec, self.dataset.folder, folder)

    def import_result(self, folder: Path) -> str:
        """A run trained elsewhere: its LoRA into the library (``finished`` is told, as for a run here)."""
        from studio.core.train.train_transfer import import_result

        try:
            lora, run = import_result(folder, self.loras_dir, self.training_dir / "runs")
        except (ValueError, OSError) as e:
            return str(e)
        self.last = TrainDone(path=str(lora), run_dir=str(run))
        self.finished.emit(self.last)
        return f"Imported {lora.name} into your LoRAs (its run: {run.name})."

    def checkpoint_now(self) -> bool:
        """Ask the running trainer for a checkpoint after its current step; False when nothing is training."""
        return bool(self.job) and self._request_checkpoint()

    def cancel(self) -> None:
        if self.job:
            self.queue.cancel(self.job)

    def _on_event(self, ui: UiEvent) -> None:
        e = ui.event
        if self.captions.handle(e) or self.masks.handle(e):
            return
        if e.job_id != self.job or not self.job:
            return
        if isinstance(e, TrainStep):
            self.curve.add(e.step, e.loss)
            eta = (e.total - e.step) * e.seconds / e.step if e.step and e.seconds else 0.0
            self.stepped.emit(e.step, e.total, e.loss, f"{duration(eta)} left" if eta > 0 else "")
        elif isinstance(e, ValidationLoss):
            self.curve.add_validation(e.step, e.loss)
            self.validated.emit(e.step, e.loss)
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
