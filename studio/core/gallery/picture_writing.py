"""Writing one picture's file: whole or not at all, and — when the runtime has set up a ``Finishing`` — through
the content filter, the watermark and the signed Content Credentials."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Protocol

from PIL import Image

from studio.core.io.atomic import atomic_write, atomic_write_bytes
from studio.core.jobs.errors import ErrorKind, StudioError


class Finishing(Protocol):
    """What becomes of a picture on its way to disk (``studio.provenance.sealing.Sealer``): a content filter's
    look, then the file's bytes (watermark, recipe, signed Content Credentials)."""

    def screen(self, image: Image.Image) -> str: ...

    def seal(self, image: Image.Image, pnginfo: Any, record: dict[str, Any], title: str) -> bytes: ...

    def take_notices(self) -> list[str]: ...

    def anchors(self) -> bytes: ...  # the certificates this installation trusts (its own CA), PEM

    def seal_copy(self, source: Path, image: Image.Image, info: dict[Any, Any], fmt: str, with_recipe: bool
                  ) -> bytes: ...  # fmt: skip  # an exported copy's bytes


def write_png_atomic(image: Image.Image, target: Path, pnginfo=None) -> None:
    """Write a PNG so that ``target`` is either absent or complete."""
    atomic_write(target, lambda f: image.save(f, format="PNG", pnginfo=pnginfo, compress_level=4))


def screen(finish: Finishing | None, image: Image.Image) -> None:
    """``StudioError`` (BLOCKED) when the content filter holds the picture back."""
    if finish and (why := finish.screen(image)):
        raise StudioError(
            ErrorKind.BLOCKED, f"The content filter held this picture back ({why}); it was not saved."
        )


def write_picture(
    image: Image.Image, target: Path, meta: Any, record: dict[str, Any], finish: Finishing | None
) -> None:
    """The picture's file, written whole or not at all: watermarked and signed when ``finish`` says so."""
    if finish is None:
        write_png_atomic(image, target, meta)
        return
    data = finish.seal(image, meta, record, target.name)
    atomic_write_bytes(target, data)
