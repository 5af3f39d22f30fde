"""Live painting's frames (Krita AI Diffusion's live mode): the box's picture through image to image at a low
strength with the job's model — a few-step one (LCM, Turbo, Lightning) makes a frame in a moment — shown as a
preview, never saved."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from studio.core.image.detail_job import LiveSpec
from studio.core.jobs.cancel import CancelToken
from studio.core.jobs.events import Event, Preview


def live_frame(engine: Any, spec: LiveSpec, cancel: CancelToken, emit: Callable[[Event], None]) -> list[Any]:
    """``engine``: the ImageEngine (its loaded models and prompt cache)."""
    import torch

    from studio.engine.decoding import decode
    from studio.engine.image_io import load_input_image
    from studio.engine.pipelines import pipeline_for, set_scheduler

    recipe = spec.recipe
    model = engine.load(recipe, emit)
    pipe = pipeline_for(model, "img2img")
    set_scheduler(model, pipe, recipe.sampler, recipe.schedule)
    init = load_input_image(recipe.init_image or "", (recipe.width, recipe.height), "init_image")
    negative = recipe.negative_prompt if recipe.cfg_scale > 1 else ""

    def on_step(p: Any, step: int, t: Any, kw: dict[str, Any]) -> dict[str, Any]:
        cancel.raise_if_cancelled()  # a newer frame is wanted: this one stops at once
        return kw

    latents = pipe(image=init, strength=recipe.strength, num_inference_steps=recipe.steps,
                   guidance_scale=recipe.cfg_scale, output_type="latent", callback_on_step_end=on_step,
                   generator=torch.Generator("cpu").manual_seed(recipe.seed),
                   **engine.prompts.encoded(model, pipe, recipe, recipe.prompt, negative)).images  # fmt: skip
    cancel.raise_if_cancelled()
    emit(Preview(image=decode(model, pipe, latents)[0], step=recipe.steps, item=0))
    return []
