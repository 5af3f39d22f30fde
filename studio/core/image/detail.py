"""The detailer (ADetailer's way): find faces, hands or anything named in words in a finished picture, inpaint each
at a working resolution with its own prompt, paste it back feathered. Declared once: ``--detail TARGET[:PROMPT]``,
the recipe's objects, and AUTOMATIC1111's ``ADetailer …`` words (written as ADetailer writes them, read back from
pictures ADetailer made: ``face_yolov8n.pt`` is a face)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from studio.core.io.untrusted import lst, number, obj, text

MAX_DETAILS = 4
ORDINALS = ("", " 2nd", " 3rd", " 4th")  # ADetailer's keys for its second, third, … unit
NO_DETECTOR = (
    "The detailer finds things with an open-vocabulary detector: download "
    "google/owlv2-base-patch16-ensemble in the Models room, or leave the detailer off."
)
FORM = "A detail is TARGET[:PROMPT] (face, hand, or any words), e.g. face:a smiling face, freckles"


@dataclass(frozen=True)
class DetailUnit:
    """What to find (``target``: words the detector reads), the prompt to redraw it with ("": the picture's own),
    how much to change it (``strength``) and how sure the detector must be (``confidence``)."""

    target: str
    prompt: str = ""
    strength: float = 0.4
    confidence: float = 0.3


def parse_detail(value: Any) -> dict[str, Any] | str:
    if isinstance(value, DetailUnit):
        value = {"target": value.target, "prompt": value.prompt, "strength": value.strength,
                 "confidence": value.confidence}  # fmt: skip
    if isinstance(value, dict):
        d = obj(value)
        out: dict[str, Any] = {
            "target": text(d.get("target")).strip(),
            "prompt": text(d.get("prompt")).strip(),
        }
        for key, default in (("strength", 0.4), ("confidence", 0.3)):
            got = number(d.get(key))
            out[key] = default if got is None else got
    elif isinstance(value, str):
        target, _, prompt = value.strip().partition(":")
        out = {"target": target.strip(), "prompt": prompt.strip(), "strength": 0.4, "confidence": 0.3}
    else:
        return f"{FORM}, or an object with target, prompt, strength and confidence."
    if not out["target"]:
        return f"{FORM}: say what to find."
    if not 0 < out["strength"] <= 1:
        return (
            f"The detail {out['target'][:40]}: the strength is between 0 and 1 (given {out['strength']:g})."
        )
    if not 0 <= out["confidence"] <= 1:
        return f"The detail {out['target'][:40]}: the confidence is between 0 and 1 (given {out['confidence']:g})."
    return out


def resolve_details(listed: Any, problems: dict[str, str]) -> tuple[DetailUnit, ...]:
    items = lst(listed)
    if len(items) > MAX_DETAILS:
        problems["details"] = f"At most {MAX_DETAILS} details in one picture (given {len(items)})."
        return ()
    units = []
    for item in items:
        unit = parse_detail(item)
        if isinstance(unit, str):
            problems["details"] = unit
            continue
        units.append(DetailUnit(**unit))
    return tuple(units)


# -- AUTOMATIC1111's text, as ADetailer writes it -------------------------------------------------------------------
def detail_entries(spec: Any) -> list[tuple[str, Any]]:
    out: list[tuple[str, Any]] = []
    for unit, nth in zip(spec.details, ORDINALS, strict=False):
        out += [(f"ADetailer model{nth}", unit.target), (f"ADetailer confidence{nth}", unit.confidence),
                (f"ADetailer denoising strength{nth}", unit.strength)]  # fmt: skip
        if unit.prompt:
            out.append((f"ADetailer prompt{nth}", unit.prompt))
    return [*out, ("ADetailer version", "Studio")] if out else []


def target_of(model: str) -> str:
    """ADetailer's model file → the words Studio's detector reads (``face_yolov8n.pt`` → face)."""
    name = re.sub(r"\.(pt|pth|safetensors)$", "", model.strip().lower())
    for words, target in (("face", "face"), ("hand", "hand"), ("person", "person"), ("eye", "eyes")):
        if words in name:
            return target
    return name.replace("_", " ")


def read_details(params: Mapping[str, str], reading: Any) -> dict[str, Any]:
    units: list[dict[str, Any]] = []
    for nth in ORDINALS:
        model = params.get(f"ADetailer model{nth}")
        if not model or model == "None":
            continue
        unit = parse_detail({"target": target_of(model), "prompt": params.get(f"ADetailer prompt{nth}", ""),
                             "strength": number(params.get(f"ADetailer denoising strength{nth}")),
                             "confidence": number(params.get(f"ADetailer confidence{nth}"))})  # fmt: skip
        if isinstance(unit, str):
            reading.notes.append(f"ADetailer{nth}: {unit}")
        else:
            units.append(unit)
    return {"details": units} if units else {}
