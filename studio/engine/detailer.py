"""The detailer's pass over a finished picture (ADetailer's way): each thing the detector finds is cropped with
padding, redrawn by the image model's inpainting at the picture's working size with its own prompt, and pasted back
through its feathered mask (Segment Anything's outline where a segmenter is present, else the box)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from PIL import Image, ImageDraw, ImageFilter

from studio.core.image.detail import NO_DETECTOR, DetailUnit
from studio.core.image.specs import GenerateSpec
from studio.core.jobs.cancel import CancelToken
from studio.core.jobs.errors import ErrorKind, StudioError
from studio.core.jobs.events import Event, Note
from studio.engine.segmentation import Selector, detect, segment

Emit = Callable[[Event], None]
PADDING = 32  # pixels around each thing found (ADetailer's inpaint padding)
MASK_BLUR = 4
MOST = 8  # things redrawn per unit, largest first


class Detailer:
    """The detail pass, with the detector and segmenter of the library (``vision(kind)``: a model's folder or
    None) kept loaded between pictures."""

    def __init__(self, vision: Callable[[str], Path | None]):
        self.vision = vision
        self.selector = Selector()

    def clear(self) -> None:
        self.selector.clear()

    def __call__(self, redraw: Callable[..., Image.Image], spec: GenerateSpec, picture: Image.Image, seed: int,
                 emit: Emit, cancel: CancelToken) -> Image.Image:  # fmt: skip
        """``picture`` with each unit's finds redrawn; ``redraw(crop, mask, prompt, strength, seed)`` inpaints."""
        detector = self.vision("detector")
        if detector is None:
            raise StudioError(ErrorKind.INVALID_INPUT, NO_DETECTOR, field="details")
        segmenter = self.vision("segmenter")
        for unit in spec.details:
            found = detect(*self.selector.model(str(detector), "details", emit), picture, unit.target,
                           unit.confidence)  # fmt: skip
            if not found:
                emit(Note(text=f"The detailer found no {unit.target} (confidence {unit.confidence:g}); that part "
                               "of the picture is as it was made."))  # fmt: skip
                continue
            found = sorted(found, key=lambda f: -(f[2] - f[0]) * (f[3] - f[1]))[:MOST]
            sam = self.selector.model(str(segmenter), "details", emit) if segmenter else None
            for box in found:
                cancel.raise_if_cancelled()
                mask = _mask(picture, box[:4], sam)
                picture = _redraw_one(redraw, picture, mask, box[:4], unit, spec, seed)
        return picture


def _mask(
    picture: Image.Image, box: tuple[float, float, float, float], sam: tuple[Any, Any] | None
) -> Image.Image:
    """The thing's outline (the segmenter's, grown a little) or its box."""
    if sam is not None:
        processor, model = sam
        return segment(processor, model, picture, (), (), [box]).filter(ImageFilter.MaxFilter(9))
    mask = Image.new("L", picture.size, 0)
    ImageDraw.Draw(mask).rectangle([round(v) for v in box], fill=255)
    return mask


def _redraw_one(redraw: Callable[..., Image.Image], picture: Image.Image, mask: Image.Image,
                box: tuple[float, float, float, float], unit: DetailUnit, spec: GenerateSpec,
                seed: int) -> Image.Image:  # fmt: skip
    """Crop around ``box`` with padding, redraw at the job's working size, paste back through the feathered mask."""
    w, h = picture.size
    x0, y0 = max(0, int(box[0]) - PADDING), max(0, int(box[1]) - PADDING)
    x1, y1 = min(w, int(box[2] + 0.999) + PADDING), min(h, int(box[3] + 0.999) + PADDING)
    crop, crop_mask = picture.crop((x0, y0, x1, y1)), mask.crop((x0, y0, x1, y1))
    side = max(spec.width, spec.height)
    scale = side / max(crop.size)
    work = (max(64, round(crop.width * scale / 64) * 64), max(64, round(crop.height * scale / 64) * 64))
    made = redraw(crop.resize(work, Image.Resampling.LANCZOS), crop_mask.resize(work, Image.Resampling.BILINEAR),
                  unit.prompt or spec.prompt, unit.strength, seed)  # fmt: skip
    made = made.resize(crop.size, Image.Resampling.LANCZOS)
    out = picture.copy()
    out.paste(Image.composite(made, crop, crop_mask.filter(ImageFilter.GaussianBlur(MASK_BLUR))), (x0, y0))
    return out


def inpainter(model: Any, spec: GenerateSpec, prompts: Any, negative: str) -> Callable[..., Image.Image]:
    """``redraw(crop, mask, prompt, strength, seed)``: the job's model inpainting a crop at its size with the job's
    sampler, steps and CFG (``prompts``: the engine's prompt cache)."""

    def redraw(crop: Image.Image, mask: Image.Image, prompt: str, strength: float, seed: int) -> Image.Image:
        import torch

        from studio.engine.decoding import decode
        from studio.engine.pipelines import pipeline_for, set_scheduler

        pipe = pipeline_for(model, "inpaint")
        set_scheduler(model, pipe, spec.sampler, spec.schedule)
        latents = pipe(image=crop, mask_image=mask, strength=strength, num_inference_steps=spec.steps,
                       guidance_scale=spec.cfg_scale, width=crop.width, height=crop.height, output_type="latent",
                       generator=torch.Generator("cpu").manual_seed(seed),
                       **prompts.encoded(model, pipe, spec, prompt, negative)).images  # fmt: skip
        return decode(model, pipe, latents)[0]

    return redraw


def detail_job(engine: Any, spec: Any, cancel: CancelToken, emit: Emit) -> list[Any]:
    """A ``DetailSpec``: the detail pass over an existing picture, saved as its child with its recipe and the
    details added (``engine``: the ImageEngine, whose models, prompt cache and gallery it uses)."""
    import time

    from studio.core.image.image_metadata import RenderInfo
    from studio.core.jobs.events import ItemSaved
    from studio.engine.segmentation import read_picture

    picture = read_picture(spec.image)
    recipe = spec.recipe
    model = engine.load(recipe, emit)
    cancel.raise_if_cancelled()
    started = time.perf_counter()
    redraw = inpainter(model, recipe, engine.prompts, recipe.negative_prompt if recipe.cfg_scale > 1 else "")
    result = engine.detailer(redraw, recipe, picture, recipe.seed, emit, cancel)
    info = RenderInfo(device=model.placement.device, seconds=time.perf_counter() - started)
    item = engine.store.save(result, recipe.replace(parent_image=spec.image), info)
    emit(ItemSaved(item=item))
    return [item]
