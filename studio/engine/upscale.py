"""Upscaling a picture: Lanczos (built in), or a super-resolution model (ESRGAN, Real-ESRGAN, SwinIR, HAT, …)
read by spandrel — run tile by tile, so memory stays bounded however large the picture.

spandrel's package imports torchvision for two architectures that are not upscalers (LaMa inpainting,
RestoreFormer face restoration); torchvision cannot be installed beside this torch (it pulls another torch), so
when it is missing Studio lends spandrel placeholders for those three names while importing it and takes them
away at once: the upscalers load, and those two architectures are refused with a sentence if ever met.
"""

from __future__ import annotations

import sys
import types
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PIL import Image

from studio.core.jobs.errors import ErrorKind, StudioError

LANCZOS = "Lanczos"
TILE = 256  # input pixels per tile side (the output tile is scale× that)
OVERLAP = 16  # input pixels shared by neighbouring tiles, blended


def _bad(message: str, details: str = "", field: str = "upscaler") -> StudioError:
    return StudioError(ErrorKind.MODEL_INVALID, message, details, field=field)


def _import_spandrel() -> Any:
    try:
        import spandrel
    except ModuleNotFoundError as e:
        if e.name == "spandrel" or e.name == "einops":
            raise _bad(
                "Model upscalers need spandrel: pip install --no-deps 'spandrel>=0.4,<0.5' einops "
                "(without its torchvision requirement, which would replace this torch)."
            ) from e
        if e.name is None or not e.name.startswith("torchvision"):
            raise
        return _import_spandrel_without_torchvision()
    return spandrel


def _import_spandrel_without_torchvision() -> Any:
    def needs(*_: Any, **__: Any) -> Any:
        raise RuntimeError("this spandrel architecture needs torchvision, which Studio does not install")

    functional = types.ModuleType("torchvision.transforms.functional")
    functional.InterpolationMode = type("InterpolationMode", (), {})  # type: ignore[attr-defined]
    functional.rotate = functional.normalize = needs  # type: ignore[attr-defined]
    names = ("torchvision", "torchvision.transforms", "torchvision.transforms.functional")
    lent = {name: types.ModuleType(name) for name in names[:2]}
    lent[names[2]] = functional
    lent["torchvision"].transforms = lent["torchvision.transforms"]  # type: ignore[attr-defined]
    lent["torchvision.transforms"].functional = functional  # type: ignore[attr-defined]
    sys.modules.update(lent)
    try:
        import spandrel
    finally:
        for name in names:  # nothing else may take them for the real torchvision
            if sys.modules.get(name) is lent[name]:
                del sys.modules[name]
    return spandrel


@dataclass
class ModelUpscaler:
    path: str
    scale: int
    model: Any  # spandrel's ImageModelDescriptor
    architecture: str


def load_model_upscaler(path: Path, allow_pickle: bool = False) -> ModelUpscaler:
    """A super-resolution model from a file, or a StudioError that says why not (not one, pickled, unknown)."""
    from studio.engine.pipelines import PICKLE_SUFFIXES, load_pickled_weights

    if not path.is_file():
        raise _bad(f"The upscaler {path} does not exist.")
    suffix = path.suffix.lower()
    if suffix in PICKLE_SUFFIXES:
        if not allow_pickle:
            raise _bad(
                f"{path.name} is a pickled file, which can run code when loaded; use a .safetensors version "
                "(or allow pickled files in the Models room, read with torch.load(weights_only=True))."
            )
        state = load_pickled_weights(path)
        state = state.get("params_ema") or state.get("params") or state
    elif suffix == ".safetensors":
        from safetensors.torch import load_file

        try:
            state = load_file(str(path))
        except Exception as e:  # noqa: BLE001 - a damaged or foreign file
            raise _bad(f"{path.name} is not a readable safetensors file.", repr(e)) from e
    else:
        raise _bad(f"{path.name} is not a model file (.safetensors, or a pickled .pth with the opt-in).")
    spandrel = _import_spandrel()
    try:
        descriptor = spandrel.ModelLoader().load_from_state_dict(state)
    except Exception as e:  # noqa: BLE001 - spandrel says "unsupported" in many ways
        raise _bad(
            f"{path.name} is not an upscaler Studio can run (spandrel does not recognise it).", repr(e)
        ) from e
    if not isinstance(descriptor, spandrel.ImageModelDescriptor) or descriptor.purpose != "SR":
        raise _bad(
            f"{path.name} is a {descriptor.architecture.name} model ({descriptor.purpose}), not an upscaler."
        )
    if descriptor.input_channels != 3 or descriptor.output_channels != 3:
        raise _bad(f"{path.name} works on {descriptor.input_channels}-channel pictures, not colour ones.")
    descriptor.eval()
    return ModelUpscaler(str(path), int(descriptor.scale), descriptor, descriptor.architecture.name)


def lanczos(image: Image.Image, size: tuple[int, int]) -> Image.Image:
    return image.convert("RGB").resize(size, Image.Resampling.LANCZOS)


def _ramp(n: int, overlap: int, start: bool, end: bool) -> Any:
    """Weights along one side of a tile: rising over the overlap where a neighbour comes before, falling where
    one comes after, 1 elsewhere."""
    import numpy as np

    w = np.ones(n, dtype=np.float32)
    if overlap > 0:
        edge = (np.arange(overlap, dtype=np.float32) + 0.5) / overlap
        if start:
            w[:overlap] = np.minimum(w[:overlap], edge)
        if end:
            w[-overlap:] = np.minimum(w[-overlap:], edge[::-1])
    return w


def run_tiled(
    up: ModelUpscaler,
    image: Image.Image,
    tile: int = TILE,
    overlap: int = OVERLAP,
    on_tile: Callable[[int, int], None] = lambda done, total: None,
) -> Image.Image:
    """The model's own scale, tile by tile (each ``tile``² input pixels, blended over ``overlap``): the memory
    is one tile's activations and the output picture, whatever the input size."""
    import numpy as np
    import torch

    rgb = np.asarray(image.convert("RGB"), dtype=np.float32) / 255.0
    h, w, _ = rgb.shape
    s = up.scale
    req = up.model.size_requirements
    tile = max(tile, req.minimum or 0)
    out = np.zeros((h * s, w * s, 3), dtype=np.float32)
    weight = np.zeros((h * s, w * s, 1), dtype=np.float32)
    rows, cols = tile_spans(h, tile, overlap), tile_spans(w, tile, overlap)
    total, done = len(rows) * len(cols), 0
    device = next(up.model.model.parameters()).device
    for y0, y1 in rows:
        for x0, x1 in cols:
            patch = torch.from_numpy(rgb[y0:y1, x0:x1].transpose(2, 0, 1).copy())[None].to(device)
            ph, pw = patch.shape[2:]
            pad_h, pad_w = _padding(ph, req), _padding(pw, req)
            if pad_h or pad_w:
                patch = torch.nn.functional.pad(patch, (0, pad_w, 0, pad_h), mode="reflect")
            with torch.inference_mode():
                result = up.model(patch)[0, :, : ph * s, : pw * s].clamp(0, 1).float().cpu().numpy()
            wy = _ramp(ph * s, overlap * s, y0 > 0, y1 < h)
            wx = _ramp(pw * s, overlap * s, x0 > 0, x1 < w)
            blend = (wy[:, None] * wx[None, :])[..., None]
            out[y0 * s : y1 * s, x0 * s : x1 * s] += result.transpose(1, 2, 0) * blend
            weight[y0 * s : y1 * s, x0 * s : x1 * s] += blend
            done += 1
            on_tile(done, total)
    out /= np.maximum(weight, 1e-6)
    return Image.fromarray((out * 255.0 + 0.5).clip(0, 255).astype(np.uint8))


def tile_spans(n: int, tile: int, overlap: int) -> list[tuple[int, int]]:
    """Evenly spaced tiles over ``n`` pixels, each overlapping the next by ``overlap``: as few as keep a tile
    within about ``tile`` pixels (at most 10 % more, rather than a last tile that mostly repeats its neighbour)."""
    if n <= tile:
        return [(0, n)]
    count = max(1, round((n - overlap) / (tile - overlap)))
    while -(-(n - overlap) // count) + overlap > tile * 1.1:
        count += 1
    side = -(-(n - overlap) // count) + overlap
    starts = [round(i * (n - side) / (count - 1)) for i in range(count)] if count > 1 else [0]
    return [(s, s + side) for s in starts]


def _padding(n: int, req: Any) -> int:
    """Pixels to add so a side meets the model's size requirements (a multiple of, a minimum)."""
    need = max(n, req.minimum or 0)
    multiple = req.multiple_of or 1
    need = -(-need // multiple) * multiple
    return need - n


def upscale(
    image: Image.Image,
    size: tuple[int, int],
    model: ModelUpscaler | None,
    on_tile: Callable[[int, int], None] = lambda done, total: None,
) -> Image.Image:
    """``image`` at ``size``: Lanczos, or the model (as many passes as the factor needs, then Lanczos to the
    exact size, as AUTOMATIC1111 does)."""
    if model is None:
        return lanczos(image, size)
    current = image.convert("RGB")
    while current.width < size[0] or current.height < size[1]:
        current = run_tiled(model, current, on_tile=on_tile)
    return current if current.size == size else lanczos(current, size)
