"""The frozen recipe of an image job. It is the job, and it is the image's metadata."""

from __future__ import annotations

import dataclasses
import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from studio.core.errors import ValidationError
from studio.core.recipes.fields import JobKind
from studio.core.samplers import DEFAULT_SAMPLER, DEFAULT_SCHEDULE, parse_sampler

SPEC_VERSION = 1
MAX_SEED = 2**64 - 1
A1111_MAX_SEED = 2**32 - 1
MIN_SIZE, MAX_SIZE = 32, 4096
MAX_STEPS = 500
MAX_BATCH = 16
MAX_COUNT = 100


@dataclass(frozen=True)
class LoraRef:
    """A LoRA applied to a job: the file and its weight. ``name`` is what ``<lora:name:w>`` calls it."""

    path: str
    weight: float = 1.0

    @property
    def name(self) -> str:
        return Path(self.path).stem


@dataclass(frozen=True)
class EmbeddingRef:
    """A textual-inversion embedding a prompt uses by its name (AUTOMATIC1111's way: the file name is the word)."""

    name: str
    path: str


@dataclass(frozen=True)
class ControlUnit:
    """A ControlNet unit: where things go. ``image`` is preprocessed by ``preprocessor`` (canny, depth, …; "none"
    uses it as it is) and steers the model through the ControlNet ``model`` with ``weight``, from ``start`` to
    ``end`` (fractions of the steps)."""

    image: str
    preprocessor: str
    model: str
    weight: float = 1.0
    start: float = 0.0
    end: float = 1.0
    threshold_a: float = 100.0  # the preprocessor's thresholds, as A1111 names them (canny: low and high)
    threshold_b: float = 200.0

    @property
    def model_name(self) -> str:
        p = Path(self.model)
        return p.stem if p.suffix else p.name


@dataclass(frozen=True)
class ReferenceUnit:
    """A reference image (IP-Adapter): what the picture should look like. ``model`` is the IP-Adapter file,
    ``encoder`` the CLIP image encoder folder it was trained with."""

    image: str
    model: str
    encoder: str
    weight: float = 0.6
    start: float = 0.0
    end: float = 1.0


ALL_BACKENDS = "all"  # a recipe's backend: every backend that can run it, the pictures shared out by seed


@dataclass(frozen=True)
class GenerateSpec:
    """Everything needed to reproduce an image job exactly."""

    kind: ClassVar[JobKind] = JobKind.IMAGE

    model: str
    prompt: str
    negative_prompt: str = ""
    width: int = 512
    height: int = 512
    steps: int = 25
    cfg_scale: float = 7.0
    seed: int = 0
    sampler: str = DEFAULT_SAMPLER
    schedule: str = DEFAULT_SCHEDULE
    batch_size: int = 1
    batch_count: int = 1
    clip_skip: int = 1
    loras: tuple[LoraRef, ...] = ()
    init_image: str | None = None
    strength: float = 0.75
    mask: str | None = None
    mask_blur: int = 4
    parent_image: str | None = None
    fast_decode: bool = False  # the final decode with the tiny autoencoder (TAESD)
    # hires fix (AUTOMATIC1111's): generate, upscale by hires_scale, then an img2img pass (1.0: off)
    hires_scale: float = 1.0
    hires_steps: int = 0  # 0: as many as the first pass
    hires_denoise: float = 0.5
    hires_upscaler: str = "Latent"  # "Latent", "Lanczos", or an upscaler model's path
    vae: str = ""  # "" the model's own; else a VAE file or folder
    # outpainting: pixels added to the init image's left, top, right and bottom
    outpaint: tuple[int, int, int, int] = (0, 0, 0, 0)
    prompt_2: str = ""  # SDXL's second text encoder's prompt ("" the prompt)
    idea: str = ""  # what the prompt was written from (Enhance prompt, Illustrate, Describe)
    filmstrip: bool = False  # keep the predicted final picture after every step (beside the image)
    refiner: str = ""  # an SDXL refiner model that finishes the last steps ("" none)
    refiner_switch: float = (
        0.8  # the fraction of the steps the base model makes before the refiner takes over
    )
    embeddings: tuple[EmbeddingRef, ...] = ()  # those whose names the prompts use (found when frozen)
    # dynamic prompts ({a|b}, __wildcard__): each image's own prompt and negative, resolved when frozen (empty:
    # the prompt as it is); a saved image's recipe holds its own prompt and the template it came from
    variation_seed: int = 0  # A1111's variation seed (subseed), blended in by variation_strength
    variation_strength: float = 0.0
    styles: tuple[str, ...] = ()  # the styles applied to the prompt when frozen (by name; already in it)
    prompts: tuple[str, ...] = ()
    negatives: tuple[str, ...] = ()
    combinatorial: bool = False
    template: str = ""
    negative_template: str = ""
    controls: tuple[ControlUnit, ...] = ()  # ControlNet units
    references: tuple[ReferenceUnit, ...] = ()  # IP-Adapter reference images
    backend: str = ""  # where it runs: "" this machine, else a saved ComfyUI server by its name
    spec_version: int = field(default=SPEC_VERSION)

    @property
    def remote(self) -> bool:
        """Made on one server: its model, LoRAs and VAE are the server's (``all`` uses this machine's, matched)."""
        return bool(self.backend) and self.backend != ALL_BACKENDS

    @property
    def mode(self) -> str:
        if self.init_image and any(self.outpaint):
            return "outpaint"
        if self.init_image and self.mask:
            return "inpaint"
        if self.init_image:
            return "img2img"
        return "txt2img"

    @property
    def hires(self) -> bool:
        return self.hires_scale > 1.0 and self.mode == "txt2img"

    @property
    def hires_size(self) -> tuple[int, int]:
        """The final size with hires fix (rounded down to a multiple of 8, as AUTOMATIC1111 does)."""
        return (int(self.width * self.hires_scale) // 8 * 8, int(self.height * self.hires_scale) // 8 * 8)

    @property
    def outpaint_size(self) -> tuple[int, int]:
        """The canvas after outpainting (grown to a multiple of 8 on the right and bottom)."""
        left, top, right, bottom = self.outpaint
        return (-(-(self.width + left + right) // 8) * 8, -(-(self.height + top + bottom) // 8) * 8)

    @property
    def output_size(self) -> tuple[int, int]:
        if self.mode == "outpaint":
            return self.outpaint_size
        return self.hires_size if self.hires else (self.width, self.height)

    @property
    def image_count(self) -> int:
        return self.batch_size * self.batch_count

    @property
    def model_name(self) -> str:
        p = Path(self.model)
        return p.stem if p.suffix else p.name

    def prompts_of(self, index: int) -> tuple[str, str]:
        """The prompt and negative prompt of the ``index``-th image."""
        return (self.prompts[index] if index < len(self.prompts) else self.prompt,
                self.negatives[index] if index < len(self.negatives) else self.negative_prompt)  # fmt: skip

    def for_image(self, index: int) -> GenerateSpec:
        """The recipe one image of the job is saved with: its own prompts, the templates beside them."""
        own = self if self.variation_strength <= 0 else dataclasses.replace(
            self, variation_seed=self.variation_seed_for(index))  # fmt: skip
        if not self.prompts and not self.negatives:
            return own
        prompt, negative = self.prompts_of(index)
        return dataclasses.replace(own, prompt=prompt, negative_prompt=negative, prompts=(), negatives=(),
                                   template=self.prompt if self.prompts else "",
                                   negative_template=self.negative_prompt if self.negatives else "")  # fmt: skip

    def seed_for(self, index: int) -> int:
        """The seed of the ``index``-th image of the job (A1111: consecutive seeds; with a variation, the same
        seed and consecutive variation seeds)."""
        return (self.seed + (0 if self.variation_strength > 0 else index)) % (MAX_SEED + 1)

    def variation_seed_for(self, index: int) -> int:
        return (self.variation_seed + index) % (MAX_SEED + 1)

    def replace(self, **changes: Any) -> GenerateSpec:
        return dataclasses.replace(self, **changes)

    # -- persistence -------------------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["loras"] = [{"path": lo.path, "weight": lo.weight} for lo in self.loras]
        d["outpaint"] = list(self.outpaint)
        d["prompts"], d["negatives"], d["styles"] = (
            list(self.prompts),
            list(self.negatives),
            list(self.styles),
        )
        d["embeddings"] = [{"name": e.name, "path": e.path} for e in self.embeddings]
        d["controls"] = [dataclasses.asdict(u) for u in self.controls]
        d["references"] = [dataclasses.asdict(u) for u in self.references]
        d["kind"] = self.kind.value
        return d

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> GenerateSpec:
        """Load any saved version of the spec (unknown keys from newer versions are ignored). Data of the wrong
        shape raises ``ShapeError`` (a ValueError) naming the field."""
        from studio.core.dataclass_io import ShapeError, from_dict

        if not isinstance(data, dict):
            raise ShapeError("a recipe must be a JSON object")
        return from_dict(cls, migrate_spec(dict(data)))


@dataclass(frozen=True)
class UpscaleSpec:
    """Upscale a picture (a gallery image or any file) into a new image beside the gallery's others."""

    kind: ClassVar[JobKind] = JobKind.UPSCALE

    image: str
    scale: float = 2.0
    upscaler: str = "Lanczos"  # "Lanczos" or an upscaler model's path
    tile: int = 256  # input pixels per tile side for a model (memory stays bounded)

    @property
    def upscaler_name(self) -> str:
        return Path(self.upscaler).stem if ("/" in self.upscaler or "\\" in self.upscaler) else self.upscaler


MAX_UPSCALED = 16384  # pixels per side of an upscaled picture


def migrate_spec(d: dict[str, Any]) -> dict[str, Any]:
    from studio.core.untrusted import integer

    version = integer(d.get("spec_version"), 1) or 1
    # Version 1 is the first; later migrations go here as `if version < N: ...`.
    d["spec_version"] = max(version, SPEC_VERSION)
    return d


def random_seed() -> int:
    """A fresh seed inside AUTOMATIC1111's 32-bit range, so recipes round-trip through other tools."""
    return random.SystemRandom().randint(0, A1111_MAX_SEED)


def validate(spec: GenerateSpec) -> dict[str, str]:
    """Problems with a spec, keyed by field; empty when the spec can run (the image recipe's rules)."""
    from studio.core.recipes.image import validate_spec

    return validate_spec(spec)


def check(spec: GenerateSpec) -> GenerateSpec:
    """Return ``spec`` when valid, else raise ``ValidationError`` naming each bad field."""
    problems = validate(spec)
    if problems:
        raise ValidationError(problems)
    return spec


def normalize_sampler(spec_fields: dict[str, Any]) -> dict[str, Any]:
    """Accept combined A1111 names ("DPM++ 2M Karras") in a dict of spec fields."""
    name = spec_fields.get("sampler", DEFAULT_SAMPLER)
    sampler, schedule = parse_sampler(name, spec_fields.get("schedule"))
    return {**spec_fields, "sampler": sampler, "schedule": schedule}
