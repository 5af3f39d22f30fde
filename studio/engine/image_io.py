"""Opening the pictures a job names (init images, masks, control and reference images): EXIF orientation applied,
an unreadable file a sentence beside its field."""

from __future__ import annotations

from pathlib import Path

from PIL import Image, ImageOps, UnidentifiedImageError

from studio.core.io.pictures import open_picture as open_allowed
from studio.core.jobs.errors import ErrorKind, StudioError


def open_picture(path: str, field: str, mode: str = "RGB") -> Image.Image:
    try:
        with open_allowed(path) as raw:
            return ImageOps.exif_transpose(raw).convert(mode)
    except (UnidentifiedImageError, OSError, Image.DecompressionBombError, ValueError) as e:
        raise StudioError(
            ErrorKind.INVALID_INPUT,
            f"{Path(path).name} is not an image Studio can read.",
            repr(e),
            field=field,
        ) from e


def load_input_image(path: str, size: tuple[int, int], field: str, mode: str = "RGB") -> Image.Image:
    """Open an init image or mask, apply EXIF orientation, and fit it to ``size`` (scale to cover, centre crop)."""
    im = open_picture(path, field, mode)
    if im.size != size:
        im = ImageOps.fit(im, size, Image.Resampling.LANCZOS)
    return im
