"""Opening pictures that come from outside (files, folders, servers): only the formats Studio uses are decoded —
never a Pillow plugin that runs another program (EPS runs Ghostscript) — within Pillow's pixel limit."""

from __future__ import annotations

from typing import IO, Any

from PIL import Image

SERVER_FORMATS = ("PNG", "JPEG", "WEBP")  # what an image server may send
FILE_FORMATS = ("PNG", "JPEG", "WEBP", "BMP", "GIF", "TIFF")  # what a user's picture may be
SHELLING_OUT = ("EPS",)  # plugins that start a program to decode: never reachable


def lock_down() -> None:
    """Unregister the plugins that run programs (idempotent); called once Studio's back end is built."""
    Image.init()
    for name in SHELLING_OUT:
        Image.OPEN.pop(name, None)
        if name in Image.ID:
            Image.ID.remove(name)


def open_picture(source: str | Any | IO[bytes], formats: tuple[str, ...] = FILE_FORMATS) -> Image.Image:
    """``Image.open`` with an allow-list of formats: anything else raises ``UnidentifiedImageError`` before any
    decoding (and a picture above Pillow's pixel limit ``DecompressionBombError``)."""
    lock_down()
    return Image.open(source, formats=list(formats))
