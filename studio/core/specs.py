"""The frozen recipe of an image job. It is the job, and it is the image's metadata."""

from __future__ import annotations

import dataclasses
import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from studio.core.errors import ValidationError
from studio.core.samplers import DEFAULT_SAMPLER, DEFAULT_SCHEDULE, SAMPLERS, parse_sampler

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
class GenerateSpec:
    """Everything needed to reproduce an image job exactly."""

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
    spec_version: int = field(default=SPEC_VERSION)

    @property
    def mode(self) -> str:
        if self.init_image and self.mask:
            return "inpaint"
        if self.init_image:
            return "img2img"
        return "txt2img"

    @property
    def image_count(self) -> int:
        return self.batch_size * self.batch_count

    @property
    def model_name(self) -> str:
        p = Path(self.model)
        return p.stem if p.suffix else p.name

    def seed_for(self, index: int) -> int:
        """The seed of the ``index``-th image of the job (A1111: consecutive seeds)."""
        return (self.seed + index) % (MAX_SEED + 1)

    def replace(self, **changes: Any) -> GenerateSpec:
        return dataclasses.replace(self, **changes)

    # -- persistence -------------------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["loras"] = [{"path": lo.path, "weight": lo.weight} for lo in self.loras]
        d["kind"] = "image"
        return d

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> GenerateSpec:
        """Load any saved version of the spec (unknown keys from newer versions are ignored). Data of the wrong
        shape raises ``ShapeError`` (a ValueError) naming the field."""
        from studio.core.dataclass_io import ShapeError, from_dict

        if not isinstance(data, dict):
            raise ShapeError("a recipe must be a JSON object")
        return from_dict(cls, migrate_spec(dict(data)))


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
    """Problems with a spec, keyed by field; empty when the spec can run."""
    problems: dict[str, str] = {}
    if not spec.model.strip():
        problems["model"] = "Choose a model first."
    for name in ("width", "height"):
        v = getattr(spec, name)
        if not MIN_SIZE <= v <= MAX_SIZE:
            problems[name] = f"{name.capitalize()} must be between {MIN_SIZE} and {MAX_SIZE} pixels."
        elif v % 8:
            lo, hi = v - v % 8, v - v % 8 + 8
            problems[name] = f"{name.capitalize()} must be a multiple of 8 (try {lo} or {hi})."
    if not 1 <= spec.steps <= MAX_STEPS:
        problems["steps"] = f"Steps must be between 1 and {MAX_STEPS}."
    if not 0.0 <= spec.cfg_scale <= 30.0:
        problems["cfg_scale"] = "CFG scale must be between 0 and 30."
    if not 0 <= spec.seed <= MAX_SEED:
        problems["seed"] = "Seed must be between 0 and 2^64 − 1."
    if spec.sampler not in SAMPLERS:
        problems["sampler"] = f"Unknown sampler {spec.sampler!r}."
    elif spec.schedule not in SAMPLERS[spec.sampler].schedules:
        problems["schedule"] = f"{spec.sampler} has no {spec.schedule} schedule."
    if not 1 <= spec.batch_size <= MAX_BATCH:
        problems["batch_size"] = f"Batch size must be between 1 and {MAX_BATCH}."
    if not 1 <= spec.batch_count <= MAX_COUNT:
        problems["batch_count"] = f"Batch count must be between 1 and {MAX_COUNT}."
    if not 1 <= spec.clip_skip <= 12:
        problems["clip_skip"] = "Clip skip must be between 1 and 12."
    if spec.mask and not spec.init_image:
        problems["mask"] = "A mask needs an init image to paint into."
    if spec.init_image is not None:
        if not 0.0 < spec.strength <= 1.0:
            problems["strength"] = "Denoising strength must be above 0 and at most 1."
        elif int(spec.steps * spec.strength) < 1:
            problems["strength"] = "Steps × strength is below one step: raise the steps or the strength."
        if not Path(spec.init_image).is_file():
            problems["init_image"] = f"The init image {spec.init_image} does not exist."
    if spec.mask is not None and "mask" not in problems and not Path(spec.mask).is_file():
        problems["mask"] = f"The mask {spec.mask} does not exist."
    for lo in spec.loras:
        if not -4.0 <= lo.weight <= 4.0:
            problems["loras"] = f"LoRA {lo.name}: weight must be between -4 and 4."
        elif not Path(lo.path).is_file():
            problems["loras"] = f"LoRA file {lo.path} does not exist."
    return problems


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
