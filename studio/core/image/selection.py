"""Selecting a part of a picture: Segment Anything from points and boxes, an open-vocabulary detector's boxes from
words, and a matting model's clean edges for a cut-out. ``studio segment`` and ``studio remove-background``
freeze a ``SegmentSpec``; the models are found in the library by kind unless given by path."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from studio.core.jobs import JobKind
from studio.core.jobs.events import Event
from studio.core.models.model_library import DETECTOR, MATTING, SEGMENTER

WHAT_TO_GET = {
    SEGMENTER: "a Segment Anything model (facebook/sam-vit-base)",
    DETECTOR: "an open-vocabulary detector (google/owlv2-base-patch16-ensemble)",
    MATTING: "a matting model (hustvl/vitmatte-small-composition-1k)",
}
_NUM = r"\s*-?\d+(?:\.\d*)?\s*"


@dataclass(frozen=True)
class SegmentSpec:
    """Select a part of ``image``: the object under ``points`` (pixels; ``exclude`` points are not it), inside
    ``boxes`` (pixels), or what ``text`` names (each thing found above ``threshold``). ``cutout``: write the
    picture with its background transparent instead of the mask."""

    kind: ClassVar[JobKind] = JobKind.SEGMENT

    image: str
    out: str
    segmenter: str
    points: tuple[tuple[float, float], ...] = ()
    exclude: tuple[tuple[float, float], ...] = ()
    boxes: tuple[tuple[float, float, float, float], ...] = ()
    text: str = ""
    detector: str = ""
    threshold: float = 0.1
    cutout: bool = False
    matting: str = ""  # a cut-out's edges; without one, the mask's edge softened


@dataclass(frozen=True)
class SelectionMade(Event):
    """What was selected: the file written, the share of the picture selected, the boxes found from words."""

    path: str = ""
    share: float = 0.0
    found: tuple[tuple[float, float, float, float, float], ...] = ()  # x0, y0, x1, y1, score
    matted: bool = False


def parse_point(value: str) -> tuple[float, float] | str:
    if not re.fullmatch(rf"{_NUM},{_NUM}", value or ""):
        return f"A point is X,Y in pixels of the picture, e.g. 120,80 (given {value[:40]!r})."
    x, y = (float(v) for v in value.split(","))
    return (x, y)


def parse_box(value: str) -> tuple[float, float, float, float] | str:
    if not re.fullmatch(rf"{_NUM},{_NUM},{_NUM},{_NUM}", value or ""):
        return f"A box is X0,Y0,X1,Y1 in pixels of the picture, e.g. 10,20,200,180 (given {value[:40]!r})."
    x0, y0, x1, y1 = (float(v) for v in value.split(","))
    if not (x0 < x1 and y0 < y1):
        return f"The box {value} is empty: X0 < X1 and Y0 < Y1."
    return (x0, y0, x1, y1)


@dataclass
class SelectionDraft:
    """What the command line or a room asks, before the models are found and the picture is checked."""

    image: str
    out: str
    points: list[str] = field(default_factory=list)
    exclude: list[str] = field(default_factory=list)
    boxes: list[str] = field(default_factory=list)
    text: str = ""
    threshold: float = 0.1
    cutout: bool = False
    models: dict[str, str] = field(default_factory=dict)  # kind → path given by hand


def freeze_selection(draft: SelectionDraft, library: dict[str, list[Path]],
                     size_of: Any) -> SegmentSpec | dict[str, str]:  # fmt: skip
    """The frozen job, or the problems by option. ``library``: the models of each kind the library has;
    ``size_of(path)``: a picture's (width, height), or a sentence why it cannot be read."""
    problems: dict[str, str] = {}
    size = size_of(draft.image)
    if isinstance(size, str):
        return {"image": size}
    parsed: dict[str, list[Any]] = {"points": [], "exclude": [], "boxes": []}
    for key, parse in (("points", parse_point), ("exclude", parse_point), ("boxes", parse_box)):
        for value in getattr(draft, key):
            got = parse(value)
            if isinstance(got, str):
                problems[key] = got
            elif any(not 0 <= v <= (size[0] if i % 2 == 0 else size[1]) for i, v in enumerate(got)):
                problems[key] = f"{value} is outside the {size[0]}×{size[1]} picture."
            else:
                parsed[key].append(got)
    if parsed["exclude"] and not parsed["points"]:
        problems.setdefault("exclude", "--exclude marks what is not the object: give --point too.")
    if not (parsed["points"] or parsed["boxes"] or draft.text.strip() or draft.cutout or problems):
        problems["points"] = "Say what to select: --point X,Y, --box X0,Y0,X1,Y1 or --text WORDS."
    if not 0 <= draft.threshold <= 1:
        problems["threshold"] = f"The threshold is a score between 0 and 1 (given {draft.threshold:g})."
    needed = [SEGMENTER] + ([DETECTOR] if draft.text.strip() else [])
    models = {
        kind: _model(kind, draft.models.get(kind, ""), library.get(kind, []), problems) for kind in needed
    }
    matting = draft.models.get(MATTING, "") or (str(library[MATTING][0]) if library.get(MATTING) else "")
    if draft.models.get(MATTING) and not Path(matting).expanduser().is_dir():
        problems[MATTING] = f"The matting model {matting[:200]} is not a folder."
    if problems:
        return problems
    return SegmentSpec(os.path.abspath(Path(draft.image).expanduser()), os.path.abspath(Path(draft.out).expanduser()),
                       models[SEGMENTER], tuple(parsed["points"]), tuple(parsed["exclude"]), tuple(parsed["boxes"]),
                       draft.text.strip(), models.get(DETECTOR, ""), draft.threshold, draft.cutout,
                       os.path.abspath(Path(matting).expanduser()) if matting else "")  # fmt: skip


def _model(kind: str, given: str, found: list[Path], problems: dict[str, str]) -> str:
    if given:
        path = Path(given).expanduser()
        if not path.is_dir():
            problems[kind] = f"The {kind} {given[:200]} is not a model folder."
        return os.path.abspath(path)
    if not found:
        problems[kind] = (f"This needs {WHAT_TO_GET[kind]}: download it in the Models room or put its folder in "
                          "the models folder.")  # fmt: skip
        return ""
    return str(found[0])
