"""Finishing passes after the base model's denoising: SDXL's refiner."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from studio.core.image.prompt_schedule import schedule, text_at
from studio.core.image.specs import GenerateSpec
from studio.core.jobs.errors import ErrorKind, StudioError
from studio.core.jobs.events import Event
from studio.engine.pipelines import PipelineCache, pipeline_for, set_scheduler
from studio.engine.prompt_encoding import encode

Emit = Callable[[Event], None]


def refine(
    refiners: PipelineCache,
    spec: GenerateSpec,
    prompts: tuple[str, str],
    latents: Any,
    seeds: list[int],
    on_step: Callable[..., dict],
    emit: Emit,
) -> Any:
    """SDXL's ensemble of experts: the refiner denoises from the switch point on, from the base's latents."""
    import torch

    from studio.core.jobs.events import Loading

    prompt, negative = prompts
    refiner = refiners.get(
        spec.refiner, on_loading=lambda name: emit(Loading(what=f"Loading the refiner {name}…"))
    )
    if refiner.family != "sdxl":
        raise StudioError(ErrorKind.INVALID_INPUT, f"{Path(spec.refiner).name} is not an SDXL refiner "
                          f"({refiner.family.upper()}).", field="refiner")  # fmt: skip
    pipe = pipeline_for(refiner, "img2img")
    set_scheduler(refiner, pipe, spec.sampler, spec.schedule)
    final = len(seeds) and spec.steps  # the prompt as edited by its last step
    call = encode(pipe, text_at(schedule(prompt, final), final),
                  text_at(schedule(negative, final), final) if spec.cfg_scale > 1.0 else None, spec.clip_skip,
                  spec.prompt_2)  # fmt: skip
    gens = [torch.Generator("cpu").manual_seed(s) for s in seeds]
    return pipe(
        image=latents,
        num_inference_steps=spec.steps,
        denoising_start=spec.refiner_switch,
        guidance_scale=spec.cfg_scale,
        num_images_per_prompt=len(seeds),
        output_type="latent",
        generator=gens,
        callback_on_step_end=on_step,
        callback_on_step_end_tensor_inputs=["latents"],
        **call,
    ).images
