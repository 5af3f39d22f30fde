"""The upscale recipe: a picture, a factor and an upscaler (Lanczos, or a super-resolution model by name or path)
— the gallery's *Upscale…* and ``studio upscale`` freeze the same ``UpscaleSpec``."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from studio.core.image.finders import FileFinder, upscaler_finder
from studio.core.image.recipe import LANCZOS, image_problem
from studio.core.image.specs import UpscaleSpec
from studio.core.jobs import JobKind
from studio.core.jobs.fields import Field, FieldTable

UPSCALE = FieldTable(
    JobKind.UPSCALE,
    (
        Field("image", str, "", "Picture", "The picture to upscale.", cli="", metavar="IMAGE"),
        Field("scale", float, 2.0, "Scale", "How many times larger (2 doubles width and height).", 1.0, 8.0,
              step=0.5, decimals=2),
        Field("upscaler", str, LANCZOS, "Upscaler", "Lanczos (built in), or an upscaler model (ESRGAN, "
              "Real-ESRGAN, SwinIR, …) by its name or path.", metavar="NAME"),
        Field("tile", int, 256, "Tile", "A model upscales the picture in tiles of this many pixels a side, so "
              "memory stays bounded however large the picture.", 64, 2048, unit="px", step=64),
    ),
)  # fmt: skip


def freeze_upscale(draft: dict[str, Any], finder: FileFinder | None = None) -> UpscaleSpec | dict[str, str]:
    """The frozen upscale job, or the problems by field."""
    finder = finder or upscaler_finder([])
    problems: dict[str, str] = {}
    values = UPSCALE.convert(
        {**UPSCALE.defaults(), **{k: v for k, v in draft.items() if k in UPSCALE}}, problems
    )
    problems.update(UPSCALE.check(values, [n for n in values if n not in problems]))
    if not problems.get("image"):
        if not values.get("image"):
            problems["image"] = "Choose a picture to upscale."
        elif why := image_problem(values["image"], "picture"):
            problems["image"] = why
    if "upscaler" not in problems and values["upscaler"].lower() != LANCZOS.lower():
        found, why = finder.find(values["upscaler"])
        if found is None:
            problems["upscaler"] = why
        else:
            values["upscaler"] = str(found)
    elif "upscaler" not in problems:
        values["upscaler"] = LANCZOS
    if problems:
        return problems
    return UpscaleSpec(os.path.abspath(Path(values["image"]).expanduser()), values["scale"], values["upscaler"],
                       values["tile"])  # fmt: skip
