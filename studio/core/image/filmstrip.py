"""A result's denoising filmstrip: the model's predicted final picture after every step, from noise to picture.
Kept beside the image as a hidden animated WebP (``.NAME.steps.webp``: the gallery does not list it as a picture
of its own), and exported as a contact strip or an animation."""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from PIL import Image

from studio.core.image.specs import GenerateSpec
from studio.core.io.untrusted import is_file
from studio.core.jobs import JobKind

FRAME_MS = 150


@dataclass(frozen=True)
class StepsSpec:
    """*Steps* of a picture that has no filmstrip: its recipe made again (the same seed: the same picture) only to
    record the steps; the filmstrip goes beside ``image`` and nothing is added to the gallery."""

    kind: ClassVar[JobKind] = JobKind.STEPS

    spec: GenerateSpec
    image: str

    @property
    def image_count(self) -> int:
        return 1


def filmstrip_path(image: Path) -> Path:
    return image.parent / f".{image.stem}.steps.webp"


def write_filmstrip(frames: list[Image.Image], target: Path, size: tuple[int, int] | None = None) -> Path:
    """An animated WebP of the frames (all at ``size``, default the last frame's), written atomically."""
    size = size or frames[-1].size
    fitted = [
        f.convert("RGB") if f.size == size else f.convert("RGB").resize(size, Image.Resampling.BICUBIC)
        for f in frames
    ]
    fd, tmp = tempfile.mkstemp(prefix=".studio-", suffix=".webp", dir=target.parent)
    os.close(fd)
    try:
        fitted[0].save(tmp, "WEBP", save_all=True, append_images=fitted[1:], duration=FRAME_MS, loop=0,
                       lossless=True)  # fmt: skip
        os.replace(tmp, target)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return target


def read_filmstrip(path: Path, limit: int = 1000) -> list[Image.Image]:
    """The frames of a filmstrip ([] when there is none or it cannot be read)."""
    if not is_file(path):
        return []
    frames: list[Image.Image] = []
    try:
        with Image.open(path) as im:
            for i in range(min(getattr(im, "n_frames", 1), limit)):
                im.seek(i)
                frames.append(im.convert("RGB"))
    except (OSError, ValueError, EOFError, Image.DecompressionBombError):
        return []
    return frames


def contact_strip(frames: list[Image.Image], every: int = 1, height: int = 128) -> Image.Image:
    """The frames side by side (every ``every``-th, and always the last), each ``height`` pixels high."""
    chosen = frames[:: max(1, every)]
    if frames and chosen[-1] is not frames[-1]:
        chosen.append(frames[-1])
    scaled = [
        f.resize((max(1, round(f.width * height / f.height)), height), Image.Resampling.LANCZOS)
        for f in chosen
    ]
    strip = Image.new("RGB", (sum(f.width for f in scaled) + 4 * (len(scaled) - 1), height), (24, 24, 24))
    x = 0
    for f in scaled:
        strip.paste(f, (x, 0))
        x += f.width + 4
    return strip
