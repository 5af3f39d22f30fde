"""The OpenVINO UNet with int8 convolutions — the CPU engine *openvino-int8*, auto's choice on a CPU without bf16
instructions. On such a CPU (AVX2 only, or AVX-512 without bf16) the fp16-weight network computes in f32, and its
convolutions are half of every step; in int8 they take half the time (measured: 1.04 → 0.53 s a step of an SD
1.5-size UNet at 256², held to AVX2). The linear layers and attention stay as they are (int8 made them no faster).

Made once per model from its converted fp16 variant: a short, fixed run of the model's own pipeline (three prompts,
eight steps, seeds 0–2, at half its native size) records what the UNet is given, nncf sets each convolution's int8
ranges from those inputs (its post-training quantization, with bias correction), and the result is cached beside the
fp16 variant. The run is fixed, so the same model gives the same int8 network, and its pictures are reproducible
like any engine's."""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path
from typing import Any

from studio.core.io.words import duration, size
from studio.core.jobs.errors import ErrorKind, StudioError
from studio.core.jobs.events import Loading, Note
from studio.engine.openvino_cache import (
    FILES,
    FORMAT,
    Emit,
    Variant,
    building,
    check_space,
    finish,
    quiet_nncf,
    with_progress,
)

CALIBRATION_PROMPTS = (
    "a portrait photograph of an old fisherman, soft window light, detailed skin",
    "a watercolour landscape of hills and a river at sunrise, loose brush strokes",
    "a red sports car on a wet city street at night, neon reflections, wide angle",
)
CALIBRATION_STEPS = 8
CALIBRATION_CFG = 7.0
# measured here (2 cores, AVX2): nncf's statistics and bias correction on an SD 1.5-size UNet, 24 inputs at 256²: 140 s
SECONDS_PER_INPUT = 5.5
# nncf's peak memory ÷ the fp16 network's file: 11.7 GB for an SD 1.5-size UNet (1.7 GB), measured here
MEMORY_PER_FILE_BYTE = 7.0


class Int8Refused(Exception):
    """Why no int8 variant is made for this model now (an inpainting model; too little memory free)."""


def calibration_side(config: dict[str, Any]) -> int:
    """The latent side of the calibration run: half the model's native size (SD 1.5: 256², SDXL: 512²), at least 8."""
    native = int(config.get("sample_size") or 64)
    return max(8, native // 2 // 8 * 8)


def refusal(config: dict[str, Any]) -> str:
    """Why this UNet gets no int8 variant ("" when it can): calibration runs the text-to-image pipeline."""
    if int(config.get("in_channels") or 4) != 4:
        return "int8 convolutions are made from a text-to-image run, which an inpainting model cannot do"
    return ""


def record_inputs(pipe: Any, emit: Emit, label: str) -> list[dict[str, Any]]:
    """The UNet's inputs over the fixed calibration run of ``pipe`` (its UNet the fp16 ``OpenVinoUNet``)."""
    import torch
    from diffusers import EulerDiscreteScheduler

    unet = pipe.unet
    side = calibration_side(dict(unet.config))
    total = len(CALIBRATION_PROMPTS) * CALIBRATION_STEPS
    recorded: list[dict[str, Any]] = []
    kept = pipe.scheduler
    pipe.scheduler = EulerDiscreteScheduler.from_config(kept.config)

    def step_done(_pipe: Any, _i: int, _t: Any, kwargs: dict[str, Any]) -> dict[str, Any]:
        done = len(recorded)
        emit(Loading(what=f"Calibrating int8 convolutions for {label}: {done}/{total} steps",
                     fraction=min(0.95, done / total)))  # fmt: skip
        return kwargs

    unet.recorder = recorded
    try:
        for seed, prompt in enumerate(CALIBRATION_PROMPTS):
            pipe(prompt=prompt, negative_prompt="", width=side * 8, height=side * 8,
                 num_inference_steps=CALIBRATION_STEPS, guidance_scale=CALIBRATION_CFG,
                 generator=torch.Generator("cpu").manual_seed(seed), output_type="latent",
                 callback_on_step_end=step_done)  # fmt: skip
    finally:
        unet.recorder = None
        pipe.scheduler = kept
    return recorded


def quantize(f16: Path, samples: list[dict[str, Any]]) -> Any:
    """The fp16 network with its convolutions quantized to int8 by nncf, ranges from ``samples``; everything else
    (linear layers, attention) as it was."""
    import nncf
    import openvino as ov

    model = ov.Core().read_model(str(f16))
    with quiet_nncf():
        return nncf.quantize(
            model,
            nncf.Dataset(samples),
            subset_size=len(samples),
            model_type=nncf.ModelType.TRANSFORMER,
            ignored_scope=nncf.IgnoredScope(types=["MatMul"]),
            fast_bias_correction=True,
        )


def make_int8(pipe: Any, f16: Variant, target: Variant, emit: Emit, label: str) -> dict[str, Any]:
    """Calibrate and quantize ``f16``'s network (``pipe`` runs it) into ``target``'s folder; its manifest."""
    import openvino as ov

    from studio.core.models.memory_plan import system_memory
    from studio.engine.openvino_cache import checked_manifest

    config = dict(pipe.unet.config)
    if why := refusal(config):
        raise Int8Refused(why)
    params = f16.xml.with_suffix(".bin").stat().st_size  # fp16 on disk: 2 bytes a weight
    needed = int(params * 0.7) + (8 << 20)  # int8 convolutions, the rest still fp16
    check_space(target.root, needed, label)
    memory, free = int(params * MEMORY_PER_FILE_BYTE), system_memory()[1]
    if free and memory > free:
        raise Int8Refused(f"Making int8 convolutions for {label} needs about {size(memory)} of memory once; "
                              f"{size(free)} is free")  # fmt: skip
    started = time.perf_counter()
    samples = record_inputs(pipe, emit, label)
    pipe.unet.forget_compiled()  # the fp16 network's compiled weights are not needed while nncf works
    source = checked_manifest(f16.folder, FILES) or {}
    estimate = SECONDS_PER_INPUT * len(samples) * params / 1.72e9
    what = f"Quantizing {label} to int8 convolutions (once; {size(needed)} on disk, about {duration(estimate, rough=True)})"

    def work(scratch: Path) -> None:
        ov.save_model(quantize(f16.xml, samples), str(scratch / FILES[0]), compress_to_fp16=True)

    try:
        with building(target.root, target.folder) as scratch:
            with_progress(lambda: work(scratch), estimate, what, emit)
            manifest = finish(scratch, FILES, {
                **{k: source.get(k) for k in ("model", "loras", "openvino", "inputs")},
                "format": FORMAT, "config": config, "weights": "int8 convolutions",
                "calibration": {"prompts": list(CALIBRATION_PROMPTS), "steps": CALIBRATION_STEPS,
                                "side": calibration_side(config) * 8},
                "seconds": round(time.perf_counter() - started, 1),
            })  # fmt: skip
    except Exception as e:  # noqa: BLE001 - nncf (its own errors) or OpenVINO could not handle this network
        raise StudioError(ErrorKind.MODEL_INVALID, f"{label} could not be quantized to int8; set the CPU engine to "
                          "openvino (fp16 weights) or torch.", str(e), field="cpu_engine") from e  # fmt: skip
    emit(Note(text=f"{label} now has int8 convolutions for OpenVINO, made in {duration(manifest['seconds'])} "
                   f"({size(sum(manifest['files'].values()))} in {target.root}); later jobs start at once."))  # fmt: skip
    return manifest


def f16_of(variant: Variant) -> Variant:
    """The fp16 variant an int8 one is made from."""
    return dataclasses.replace(variant, weights="f16")
