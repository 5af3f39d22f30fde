"""A recipe's units — ControlNet units and reference images (IP-Adapter) — each declared once: its parts, their
ranges and help, their words in AUTOMATIC1111's ControlNet text and the ComfyUI inputs that carry them. The
window's unit cards, the checks, the A1111 writer and reader and the ComfyUI translation read these tables."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from studio.core.image.control import PREPROCESSORS
from studio.core.io.untrusted import number, obj, text
from studio.core.jobs import JobKind
from studio.core.jobs.fields import FieldTable, Section, Words, aside, knob, on_node, table_of, unwritten

_APPLY = "ControlNetApplyAdvanced"


def model_name_of(path: str) -> str:
    """How a model is named in recipes and by AUTOMATIC1111: a file by its stem ("dreamshaper_8"), a folder by its
    name."""
    p = Path(path)
    return p.stem if p.suffix else p.name


def _share(default: float, label: str, help_text: str, key: str, top: float, comfy: str = "") -> Any:
    """A weight or a fraction of the steps: its range, its A1111 words, its ComfyUI input."""
    return knob(default, label=label, help=help_text, minimum=0.0, maximum=top, step=0.05, decimals=2,
                words=Words(key), comfy=on_node(_APPLY, comfy) if comfy else aside("an IP-Adapter runs here only"),
                axis=False, section=Section.CONTROLNET)  # fmt: skip


@dataclass(frozen=True)
class ControlUnit:
    """A ControlNet unit: where things go. ``image`` is preprocessed by ``preprocessor`` (canny, depth, …; "none"
    uses it as it is) and steers the model through the ControlNet ``model`` with ``weight``, from ``start`` to
    ``end`` (fractions of the steps)."""

    # fmt: off
    image: str = knob(label="Control image", help="The picture the map is made from.",
        words=unwritten("A1111 does not write the control image"), comfy=on_node("LoadImage", "image"),
        axis=False, section=Section.CONTROLNET)
    preprocessor: str = knob(label="Preprocessor", help="How the control map is made of the image.",
        choices=tuple(PREPROCESSORS), words=Words("Module"), comfy=aside("the map is made here and uploaded"),
        axis=False, section=Section.CONTROLNET)
    model: str = knob(label="ControlNet", help="The ControlNet model (of the image model's family).",
        words=Words("Model"), comfy=on_node("ControlNetLoader", "control_net_name"), axis=False,
        section=Section.CONTROLNET)
    weight: float = _share(1.0, "Weight", "How strongly the map steers the picture (1 is full).", "Weight", 2.0,
                           "strength")
    start: float = _share(0.0, "Start", "From which fraction of the steps it acts.", "Guidance Start", 1.0,
                          "start_percent")
    end: float = _share(1.0, "End", "Until which fraction of the steps it acts.", "Guidance End", 1.0,
                        "end_percent")
    threshold_a: float = knob(100.0, label="Low threshold", help="Canny's low threshold (A1111's Threshold A).",
        minimum=1.0, maximum=1000.0, words=Words("Threshold A"), comfy=aside("the map is made here"),
        axis=False, section=Section.CONTROLNET)
    threshold_b: float = knob(200.0, label="High threshold", help="Canny's high threshold (A1111's Threshold B).",
        minimum=1.0, maximum=1000.0, words=Words("Threshold B"), comfy=aside("the map is made here"),
        axis=False, section=Section.CONTROLNET)
    # fmt: on

    @property
    def model_name(self) -> str:
        return model_name_of(self.model)


@dataclass(frozen=True)
class ReferenceUnit:
    """A reference image (IP-Adapter): what the picture should look like. ``model`` is the IP-Adapter file,
    ``encoder`` the CLIP image encoder folder it was trained with."""

    # fmt: off
    image: str = knob(label="Reference image", help="What the picture should look like.",
        words=unwritten("A1111 does not write the reference image"), comfy=aside("refused on a server"),
        axis=False, section=Section.REFERENCES)
    model: str = knob(label="IP-Adapter", help="The IP-Adapter (found for the model's family).", words=Words("Model"),
        comfy=aside("refused on a server"), axis=False, section=Section.REFERENCES)
    encoder: str = knob(label="Image encoder", help="The CLIP image encoder the IP-Adapter was trained with.",
        words=unwritten("found again for the IP-Adapter"), comfy=aside("refused on a server"), axis=False,
        section=Section.REFERENCES)
    weight: float = _share(0.6, "Weight", "How much the picture takes after the reference (0.5–0.8 is typical).",
                           "Weight", 2.0)
    start: float = _share(0.0, "Start", "From which fraction of the steps it acts.", "Guidance Start", 1.0)
    end: float = _share(1.0, "End", "Until which fraction of the steps it acts.", "Guidance End", 1.0)
    # fmt: on


CONTROL_UNIT: FieldTable = table_of(ControlUnit, JobKind.IMAGE)
REFERENCE_UNIT: FieldTable = table_of(ReferenceUnit, JobKind.IMAGE)


def check_range(unit: dict[str, Any], what: str, table: FieldTable = CONTROL_UNIT) -> dict[str, Any] | str:
    """The unit when its numbers are in their declared ranges (and start comes before end); else a sentence."""
    for f in table.fields:
        if f.name in ("weight",) and f.name in unit and f.minimum is not None and f.maximum is not None:
            value = unit[f.name]
            if not f.minimum <= value <= f.maximum:
                return (f"{what}: the {f.label.lower()} must be between {f.minimum:g} and {f.maximum:g} "
                        f"(given {value:g}).")  # fmt: skip
    if not table["start"].minimum <= unit["start"] < unit["end"] <= table["end"].maximum:  # type: ignore[operator]
        return f"{what}: start and end are fractions of the steps, 0 ≤ start < end ≤ 1."
    low, high = unit.get("threshold_a", 100.0), unit.get("threshold_b", 200.0)
    if not CONTROL_UNIT["threshold_a"].minimum <= low <= high <= CONTROL_UNIT["threshold_b"].maximum:  # type: ignore[operator]
        return f"{what}: the thresholds are 1 ≤ low ≤ high ≤ 1000 (given {low:g} and {high:g})."
    return unit


def unit_text(unit: Any, table: FieldTable) -> str:
    """A unit as AUTOMATIC1111's ControlNet extension writes it (``Module: canny, Model: …, Weight: 1, …``): each
    part by its declared words; an IP-Adapter is a unit there too; the thresholds for canny alone."""
    parts = []
    for f in table.fields:
        words = f.words
        if (
            words is None
            or not words.key
            or (f.name.startswith("threshold") and unit.preprocessor != "canny")
        ):
            continue
        value = getattr(unit, f.name)
        if f.name == "preprocessor":
            value = PREPROCESSORS[value].a1111 if value in PREPROCESSORS else value
        elif f.name == "model":
            value = model_name_of(value)
        parts.append(f"{words.key}: {value:g}" if isinstance(value, float) else f"{words.key}: {value}")
    if table is REFERENCE_UNIT:
        parts.insert(0, "Module: ip-adapter_clip")
    return ", ".join(parts)


def control_text(unit: Any) -> str:
    return unit_text(unit, CONTROL_UNIT)


def settings_of(value: str) -> dict[str, str]:
    """``Module: canny, Model: x [hash], Weight: 1`` → its settings, by key."""
    out = {}
    for part in value.split(","):
        key, sep, v = part.partition(":")
        if sep:
            out[key.strip()] = v.strip()
    return out


def read_control(settings: dict[str, str]) -> dict[str, Any]:
    """A ControlNet unit's parts from A1111's settings of it (each by its declared words; the image is not there)."""
    by_a1111 = {p.a1111: name for name, p in PREPROCESSORS.items()}
    unit: dict[str, Any] = {"image": ""}
    for f in CONTROL_UNIT.fields:
        key = f.words.key if f.words is not None else ""
        if key and key in settings:
            raw = settings[key]
            if f.name == "preprocessor":
                unit[f.name] = by_a1111.get(raw, raw if raw in PREPROCESSORS else "")
            elif f.name == "model":
                unit[f.name] = raw.split(" [")[0].strip()
            elif (n := number(raw)) is not None:
                unit[f.name] = n
    return {**{f.name: f.default for f in CONTROL_UNIT.fields}, **unit}


# -- a unit from a recipe, the command line or a draft --------------------------------------------------------------------------------------------
def _split(value: str) -> list[str]:
    """Split at colons, keeping a Windows drive ("C:\\…", "D:/…") with its path."""
    raw = value.split(":")
    parts: list[str] = []
    for piece in raw:
        if parts and len(parts[-1]) == 1 and parts[-1].isalpha() and piece.startswith(("\\", "/")):
            parts[-1] += ":" + piece
        else:
            parts.append(piece)
    return parts


def parse_control(value: Any) -> dict[str, Any] | str:
    """A unit as a dict (image, preprocessor, model, weight, start, end), or a sentence saying what is wrong.
    Takes ``PREPROCESSOR:IMAGE:MODEL[:WEIGHT[:START:END]]`` or an object with those keys."""
    if isinstance(value, dict):
        d = obj(value)
        unit = {k: text(d.get(k)).strip() for k in ("image", "preprocessor", "model")}
        nums = {k: number(d.get(k)) for k in ("weight", "start", "end", "threshold_a", "threshold_b")}
    elif isinstance(value, str):
        parts = _split(value.strip())
        head, tail = parts[:1], parts[1:]
        numbers: list[float] = []
        while tail and len(numbers) < 3 and re.fullmatch(r"-?\d+(\.\d*)?|-?\.\d+", tail[-1].strip()):
            numbers.insert(0, float(tail.pop()))
        if len(tail) < 2 or len(numbers) == 2:
            return "A ControlNet unit is PREPROCESSOR:IMAGE:MODEL[:WEIGHT[:START:END]], e.g. canny:photo.png:control_sd15_canny:0.8."
        unit = {
            "preprocessor": head[0].strip().lower(),
            "image": ":".join(tail[:-1]),
            "model": tail[-1].strip(),
        }
        nums = dict(zip(("weight", "start", "end"), numbers, strict=False))
    else:
        return "A ControlNet unit is PREPROCESSOR:IMAGE:MODEL[:WEIGHT] or an object with those keys."
    unit["preprocessor"] = unit["preprocessor"].lower() or "none"
    if unit["preprocessor"] not in PREPROCESSORS:
        return f"No preprocessor {unit['preprocessor'][:40]!r}; there are: {', '.join(PREPROCESSORS)}."
    if not unit["image"]:
        return "A ControlNet unit needs a control image."
    if not unit["model"]:
        return "A ControlNet unit needs a ControlNet model."
    out: dict[str, Any] = {**unit, "weight": 1.0, "start": 0.0, "end": 1.0, "threshold_a": 100.0,
                           "threshold_b": 200.0}  # fmt: skip
    out.update({k: float(v) for k, v in nums.items() if v is not None})
    return check_range(out, "ControlNet")


def parse_reference(value: Any) -> dict[str, Any] | str:
    """A reference image as a dict (image, weight, start, end, model, encoder), from ``IMAGE[:WEIGHT]`` or an
    object with those keys (model and encoder may be empty: the recipe finds them for the model's family)."""
    if isinstance(value, dict):
        d = obj(value)
        out: dict[str, Any] = {k: text(d.get(k)).strip() for k in ("image", "model", "encoder")}
        out.update({"weight": 0.6, "start": 0.0, "end": 1.0})
        out.update({k: float(v) for k in ("weight", "start", "end") if (v := number(d.get(k))) is not None})
    elif isinstance(value, str):
        image, sep, weight = value.strip().rpartition(":")
        out = {"image": value.strip(), "model": "", "encoder": "", "weight": 0.6, "start": 0.0, "end": 1.0}
        if sep and image and re.fullmatch(r"-?\d+(\.\d*)?|-?\.\d+", weight.strip()):
            out.update(image=image, weight=float(weight))
    else:
        return "A reference image is IMAGE[:WEIGHT] or an object with those keys."
    if not out["image"]:
        return "A reference needs an image."
    return check_range(out, "Reference image", REFERENCE_UNIT)
