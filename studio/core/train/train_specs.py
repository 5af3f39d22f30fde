"""What a LoRA training run is asked to do (TrainSpec), its presets, its events, and the pre-flight estimate."""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, ClassVar

from studio.core.io.dataclass_io import from_dict
from studio.core.io.untrusted import Unreadable, obj, parse_json, read_json
from studio.core.jobs import JobKind
from studio.core.jobs.events import Event


@dataclass(frozen=True)
class TrainSpec:
    kind: ClassVar[JobKind] = JobKind.TRAIN
    dataset: str  # a dataset folder (core.dataset)
    base: str  # a diffusers SD 1.x / SDXL folder or single-file checkpoint
    out: str  # the .safetensors LoRA to write
    run_dir: str  # checkpoints, samples, log
    trigger: str = "sks"
    class_word: str = ""
    steps: int = 1500
    epochs: int = 0  # when set: train this many passes over the pictures instead of ``steps``
    rank: int = 16
    alpha: float = 16.0
    lr_unet: float = 1e-4
    lr_text: float = 5e-5
    train_text_encoder: bool = False
    optimizer: str = "adamw"  # adamw | adamw8bit (when bitsandbytes is installed)
    schedule: str = "constant_with_warmup"  # constant | constant_with_warmup | cosine | linear
    warmup_steps: int = 100
    batch_size: int = 1
    resolution: int = 512
    mixed_precision: str = "auto"  # auto | no | fp16 | bf16
    gradient_checkpointing: bool = False
    cache_latents: bool = True
    seed: int = 0
    min_snr_gamma: float = 5.0  # 0 turns min-SNR weighting off
    sample_every: int = 250  # steps; 0: never
    checkpoint_every: int = 250
    keep_checkpoints: int = 2
    sample_prompts: tuple[str, ...] = ()  # default: "<trigger> <class>" variations
    sample_seeds: tuple[int, ...] = (1, 2)
    sample_steps: int = 20
    kohya_export: bool = False  # also write <out>-kohya.safetensors for AUTOMATIC1111 / ComfyUI
    device: str = "auto"
    ab_grid: bool = True  # at the end: base vs LoRA, same seeds, for each kept checkpoint
    # Class (regularization) pictures, DreamBooth's prior preservation: pictures of the class without the subject
    # (a folder, .txt captions beside them, else "a photo of <class>") keep the model's idea of the class intact.
    class_dir: str = ""
    class_images: int = 0  # when the folder holds fewer, the base model generates the rest into it first
    prior_weight: float = 1.0
    # run under `accelerate launch` (several GPUs or processes: data-parallel), with this accelerate config file
    # ("" the user's default: ~/.cache/huggingface/accelerate/default_config.yaml, made by `accelerate config`)
    accelerate: bool = False
    accelerate_config: str = ""
    inject_nan_at: int = 0  # tests: make the loss NaN at this step

    def class_prompt(self) -> str:
        return f"a photo of {self.class_word.strip() or 'a person'}"

    def prompts(self) -> tuple[str, ...]:
        lead = " ".join(w for w in (self.trigger, self.class_word) if w)
        return self.sample_prompts or (f"a photo of {lead}", f"{lead} on the moon, detailed")

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> TrainSpec:
        """The spec in a run folder's JSON; ``ValueError`` (naming the field) for anything of another shape."""
        data = parse_json(text, max_depth=8)
        if isinstance(data, Unreadable):
            raise ValueError(data.why)
        return from_dict(cls, data)


PRESETS: dict[str, dict[str, Any]] = {
    # about 20 pictures at 512 px on SD 1.5 (SDXL: the same at 1024 px, lower learning rates work better)
    "person": {
        "rank": 16,
        "alpha": 16,
        "lr_unet": 1e-4,
        "lr_text": 5e-5,
        "train_text_encoder": True,
        "steps": 1500,
        "warmup_steps": 100,
        "min_snr_gamma": 5.0,
    },
    "object": {
        "rank": 16,
        "alpha": 16,
        "lr_unet": 1e-4,
        "lr_text": 5e-5,
        "train_text_encoder": False,
        "steps": 1200,
        "warmup_steps": 100,
        "min_snr_gamma": 5.0,
    },
    "style": {
        "rank": 32,
        "alpha": 16,
        "lr_unet": 1e-4,
        "lr_text": 0.0,
        "train_text_encoder": False,
        "steps": 2000,
        "warmup_steps": 150,
        "min_snr_gamma": 5.0,
    },
}


def with_preset(spec: TrainSpec, name: str) -> TrainSpec:
    return replace(spec, **PRESETS[name])


def validate_train(spec: TrainSpec) -> dict[str, str]:
    problems = {}
    if spec.steps < 1:
        problems["steps"] = "Train for at least one step."
    if spec.epochs < 0:
        problems["epochs"] = "The number of epochs cannot be negative."
    if not 1 <= spec.rank <= 256:
        problems["rank"] = "The rank must be between 1 and 256."
    if not 0 < spec.lr_unet < 1:
        problems["lr_unet"] = "The learning rate must be between 0 and 1 (1e-4 is usual)."
    if spec.resolution % 64 or not 64 <= spec.resolution <= 2048:
        problems["resolution"] = "The resolution must be a multiple of 64 between 64 and 2048."
    if spec.batch_size < 1:
        problems["batch_size"] = "The batch size must be at least 1."
    if not spec.trigger.strip():
        problems["trigger"] = "Choose a trigger word."
    if not spec.out.endswith(".safetensors"):
        problems["out"] = "The LoRA is written as a .safetensors file."
    if (spec.class_dir or spec.class_images) and not spec.class_word.strip():
        problems["class_word"] = "Class pictures need a class word (like “dog”) to describe them."
    if spec.class_images < 0 or spec.class_images > 1000:
        problems["class_images"] = "Use between 0 and 1000 class pictures (100–200 is usual)."
    if spec.class_images and not spec.class_dir:
        problems["class_dir"] = "Choose a folder for the class pictures."
    if spec.optimizer not in ("adamw", "adamw8bit"):
        problems["optimizer"] = "The optimizer is adamw or adamw8bit."
    return problems


# -- events of a training run (the trainer also sends Progress, Note, Finished, Failed, Cancelled) --------------
@dataclass(frozen=True)
class TrainStep(Event):
    step: int = 0
    total: int = 0
    loss: float = 0.0
    lr: float = 0.0
    seconds: float = 0.0  # since the run (or resume) began


@dataclass(frozen=True)
class SamplesSaved(Event):
    step: int = 0
    paths: tuple[str, ...] = ()


@dataclass(frozen=True)
class CheckpointSaved(Event):
    step: int = 0
    path: str = ""
    kept: tuple[str, ...] = ()


@dataclass(frozen=True)
class CaptionSpec:
    """Caption a dataset's pictures with a local captioning model (BLIP, GIT, …)."""

    kind: ClassVar[JobKind] = JobKind.CAPTION

    dataset: str
    model: str
    overwrite: bool = False  # also replace captions already written
    image: str = ""  # one picture instead of a dataset ("Describe this image"): the caption is the result
    device: str = "auto"
    max_tokens: int = 40


@dataclass(frozen=True)
class CaptionsMade(Event):
    captions: tuple[tuple[str, str], ...] = ()  # (image file, caption)
    model: str = ""


@dataclass(frozen=True)
class TrainDone(Event):
    path: str = ""  # the LoRA
    kohya_path: str = ""
    grids: tuple[str, ...] = ()  # A/B grids, one per kept checkpoint
    run_dir: str = ""


def checkpoint_interval(spec: TrainSpec) -> int:
    """How often a run saves a checkpoint: as asked, and at least every 10 % of the run — so a run killed near its
    end never starts again from the beginning (0 asks for only that)."""
    most = max(1, spec.steps // 10)
    return min(spec.checkpoint_every, most) if spec.checkpoint_every > 0 else most


_CHECKPOINT = re.compile(r"checkpoint-(\d{1,12})")


def checkpoints(run_dir: Path) -> list[Path]:
    """A run's whole checkpoints (folders whose state was written last), oldest step first. A checkpoint of an
    earlier Studio (a pickled ``state.pt``) is listed too, so that resuming says why it cannot be used."""
    found = []
    for p in Path(run_dir).glob("checkpoint-*"):
        m = _CHECKPOINT.fullmatch(p.name)
        if m and ((p / "state.json").is_file() or (p / "state.pt").is_file()):
            found.append((int(m.group(1)), p))
    return [p for _, p in sorted(found)]


def checkpoint_step(folder: Path) -> int:
    m = _CHECKPOINT.fullmatch(Path(folder).name)
    return int(m.group(1)) if m else 0


def latest_checkpoint(run_dir: Path) -> Path | None:
    found = checkpoints(run_dir)
    return found[-1] if found else None


def read_run_spec(run_dir: Path) -> TrainSpec | Unreadable:
    """The settings of a run folder (``spec.json``), checked field by field; the run stays in *this* folder
    whatever the file says. ``Unreadable`` when the folder is no run or its settings are damaged."""
    run = Path(run_dir)
    raw = read_json(run / "spec.json", max_bytes=1 << 20, max_depth=8)
    if isinstance(raw, Unreadable):
        return Unreadable(f"{run} is not a training run folder Studio can resume ({raw.why})")
    try:
        spec = from_dict(TrainSpec, raw)
    except ValueError as e:
        return Unreadable(f"{run} cannot be resumed: its settings are damaged ({e})")
    here = run.resolve()

    def inside(path: str) -> str:  # an exported run keeps its paths relative to its folder
        return str(here / path) if path and not Path(path).is_absolute() else path

    return replace(spec, run_dir=str(here), dataset=inside(spec.dataset), out=inside(spec.out),
                   class_dir=inside(spec.class_dir))  # fmt: skip


def run_state(run_dir: Path) -> dict[str, Any]:
    """What a run folder says about itself: {"status": "running"|"done"|"failed"|"cancelled", "step", ...}."""
    return obj(read_json(Path(run_dir) / "status.json", max_depth=8))


@dataclass
class LossCurve:
    """The points of the live loss curve, smoothed for display."""

    steps: list[int] = field(default_factory=list)
    losses: list[float] = field(default_factory=list)

    def add(self, step: int, loss: float) -> None:
        self.steps.append(step)
        self.losses.append(loss)

    def smoothed(self, beta: float = 0.9) -> list[float]:
        out, avg = [], None
        for v in self.losses:
            avg = v if avg is None else beta * avg + (1 - beta) * v
            out.append(avg)
        return out


def nan_message(step: int, back: str, lr: float, also: str = "") -> str:
    """What a run that met a NaN loss says (``back``: what it rolled back to)."""
    return (f"The loss became NaN at step {step}; training stopped and {back}. Lower the learning rate (try "
            f"{lr / 2:.1e}){also}, then resume.")  # fmt: skip
