"""Where each word acts: a word's cross-attention map (how much each part of the picture attended to the word's
tokens, averaged over heads, layers and steps — DAAM's idea), and how it is drawn over the picture."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np
from PIL import Image

from studio.core.image.specs import GenerateSpec
from studio.core.jobs import JobKind


@dataclass(frozen=True)
class AttentionSpec:
    """Make ``spec``'s picture again while recording where ``words`` act; the maps go to ``out`` as
    ``WORD.png`` (drawn over the picture) and ``WORD.map.png`` (the map alone)."""

    kind: ClassVar[JobKind] = JobKind.ATTENTION

    spec: GenerateSpec
    words: tuple[str, ...]
    out: str

    @property
    def image_count(self) -> int:
        return 1


def word_positions(prompt: str, word: str, ids, chunk: int = 75) -> list[int]:  # noqa: ANN001 - ids(text) -> list[int]
    """The positions of ``word``'s tokens in the encoder's sequence (chunks of start + 75 + end), every time it
    occurs in the prompt; [] when it does not."""
    from studio.core.image.tokens import chunk_tokens

    target = ids(word)
    if not target:
        return []
    found = []
    for c, tokens in enumerate(chunk_tokens(prompt, ids, chunk)):
        seq = [t for t, _ in tokens]
        for i in range(len(seq) - len(target) + 1):
            if seq[i : i + len(target)] == target:
                found += [c * (chunk + 2) + 1 + i + j for j in range(len(target))]
    return found


def heat_colours(values: np.ndarray) -> np.ndarray:
    """A 0–1 map as colours from dark blue through red to yellow (an inferno-like ramp)."""
    v = np.clip(values, 0.0, 1.0)[..., None]
    stops = np.array(
        [[0, 0, 40], [90, 20, 120], [200, 50, 60], [250, 150, 30], [255, 240, 120]], dtype=np.float32
    )
    pos = v * (len(stops) - 1)
    lo = np.floor(pos).astype(int).clip(0, len(stops) - 2)
    t = pos - lo
    return (stops[lo[..., 0]] * (1 - t) + stops[lo[..., 0] + 1] * t).astype(np.uint8)


def overlay(picture: Image.Image, heat: np.ndarray, strength: float = 0.6) -> tuple[Image.Image, Image.Image]:
    """(the map drawn over the picture, the map alone), both at the picture's size."""
    span = float(heat.max() - heat.min()) or 1.0
    norm = (heat - heat.min()) / span
    small = Image.fromarray((norm * 255).astype(np.uint8), "L")
    big = np.asarray(small.resize(picture.size, Image.Resampling.BICUBIC), dtype=np.float32) / 255.0
    colours = Image.fromarray(heat_colours(big), "RGB")
    return Image.blend(picture.convert("RGB"), colours, strength), colours
