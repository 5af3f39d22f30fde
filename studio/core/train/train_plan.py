"""Before a training run: what it needs (memory on the chosen device, refused with the reason when it cannot
fit), how long it will take, and the base model's family and native resolution."""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from studio.core.io.safetensors_header import HeaderError, read_header
from studio.core.models.builtin_models import is_builtin
from studio.core.models.memory_plan import FAMILY_PARAMS, GB, NATIVE_SIZE
from studio.core.models.recommended import recommended_settings
from studio.core.train.train_specs import (
    TrainSpec,
    checkpoint_interval,
    held_out_count,
    run_state,
    validation_interval,
)


def memory_needed(
    spec: TrainSpec, family: str, device: str, free: int | None, params: int | None = None
) -> tuple[int, str | None]:
    """(bytes needed, refusal) before training: weights + LoRA with its optimizer + activations."""
    total = params if params is not None else FAMILY_PARAMS.get(family, (1e9, 0.8e9))[0]
    half = device != "cpu" and spec.mixed_precision != "no"
    scale = total / 1.07e9  # activations and LoRA size relative to SD 1.5
    weights = total * (2 if half else 4)
    lora = (
        spec.rank * 200_000 * scale * 4 * 4
    )  # SD 1.5: ~0.2 M parameters per rank × (weight, grad, 2 moments)
    mp = spec.resolution * spec.resolution / 1e6
    acts = (3.0 if not spec.gradient_checkpointing else 0.8) * GB * mp * spec.batch_size * (1 if half else 2)
    needed = int(weights + lora + acts * scale + (0.5 if device == "cuda" else 0.2) * GB)
    if free is not None and needed > free:
        return needed, (
            f"Training needs about {needed / GB:.1f} GB but {free / GB:.1f} GB is free: lower the "
            "resolution or batch size, turn on gradient checkpointing or mixed precision."
        )
    return needed, None


# Rough training throughput when no earlier run on this machine says better: effective FLOP/s of a LoRA step
# (forward, backward through the frozen UNet, attention overheads) — calibrated on published SD 1.5 LoRA speeds of
# about 3 steps/s at 512 px on a consumer CUDA card — plus a fixed cost per step (data, optimizer, launches).
STEP_FLOPS_PER_PARAM_POSITION = 0.35  # × UNet parameters × latent positions × batch
DEVICE_FLOPS = {"cuda": 4.0e12, "mps": 0.6e12, "cpu": 0.04e12}
STEP_OVERHEAD_S = {
    "cuda": 0.03,
    "mps": 0.08,
    "cpu": 0.045,
}  # CPU: measured here with the 4 M-parameter Shapes UNet


def same_setup(a: dict[str, Any], spec: TrainSpec, device: str) -> bool:
    keys = ("resolution", "batch_size", "train_text_encoder", "gradient_checkpointing")
    return (
        a.get("base") == spec.base
        and a.get("device") == device
        and all(a.get(k) == getattr(spec, k) for k in keys)
    )


SAMPLE_SHARE = (
    0.67  # one denoising step of one sample picture (both CFG halves: two forwards) ÷ a step's compute
)
SAMPLE_OVERHEAD_S = {
    "cuda": 0.005,
    "mps": 0.01,
    "cpu": 0.01,
}  # a picture's step: the scheduler, the VAE's share
VALIDATION_SHARE = 0.35  # one held-out picture at one noise level (a forward alone) ÷ a training step
CHECKPOINT_S = 0.1
LOAD_BYTES_PER_S = 0.5e9  # reading and building the pipeline, when no earlier run measured it
START_S = 3.0  # starting the trainer's process and its libraries (measured here: 3–4 s with the demo model)


@dataclass(frozen=True)
class RunWork:
    """What a run will do besides its steps, counted from its settings."""

    steps: int
    sample_steps: int  # denoising steps of sample pictures (during the run, the grids, class pictures)
    validation_passes: int  # held-out pictures × noise levels × validations
    checkpoints: int


def run_work(spec: TrainSpec, pictures: int = 20) -> RunWork:
    per_picture = len(spec.prompts()) * len(spec.sample_seeds) * spec.sample_steps
    during = (spec.steps // spec.sample_every if spec.sample_every else 0) * per_picture
    kept = {"none": 0, "last": 1, "all": max(2, spec.keep_checkpoints)}.get(spec.grids, 1)
    grids = (kept + 1) * per_picture if kept else 0  # the base model once, the LoRA per checkpoint shown
    held = held_out_count(pictures, spec.validation_split)
    validations = spec.steps // validation_interval(spec) + 1 if held else 0
    return RunWork(spec.steps, during + grids + spec.class_images * spec.sample_steps, held * 5 * validations,
                   spec.steps // checkpoint_interval(spec) + 1)  # fmt: skip


def _measured(runs_dir: Path | None, spec: TrainSpec, device: str) -> dict[str, float]:
    """The averages earlier runs of the same setup measured: seconds per step, per sample step, of setting up."""
    found: dict[str, list[float]] = {}
    if runs_dir is None or not Path(runs_dir).is_dir():
        return {}
    for status in Path(runs_dir).glob("*/status.json"):
        state = run_state(status.parent)
        if not same_setup(state, spec, device):
            continue
        for key in ("seconds_per_step", "seconds_per_sample_step", "setup_seconds"):
            value = state.get(key)
            if isinstance(value, int | float) and 0 < value < 1e6:
                found.setdefault(key, []).append(float(value))
    return {k: sum(v) / len(v) for k, v in found.items()}


def estimate_seconds(spec: TrainSpec, family: str, device: str, unet_params: float | None = None,
                     runs_dir: Path | None = None, pictures: int = 20, loaded: float | None = None,
                     params: float | None = None) -> tuple[float, str]:  # fmt: skip
    """(seconds for the whole run, how it was estimated): its steps, samples, A/B grids, validation, checkpoints and
    setting up — at the speeds an earlier run with the same base, resolution, batch and device measured when there
    is one, else rough figures from the model's size. ``loaded``: seconds already spent loading the model."""
    seen = _measured(runs_dir, spec, device)
    size = unet_params if unet_params else FAMILY_PARAMS.get(family, (1e9, 0.86e9))[1]
    flops = (STEP_FLOPS_PER_PARAM_POSITION * size * (spec.resolution // 8) ** 2 * spec.batch_size
             * (1.3 if spec.gradient_checkpointing else 1.0) * (1.15 if spec.train_text_encoder else 1.0))  # fmt: skip
    compute = flops / DEVICE_FLOPS.get(device, DEVICE_FLOPS["cpu"])
    per_step = seen.get("seconds_per_step", compute + STEP_OVERHEAD_S.get(device, 0.02))
    per_sample = seen.get("seconds_per_sample_step",
                          compute * SAMPLE_SHARE / spec.batch_size + SAMPLE_OVERHEAD_S.get(device, 0.01))  # fmt: skip
    how = (
        "measured on an earlier run" if "seconds_per_step" in seen else "rough: no earlier run to measure by"
    )
    work = run_work(spec, pictures)
    extra = 1 + (spec.prior_weight > 0 and bool(spec.class_dir))  # class pictures: a second pass per step
    if loaded is not None:
        setup = loaded
    else:
        weights = params if params else FAMILY_PARAMS.get(family, (1e9, 0.86e9))[0]
        setup = seen.get("setup_seconds", START_S + weights * 4 / LOAD_BYTES_PER_S)
    total = (setup + work.steps * per_step * extra + work.sample_steps * per_sample
             + work.validation_passes * per_step * VALIDATION_SHARE / spec.batch_size
             + work.checkpoints * CHECKPOINT_S)  # fmt: skip
    return total, how


@dataclass(frozen=True)
class BaseProfile:
    family: str = ""
    resolution: int = 512  # native training resolution
    params: int | None = None  # all weights (UNet, VAE, text encoders), from the safetensors headers
    unet_params: int | None = None


def _count(files: list[Path], prefix: str = "") -> int | None:
    total = 0
    try:
        for f in files:
            for name, info in read_header(f).items():
                if name != "__metadata__" and name.startswith(prefix):
                    total += math.prod(info.get("shape", [])) if info.get("shape") else 1
    except (HeaderError, OSError):
        return None
    return total or None


def _weights(component: Path) -> list[Path]:
    """A diffusers component's weight files, counted once: the plain ones (sharded or not) when there are, else
    one variant's (``*.fp16.safetensors``) — Hub repos often hold both."""
    files = sorted(component.glob("*.safetensors"))
    plain = [f for f in files if "." not in f.stem]
    if plain or not files:
        return plain
    variant = files[0].stem.rsplit(".", 1)[1]
    return [f for f in files if f.stem.endswith("." + variant)]


@lru_cache(maxsize=16)  # the room asks on every settings change; the files' headers do not change meanwhile
def base_profile(base: str) -> BaseProfile:
    """Family, native resolution and parameter counts of a base model, from its files (no weights loaded)."""
    if not base:
        return BaseProfile()
    path = Path(base)
    if is_builtin(base):
        family, native = "sd1", int(recommended_settings(base).get("width", 512))
    else:
        from studio.core.models.model_library import describe_path

        try:
            family = str(describe_path(path).get("family", ""))
        except OSError:
            family = ""
        native = min(NATIVE_SIZE.get(family, 512), 1024)
    if path.is_dir():
        params = _count([f for part in sorted(path.iterdir()) if part.is_dir() for f in _weights(part)])
        unet = _count(_weights(path / "unet"))
    elif path.suffix == ".safetensors":
        params, unet = _count([path]), _count([path], "model.diffusion_model.")
    else:
        params = unet = None
    return BaseProfile(family, native, params, unet)
