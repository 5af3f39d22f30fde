"""The creative upscale (Ultimate SD Upscale's and Krita's *upscale and refine*): the picture upscaled (Lanczos or an
upscaler model), then re-diffused tile by tile at the model's working size — ``creativity`` is how much each tile
may change, ``structure`` how strongly a tile ControlNet holds it to the upscaled picture — and the tiles blended
over ramps where they overlap, so no seam shows. Memory is one tile's work plus the output picture."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from studio.core.image.specs import GenerateSpec, UpscaleSpec
from studio.core.jobs import JobKind


@dataclass(frozen=True)
class RefineUpscaleSpec:
    """``image`` × ``scale`` by ``upscaler``, then refined with ``recipe``'s model, prompts, sampler, steps and seed
    in tiles of ``tile`` px (``controlnet``: a tile ControlNet for the model's family, or "")."""

    kind: ClassVar[JobKind] = JobKind.UPSCALE

    image: str
    recipe: GenerateSpec
    scale: float = 2.0
    upscaler: str = "Lanczos"
    creativity: float = 0.35
    structure: float = 0.6
    tile: int = 512
    controlnet: str = ""

    @property
    def upscaler_name(self) -> str:
        return UpscaleSpec(self.image, self.scale, self.upscaler).upscaler_name

    @property
    def overlap(self) -> int:
        return max(8, self.tile // 8 // 8 * 8)


def tile_boxes(width: int, height: int, tile: int, overlap: int) -> list[tuple[int, int, int, int]]:
    """Tiles (x0, y0, x1, y1) covering the picture, each ``tile`` px (or the picture's side, a multiple of 8)
    and overlapping its neighbours by at least ``overlap`` px."""

    def starts(side: int, size: int) -> list[int]:
        if side <= size:
            return [0]
        step = size - overlap
        out = list(range(0, side - size, step))
        return [*out, side - size]

    tw, th = min(tile, width // 8 * 8), min(tile, height // 8 * 8)
    return [(x, y, x + tw, y + th) for y in starts(height, th) for x in starts(width, tw)]


def ramp(length: int, overlap: int, ramp_start: bool, ramp_end: bool) -> list[float]:
    """A tile's weights along one side: rising over the first ``overlap`` px where a neighbour comes before it,
    falling over the last where one comes after, 1 between."""
    out = []
    for i in range(length):
        w = 1.0
        if ramp_start:
            w = min(w, (i + 0.5) / overlap)
        if ramp_end:
            w = min(w, (length - i - 0.5) / overlap)
        out.append(max(w, 1e-3))
    return out


def is_tile_controlnet(name: str) -> bool:
    """Whether a ControlNet is a tile one, by its name (lllyasviel's control_v11f1e_sd15_tile, TTPLanet's, …)."""
    return "tile" in name.lower()
