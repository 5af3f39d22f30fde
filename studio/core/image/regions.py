"""Regional prompts: parts of the picture (a box in fractions of the width and height, or a painted mask), each
with a prompt of its own over the job's prompt, which holds everywhere a region does not. Declared once: the
command line's ``X0,Y0,X1,Y1:PROMPT[:W]`` / ``MASK.png:PROMPT[:W]``, the recipe's objects, and the words written
into AUTOMATIC1111's text (``Region 1: "0,0,0.5,1: a dog: 1"``) and read back from it."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from studio.core.io.untrusted import lst, number, obj, text

REGION_MODES = ("attention", "denoise")
MAX_REGIONS = 8
WHOLE = (0.0, 0.0, 1.0, 1.0)
_NUMBER = r"\s*-?(\d+(\.\d*)?|\.\d+)\s*"
_BOX = re.compile(rf"{_NUMBER},{_NUMBER},{_NUMBER},{_NUMBER}")
FORM = (
    "A region is X0,Y0,X1,Y1:PROMPT[:WEIGHT] (fractions of the width and height) or MASK.png:PROMPT[:WEIGHT]"
)


@dataclass(frozen=True)
class RegionUnit:
    """A part of the picture with its own prompt. ``box``: (x0, y0, x1, y1) as fractions of the width and height;
    ``mask``: a picture whose white marks the region instead (grey is partly in it); ``weight``: the region
    prompt's share inside its area (1: the region's prompt alone; 0.7: 70 % of it, 30 % the job's prompt)."""

    prompt: str
    box: tuple[float, float, float, float] = WHOLE
    mask: str = ""
    weight: float = 1.0

    @property
    def area(self) -> str:
        """Where the region is, as the command line writes it."""
        return self.mask or ",".join(f"{v:g}" for v in self.box)

    def as_text(self) -> str:
        return f"{self.area}: {self.prompt}: {self.weight:g}"


def _box_of(area: str) -> tuple[float, float, float, float] | str:
    x0, y0, x1, y1 = (float(v) for v in area.split(","))
    if not (0 <= x0 < x1 <= 1 and 0 <= y0 < y1 <= 1):
        return (f"The region box {area.strip()} is not inside the picture: give X0,Y0,X1,Y1 as fractions, "
                "0 ≤ X0 < X1 ≤ 1 and 0 ≤ Y0 < Y1 ≤ 1 (0,0,0.5,1 is the left half).")  # fmt: skip
    return (x0, y0, x1, y1)


def _from_text(value: str) -> dict[str, Any] | str:
    """``AREA:PROMPT[:WEIGHT]``: the area is a box or a mask file (a Windows drive kept with its path); a last part
    that is a number is the weight."""
    value = value.strip()
    drive = re.match(r"[A-Za-z]:[\\/]", value)
    cut = value.find(":", 2 if drive else 0)
    if cut < 0:
        return f"{FORM}, e.g. 0,0,0.5,1:a castle:0.8."
    area, rest = value[:cut].strip(), value[cut + 1 :]
    head, sep, tail = rest.rpartition(":")
    weight = 1.0
    if sep and re.fullmatch(_NUMBER, tail):
        rest, weight = head, float(tail)
    return {"area": area, "prompt": rest.strip(), "weight": weight}


def parse_region(value: Any, base: Path | None = None) -> dict[str, Any] | str:
    """A region as a dict (prompt, box, mask, weight) from the command line's text or a recipe's object, or a
    sentence saying what is wrong. A mask's path is made absolute (relative to ``base``, else the working folder)."""
    if isinstance(value, RegionUnit):
        value = {"prompt": value.prompt, "box": list(value.box), "mask": value.mask, "weight": value.weight}
    if isinstance(value, dict):
        d = obj(value)
        box = lst(d.get("box")) or list(WHOLE)
        mask = text(d.get("mask")).strip()
        area = mask or ",".join(str(v) for v in box)
        weight = number(d.get("weight"))
        parts: dict[str, Any] | str = {"area": area, "prompt": text(d.get("prompt")).strip(),
                                       "weight": 1.0 if weight is None else weight}  # fmt: skip
    elif isinstance(value, str):
        parts = _from_text(value)
    else:
        return f"{FORM}, or an object with prompt, box (or mask) and weight."
    if isinstance(parts, str):
        return parts
    if not parts["prompt"]:
        return f"The region {parts['area'][:60]} has no prompt: {FORM}."
    if not 0 <= parts["weight"] <= 1:
        return (f"The region {parts['area'][:60]}: the weight is the region prompt's share inside it, "
                f"between 0 and 1 (given {parts['weight']:g}).")  # fmt: skip
    out: dict[str, Any] = {
        "prompt": parts["prompt"],
        "box": WHOLE,
        "mask": "",
        "weight": float(parts["weight"]),
    }
    if _BOX.fullmatch(parts["area"]):
        fractions = _box_of(parts["area"])
        if isinstance(fractions, str):
            return fractions
        out["box"] = fractions
    elif "," in parts["area"] and not Path(parts["area"]).suffix:
        return f"{FORM}: {parts['area'][:60]} is neither four fractions nor a mask file."
    else:
        path = Path(parts["area"]).expanduser()
        out["mask"] = os.path.abspath(path if path.is_absolute() or base is None else base / path)
    return out


def resolve_regions(listed: Any, problems: dict[str, str]) -> tuple[RegionUnit, ...]:
    """A draft's regions, frozen (a problem under ``regions`` for the first bad one)."""
    units = []
    items = lst(listed)
    if len(items) > MAX_REGIONS:
        problems["regions"] = f"At most {MAX_REGIONS} regions in one picture (given {len(items)})."
        return ()
    for i, item in enumerate(items):
        unit = parse_region(item)
        if isinstance(unit, str):
            problems["regions"] = f"Region {i + 1}: {unit}" if len(items) > 1 else unit
            continue
        units.append(RegionUnit(unit["prompt"], tuple(unit["box"]), unit["mask"], unit["weight"]))
    return tuple(units)


# -- AUTOMATIC1111's text ------------------------------------------------------------------------------------------
def region_entries(spec: Any) -> list[tuple[str, Any]]:
    return [(f"Region {i + 1}", r.as_text()) for i, r in enumerate(spec.regions)]


def read_regions(params: Mapping[str, str], reading: Any) -> dict[str, Any]:
    """The regions a text carries (``Region 1``, ``Region 2``, …); a mask that is not on this machine is said."""
    regions: list[dict[str, Any]] = []
    keys = sorted((k for k in params if re.fullmatch(r"Region \d+", k)), key=lambda k: int(k.split()[1]))
    for key in keys[:MAX_REGIONS]:
        unit = parse_region(params[key])
        if isinstance(unit, str):
            reading.notes.append(f"{key} could not be read ({unit}); it was left out.")
        elif unit["mask"] and not Path(unit["mask"]).is_file():
            reading.notes.append(
                f"{key}'s mask {Path(unit['mask']).name} is not on this machine; it was left out."
            )
        else:
            regions.append(unit)
    return {"regions": regions} if regions else {}
