"""The creative upscale's work: upscale, then image-to-image tile by tile (with the tile ControlNet where one is
given), each tile blended into float sums over its ramps; the picture is saved as its source's child."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from PIL import Image

from studio.core.image.tiled_refine import RefineUpscaleSpec, ramp, tile_boxes
from studio.core.jobs.cancel import CancelToken
from studio.core.jobs.errors import ErrorKind, StudioError
from studio.core.jobs.events import Event, ItemSaved, Loading, Note, Progress

Emit = Callable[[Event], None]


def refine_upscale(engine: Any, spec: RefineUpscaleSpec, cancel: CancelToken, emit: Emit) -> list[Any]:
    """``engine``: the ImageEngine (its models, upscaler, ControlNets, prompt cache and gallery)."""
    from studio.core.image.image_metadata import RenderInfo
    from studio.core.image.recipe import LANCZOS
    from studio.core.image.specs import MAX_UPSCALED
    from studio.engine.segmentation import read_picture
    from studio.engine.upscale import upscale

    picture = read_picture(spec.image)
    size = (round(picture.width * spec.scale), round(picture.height * spec.scale))
    if max(size) > MAX_UPSCALED or min(size) < 64:
        raise StudioError(ErrorKind.INVALID_INPUT, f"{picture.width}×{picture.height} × {spec.scale:g} is "
                          f"{size[0]}×{size[1]}: a refined upscale is 64–{MAX_UPSCALED} px a side.", field="scale")  # fmt: skip
    started = time.perf_counter()
    model = engine.load(
        spec.recipe, emit, needs_torch="A tiled refine runs on torch" if spec.controlnet else ""
    )
    upscaler = None
    if spec.upscaler != LANCZOS:
        emit(Loading(what=f"Upscaling with {Path(spec.upscaler).stem}…"))
        upscaler = engine.upscaler(spec.upscaler, model.placement.device)
    big = upscale(picture, size, upscaler) if upscaler is not None else upscale(picture, size, None)
    cancel.raise_if_cancelled()
    redraw = _tile_redrawer(engine, model, spec, emit)
    result = _blend_tiles(big, spec, redraw, cancel, emit)
    info = RenderInfo(device=model.placement.device, seconds=time.perf_counter() - started,
                      postprocess=(("Postprocess upscale by", f"{spec.scale:g}"),
                                   ("Postprocess upscaler", Path(spec.upscaler).stem if "/" in spec.upscaler
                                    else spec.upscaler), ("Tiled refine creativity", f"{spec.creativity:g}"),
                                   ("Tiled refine structure", f"{spec.structure:g}" if spec.controlnet else "none")))  # fmt: skip
    recipe = spec.recipe.replace(width=size[0] // 8 * 8, height=size[1] // 8 * 8, parent_image=spec.image)
    item = engine.store.save(result, recipe, info)
    emit(ItemSaved(item=item))
    return [item]


def _tile_redrawer(
    engine: Any, model: Any, spec: RefineUpscaleSpec, emit: Emit
) -> Callable[[Image.Image], Image.Image]:
    """One tile re-diffused at the creativity, held by the tile ControlNet at the structure where there is one."""
    import torch

    from studio.engine.decoding import decode
    from studio.engine.pipelines import pipeline_for, set_scheduler

    recipe = spec.recipe
    net = None
    if spec.controlnet:
        emit(Loading(what=f"Loading the ControlNet {Path(spec.controlnet).stem}…"))
        net = engine.guidance.controlnet(spec.controlnet, model)
    else:
        emit(Note(text="No tile ControlNet for this model: each tile keeps to the upscaled picture by the "
                       "creativity alone (get lllyasviel/control_v11f1e_sd15_tile for SD 1.x to hold it closer)."))  # fmt: skip
    pipe = pipeline_for(model, "img2img", net)
    set_scheduler(model, pipe, recipe.sampler, recipe.schedule)
    negative = recipe.negative_prompt if recipe.cfg_scale > 1 else ""
    encoded = engine.prompts.encoded(model, pipe, recipe, recipe.prompt, negative)

    def redraw(tile: Image.Image) -> Image.Image:
        call: dict[str, Any] = {"image": tile, "strength": spec.creativity, "num_inference_steps": recipe.steps,
                                "guidance_scale": recipe.cfg_scale, "output_type": "latent",
                                "generator": torch.Generator("cpu").manual_seed(recipe.seed), **encoded}  # fmt: skip
        if net is not None:
            call.update(control_image=tile, controlnet_conditioning_scale=spec.structure)
        return decode(model, pipe, pipe(**call).images)[0]

    return redraw


def _blend_tiles(big: Image.Image, spec: RefineUpscaleSpec, redraw: Callable[[Image.Image], Image.Image],
                 cancel: CancelToken, emit: Emit) -> Image.Image:  # fmt: skip
    """Each tile redrawn and added into float sums over its ramps (the overlaps fade from one tile to the next)."""
    import numpy as np

    width, height = big.size
    boxes = tile_boxes(width, height, spec.tile, spec.overlap)
    total = np.zeros((height, width, 3), np.float32)
    weight = np.zeros((height, width, 1), np.float32)
    for i, (x0, y0, x1, y1) in enumerate(boxes):
        cancel.raise_if_cancelled()
        made = redraw(big.crop((x0, y0, x1, y1)).convert("RGB")).resize((x1 - x0, y1 - y0))
        wx = np.array(ramp(x1 - x0, spec.overlap, x0 > 0, x1 < width), np.float32)
        wy = np.array(ramp(y1 - y0, spec.overlap, y0 > 0, y1 < height), np.float32)
        w = (wy[:, None] * wx[None, :])[..., None]
        total[y0:y1, x0:x1] += np.asarray(made, np.float32) * w
        weight[y0:y1, x0:x1] += w
        emit(Progress(step=i + 1, total=len(boxes)))
    return Image.fromarray((total / np.maximum(weight, 1e-6)).round().clip(0, 255).astype(np.uint8))
