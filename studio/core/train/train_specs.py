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
from studio.core.jobs.fields import derived, knob

OPTIMIZERS = ("adamw", "adamw8bit")
SCHEDULES = ("constant_with_warmup", "constant", "cosine", "linear")
PRECISIONS = ("auto", "no", "fp16", "bf16")
ALGOS = ("lora", "dora", "loha", "lokr")
GRIDS = ("none", "last", "all")


@dataclass(frozen=True)
class TrainSpec:
    kind: ClassVar[JobKind] = JobKind.TRAIN
    # The training recipe's table, declared here once (``recipe.TRAIN`` is made from it, with the preset before it);
    # ``draft=None`` where the recipe derives a value the draft leaves out (alpha, resolution, intervals).
    # fmt: off
    dataset: str  # a dataset folder (core.dataset)
    base: str = knob(draft="", label="Base model", help="The model to teach (SD 1.x, 2.x or SDXL; default: the last "
        "image model used, else the built-in demo).", metavar="MODEL")
    out: str = derived(None, "the .safetensors LoRA to write (named from the trigger when not given)")
    run_dir: str = derived(None, "the run's folder: checkpoints, samples, log")
    trigger: str = knob("sks", label="Trigger word", help="A rare word that will call up what you train, e.g. sks.")
    class_word: str = knob("", label="Class word", help="What it is: dog, person, painting…", cli="--class")
    steps: int = knob(1500, label="Steps", help="Training steps (the preset's by default).", minimum=1,
        maximum=100_000)
    epochs: int = knob(0, label="Epochs", help="Passes over your pictures; when set, it decides the number of steps "
        "(0: use steps).", minimum=0, maximum=10_000, special=((0, "use steps"),))
    algo: str = knob("lora", label="Kind of adapter", help="LoRA; DoRA (LoRA with the weights' size learnt apart: "
        "closer to full fine-tuning); LoHa or LoKr (LyCORIS: Hadamard or Kronecker products, more expressive at "
        "the same size). All load in AUTOMATIC1111, Forge and ComfyUI.", choices=ALGOS)
    rank: int = knob(16, label="Rank", help="The LoRA's size: 8–32 for a person or an object, more for a style.",
        minimum=1, maximum=256)
    alpha: float = knob(16.0, draft=None, type=float, label="Alpha", help="Scales the LoRA (default: the preset's "
        "alpha at the preset's rank, else the rank).", minimum=0.0, maximum=1024.0)
    lr_unet: float = knob(1e-4, label="Learning rate", help="How fast the UNet learns; 1e-4 is usual.", minimum=1e-7,
        maximum=0.1, step=1e-5, decimals=6, cli="--lr")
    lr_text: float = knob(5e-5, label="Text encoder LR", help="Used when the text encoder is trained.", minimum=0.0,
        maximum=0.1, step=1e-5, decimals=6)
    train_text_encoder: bool = knob(False, label="Train the text encoder too", help="Learns the trigger word's "
        "meaning as well (the person preset does).", cli="--text-encoder")
    optimizer: str = knob("adamw", label="Optimizer", help="AdamW, or 8-bit AdamW (needs bitsandbytes).",
        choices=OPTIMIZERS)
    schedule: str = knob("constant_with_warmup", label="Schedule", help="How the learning rate changes over the "
        "run.", choices=SCHEDULES)
    warmup_steps: int = 100
    batch_size: int = knob(1, label="Batch size", help="Pictures per step: faster on a GPU, needs more memory.",
        minimum=1, maximum=64)
    resolution: int = knob(512, draft=None, type=int, label="Resolution", help="Training size in pixels (default: "
        "the base model's own: 512 for SD 1.x, 1024 for SDXL, 64 for the demo).", minimum=64, maximum=2048,
        unit="px", step=64, multiple_of=64)
    mixed_precision: str = knob("auto", label="Mixed precision", help="auto: bf16 or fp16 on a GPU, off on the "
        "CPU.", choices=PRECISIONS)
    gradient_checkpointing: bool = knob(False, label="Gradient checkpointing", help="Less memory, slower steps.")
    cache_latents: bool = True
    seed: int = knob(0, label="Seed", help="The run's seed: the same seed, pictures and settings train the same "
        "LoRA.", minimum=0, maximum=2**32 - 1)
    min_snr_gamma: float = knob(5.0, label="Min-SNR γ", help="Weighs the steps by their noise level so the easy, "
        "almost clean ones do not dominate (5 is usual; 0: off).", minimum=0.0, maximum=20.0, step=0.5, decimals=1,
        cli="--min-snr")
    noise_offset: float = knob(0.0, label="Noise offset", help="A little noise shared by each channel, so the LoRA "
        "can learn very dark and very bright pictures (0.05–0.1 is usual; 0: off).", minimum=0.0, maximum=1.0,
        step=0.01, decimals=3)
    ema: bool = knob(False, label="EMA of the weights", help="Keep a moving average of the weights as they learn "
        "and write that: smoother results from noisy runs.")
    ema_decay: float = 0.999
    validation_split: float = knob(0.0, label="Validation split", help="The share of your pictures held out to "
        "measure a validation loss on, which the curve shows beside the training loss (0.1–0.25; 0: none).",
        minimum=0.0, maximum=0.5, step=0.05, decimals=2)
    validate_every: int = knob(0, label="Validate every", help="Steps between validation losses.", minimum=0,
        maximum=100_000, special=((0, "a twentieth of the run"),))
    repeats: int = knob(1, label="Repeats", help="How many times each picture counts in an epoch (a folder named "
        "N_words sets its own N, kohya's way).", minimum=1, maximum=1000)
    mask_floor: float = knob(0.1, label="Background weight", help="How much the parts of a picture outside its mask "
        "count (0: not at all; 1: masks ignored).", minimum=0.0, maximum=1.0, step=0.05, decimals=2)
    sample_every: int = knob(250, draft=None, type=int, label="Samples every", help="Steps between sample pictures "
        "(default: a sixth of the run, at most 250; 0: never).", minimum=0, maximum=100_000)
    checkpoint_every: int = knob(250, draft=None, type=int, label="Checkpoint every", help="Steps between "
        "checkpoints (default: a tenth of the run, at most 250; never more than a tenth).", minimum=1,
        maximum=100_000)
    keep_checkpoints: int = 2
    sample_prompts: tuple[str, ...] = knob((), type=list, label="Sample prompts", help="Prompts of your own for "
        "the samples (default: the trigger and class words in two settings).", cli="--sample-prompt",
        metavar="TEXT")
    sample_seeds: tuple[int, ...] = (1, 2)
    sample_steps: int = 20
    kohya_export: bool = knob(False, label="Kohya copy", help="Also write <out>-kohya.safetensors with the key names "
        "AUTOMATIC1111 and ComfyUI use.", cli="--kohya")
    device: str = "auto"
    grids: str = knob("last", label="A/B grids", help="At the end, the base model beside the LoRA on the same seeds: "
        "for the final LoRA (last), for each kept checkpoint too (all), or none.", choices=GRIDS)
    # Class (regularization) pictures, DreamBooth's prior preservation: pictures of the class without the subject
    # (a folder, .txt captions beside them, else "a photo of <class>") keep the model's idea of the class intact.
    class_dir: str = ""
    class_images: int = knob(0, label="Number of class pictures", help="Pictures of the class without your subject "
        "(prior preservation); missing ones are generated by the base model first.", minimum=0, maximum=1000)
    prior_weight: float = knob(1.0, label="Class weight", help="How much the class pictures count.", minimum=0.0,
        maximum=5.0, step=0.1, decimals=2)
    accelerate: bool = knob(False, label="Run with accelerate", help="Train under `accelerate launch` with your "
        "accelerate config (several GPUs, data-parallel: each step takes one batch per process); the loss curve and "
        "checkpoints are the same.")
    accelerate_config: str = knob("", label="Accelerate config", help="An accelerate config file (YAML from "
        "`accelerate config`); empty: your default one.", metavar="FILE")
    inject_nan_at: int = 0  # tests: make the loss NaN at this step
    # fmt: on

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
    if spec.algo not in ALGOS:
        problems["algo"] = "The kind of adapter is lora, dora, loha or lokr."
    if spec.grids not in GRIDS:
        problems["grids"] = "The A/B grids are none, last or all."
    if not 0 <= spec.validation_split <= 0.5:
        problems["validation_split"] = "Hold out between 0 and half of the pictures (0.1–0.25 is usual)."
    if not 0 <= spec.mask_floor <= 1:
        problems["mask_floor"] = "The background weight is between 0 and 1."
    if spec.noise_offset < 0 or spec.min_snr_gamma < 0:
        problems["noise_offset" if spec.noise_offset < 0 else "min_snr_gamma"] = "Use 0 (off) or more."
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
class ValidationLoss(Event):
    step: int = 0
    loss: float = (
        0.0  # the held-out pictures' loss at fixed noise: comparable from one validation to the next
    )
    pictures: int = 0


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
    images: tuple[
        str, ...
    ] = ()  # pictures of a folder instead of a dataset (``studio caption``): captions by path
    style: str = "sentences"  # or "tags": the caption's phrases, comma-separated (core.caption_tags)


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


def held_out_count(pictures: int, split: float) -> int:
    """How many of ``pictures`` a validation split holds out: at least one each way when a split is asked (a run of
    one picture has nothing to hold out)."""
    if split <= 0 or pictures < 2:
        return 0
    return min(pictures - 1, max(1, round(pictures * split)))


def validation_interval(spec: TrainSpec) -> int:
    """Steps between validation losses: as asked, else a twentieth of the run."""
    return spec.validate_every or max(1, spec.steps // 20)


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
    validation_steps: list[int] = field(default_factory=list)
    validation: list[float] = field(default_factory=list)  # the held-out pictures' loss

    def add(self, step: int, loss: float) -> None:
        self.steps.append(step)
        self.losses.append(loss)

    def add_validation(self, step: int, loss: float) -> None:
        self.validation_steps.append(step)
        self.validation.append(loss)

    def until(self, step: int) -> LossCurve:
        """The curve up to ``step`` (a run resumed from there goes on from it)."""
        keep = [i for i, s in enumerate(self.steps) if s <= step]
        held = [i for i, s in enumerate(self.validation_steps) if s <= step]
        return LossCurve([self.steps[i] for i in keep], [self.losses[i] for i in keep],
                         [self.validation_steps[i] for i in held], [self.validation[i] for i in held])  # fmt: skip

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
