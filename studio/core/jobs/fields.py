"""A recipe's field table: each field written once — name, type, default, range or choices, unit, help text — and
read by everything that shows, takes, checks or saves it: the window's widgets, the CLI's arguments, the
validation of a draft, the saved metadata and ``studio recipe``.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from studio.core.jobs import JobKind


class Section(StrEnum):
    """Where a field sits in its room, in the order the room shows them ("" for a field with no widget)."""

    PROMPT = "Prompt"
    MODEL = "Model"
    SAMPLING = "Sampling"
    SIZE = "Size"
    HIRES = "Hires fix"
    SEED = "Seed and batch"
    LORAS = "LoRAs"
    INIT = "Image to image"
    CONTROLNET = "ControlNet"
    REFERENCES = "Reference images"
    REGIONS = "Regions"
    DETAILER = "Detailer"
    NONE = ""


@dataclass
class Reading:
    """What a field's reader of another tool's text may use: the library's models by name, and the notes for the
    user (what could not be carried over)."""

    find_model: Callable[[str], str | None] = lambda name: None
    notes: list[str] = field(default_factory=list)


Params = Mapping[str, str]


@dataclass(frozen=True)
class Words:
    """How a field is written into AUTOMATIC1111's ``parameters`` text, and read back from it (from any tool that
    writes that text: A1111, Forge, SD.Next, Fooocus, Civitai).

    ``key`` is the key in the settings line, ``order`` its place there (A1111's order). ``when``: written only when
    it holds (default: always). ``write``: the value as written (default: the field's), or a list of (key, value)
    entries for a field written as several (ControlNet 0, ControlNet 1, …). ``read``: the draft's values from the
    text's settings (default: the key's value as the field's type). ``keys``: the other keys ``read`` takes.
    ``without``: why the field has no words of its own (then ``key`` is empty)."""

    key: str = ""
    order: int = 0
    when: Callable[[Any], bool] | None = None
    write: Callable[[Any], Any] | None = None
    read: Callable[[Params, Reading], dict[str, Any]] | None = None
    keys: tuple[str, ...] = ()
    without: str = ""
    many: bool = False  # written as numbered keys ("ControlNet 0", "ControlNet 1", …)

    def takes(self, key: str) -> bool:
        """Whether ``key`` of a text is this field's (so it is carried over, not reported as left out)."""
        if not self.key:
            return False
        return key == self.key or key in self.keys or (self.many and key.startswith(self.key + " "))

    def entries(self, spec: Any, name: str) -> list[tuple[str, Any]]:
        """What this field writes for ``spec``: (key, value) pairs in the text's order."""
        if not self.key or (self.when is not None and not self.when(spec)):
            return []
        value = self.write(spec) if self.write is not None else getattr(spec, name)
        return list(value) if isinstance(value, list) else [(self.key, value)]


def unwritten(why: str) -> Words:
    """A field with no words of its own in A1111's text, and why (it rides on another's, or has no meaning there)."""
    return Words(without=why)


@dataclass(frozen=True)
class Comfy:
    """What a field becomes on a ComfyUI server: the stock ``node`` and its ``input`` that carry it; or ``refuse``,
    the sentence that refuses a recipe using it (when ``when`` holds; default: when it is not the default); or
    ``aside``: why no node is needed (it is bookkeeping, or resolved before the job is sent)."""

    node: str = ""
    input: str = ""
    refuse: str = ""
    when: Callable[[Any], bool] | None = None
    aside: str = ""


def on_node(node: str, input: str = "") -> Comfy:
    return Comfy(node=node, input=input)


def refused(why: str, when: Callable[[Any], bool] | None = None) -> Comfy:
    return Comfy(refuse=why, when=when)


def aside(why: str) -> Comfy:
    return Comfy(aside=why)


@dataclass(frozen=True)
class Field:
    """One knob of a recipe.

    ``type``: int, float, str, bool, or list (of strings, or of (reference, weight) pairs for LoRAs).
    ``cli``: the option's name (``--cfg``); ``None`` derives it from ``name``; ``""`` keeps it off the CLI.
    ``step``/``decimals``: for widgets. ``nullable``: None is a valid value (an optional path, a derived
    value that the recipe computes when it is left empty).
    """

    name: str
    type: type
    default: Any
    label: str
    help: str
    minimum: float | None = None
    maximum: float | None = None
    choices: tuple[str, ...] = ()
    unit: str = ""
    step: float | None = None
    decimals: int = 0
    cli: str | None = None
    metavar: str | None = None
    nullable: bool = False
    multiple_of: int = 0
    special: tuple[tuple[Any, str], ...] = ()  # values with a meaning of their own: ((-1, "random"),)
    # What the field means beyond its knob (the image recipe declares all of them; see ``knob``):
    words: Words | None = None  # its AUTOMATIC1111 words
    comfy: Comfy | None = None  # its ComfyUI node, or why a server refuses it
    axis: bool = False  # it can be an axis of a plot (Compare)
    section: Section = Section.NONE  # where the room shows it
    custom: bool = False  # the room builds its widget by hand (else one is made from the type and range)

    @property
    def option(self) -> str:
        return self.cli if self.cli is not None else "--" + self.name.replace("_", "-")

    def tooltip(self) -> str:
        """The help text, with the range and unit, as a widget's tooltip shows it."""
        parts = [self.help]
        if self.minimum is not None and self.maximum is not None and self.type in (int, float):
            parts.append(f"({_num(self.minimum)}–{_num(self.maximum)}{' ' + self.unit if self.unit else ''})")
        return " ".join(parts)

    def check(self, value: Any) -> str:
        """'' when ``value`` (already of the right type) is allowed; else a sentence for the user."""
        if value is None:
            return "" if self.nullable else f"{self.label} is missing."
        if any(value == v for v, _ in self.special):
            return ""
        if self.type in (int, float):
            lo, hi = self.minimum, self.maximum
            if (lo is not None and value < lo) or (hi is not None and value > hi):
                unit = f" {self.unit}" if self.unit else ""
                return f"{self.label} must be between {_num(lo)} and {_num(hi)}{unit}."
            if self.multiple_of and value % self.multiple_of:
                down = value - value % self.multiple_of
                return (f"{self.label} must be a multiple of {self.multiple_of} (try {down} or "
                        f"{down + self.multiple_of}).")  # fmt: skip
        if self.choices and value not in self.choices:
            return f"{self.label} cannot be {str(value)[:60]!r}; choose one of {', '.join(self.choices)}."
        return ""

    def convert(self, value: Any) -> Any:
        """``value`` from outside (JSON, settings, a widget) as this field's type; ``ValueError`` if it cannot be."""
        if value is None:
            if self.nullable:
                return None
            raise ValueError(f"{self.label} is missing.")
        t = self.type
        if t is bool:
            if isinstance(value, bool):
                return value
            raise ValueError(f"{self.label} must be true or false.")
        if t is int:
            if isinstance(value, bool):
                raise ValueError(f"{self.label} must be a whole number.")
            if isinstance(value, int):
                return value
            if isinstance(value, float) and math.isfinite(value) and value == int(value):
                return int(value)
            if isinstance(value, str) and value.strip().lstrip("+-").isdigit() and len(value) < 40:
                return int(value)
            raise ValueError(f"{self.label} must be a whole number.")
        if t is float:
            if isinstance(value, bool):
                raise ValueError(f"{self.label} must be a number.")
            try:
                f = float(value)
            except (TypeError, ValueError, OverflowError):
                raise ValueError(f"{self.label} must be a number.") from None
            if not math.isfinite(f):
                raise ValueError(f"{self.label} must be a finite number.")
            return f
        if t is str:
            if isinstance(value, str):
                return value
            raise ValueError(f"{self.label} must be text.")
        if t is list:
            if isinstance(value, list | tuple):
                return list(value)
            raise ValueError(f"{self.label} must be a list.")
        raise ValueError(f"{self.label} has an unknown type.")


def _num(v: float | None) -> str:
    if v is None:
        return "?"
    if float(v).is_integer():
        v = int(v)
        return f"{v:,}".replace(",", " ") if abs(v) >= 10_000 else str(v)
    return f"{v:g}"


@dataclass(frozen=True)
class FieldTable:
    kind: JobKind
    fields: tuple[Field, ...]
    by_name: dict[str, Field] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "by_name", {f.name: f for f in self.fields})

    def __getitem__(self, name: str) -> Field:
        return self.by_name[name]

    def __contains__(self, name: object) -> bool:
        return name in self.by_name

    def names(self) -> list[str]:
        return [f.name for f in self.fields]

    def defaults(self) -> dict[str, Any]:
        return {f.name: (list(f.default) if isinstance(f.default, list) else f.default) for f in self.fields}

    def convert(self, values: dict[str, Any], problems: dict[str, str]) -> dict[str, Any]:
        """The known fields of ``values`` converted to their types; a wrong one goes to ``problems``, not out."""
        out: dict[str, Any] = {}
        for name, value in values.items():
            f = self.by_name.get(name)
            if f is None:
                continue
            try:
                out[name] = f.convert(value)
            except ValueError as e:
                problems[name] = str(e)
        return out

    def check(self, values: dict[str, Any], names: Iterable[str] | None = None) -> dict[str, str]:
        """Range and choice problems of the given (converted) values, by field."""
        problems: dict[str, str] = {}
        for name in names if names is not None else values:
            f = self.by_name.get(name)
            if f is not None and name in values and (msg := f.check(values[name])):
                problems[name] = msg
        return problems

    def describe(self, recommended: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        """The table as data (``studio recipe --json``, the docs)."""
        rec = recommended or {}
        out = []
        for f in self.fields:
            d: dict[str, Any] = {"name": f.name, "type": f.type.__name__, "default": f.default, "label": f.label,
                                 "help": f.help}  # fmt: skip
            for key, value in (
                ("min", f.minimum),
                ("max", f.maximum),
                ("unit", f.unit),
                ("option", f.option),
            ):
                if value not in (None, ""):
                    d[key] = value
            if f.choices:
                d["choices"] = list(f.choices)
            if f.special:
                d["special"] = {str(v): meaning for v, meaning in f.special}
            if f.name in rec:
                d["recommended"] = rec[f.name]
            out.append(d)
        return out


KNOB = "studio.knob"  # the metadata key of a spec's dataclass field that is also a recipe knob
ASIDE = "studio.aside"  # the metadata key of a spec's field that is no knob: what fills it, and its words
_TABLE_KEYS = {f.name for f in dataclasses.fields(Field)} - {"name", "type", "default"}


def knob(
    default: Any = dataclasses.MISSING,
    *,
    words: Words | None = None,
    comfy: Comfy | None = None,
    axis: bool = False,
    section: Section = Section.NONE,
    draft: Any = dataclasses.MISSING,
    type: type | None = None,  # noqa: A002 - the table's word
    **table: Any,
) -> Any:
    """A spec's field that is a recipe knob, declared once: its default (the spec's; ``draft`` when a draft's
    differs, as a seed's −1 does), the table's label, help and range (``Field``'s keywords), and its meaning —
    A1111 words, ComfyUI node or refusal, whether it can be a plot axis, and its section in the room. The field
    table is made from these (``table_of``); nothing else repeats them. The image recipe declares every meaning
    (a test holds it to that); the text and training recipes, which no other tool reads, their knobs alone."""
    unknown = set(table) - _TABLE_KEYS
    if unknown:
        raise TypeError(f"knob() got unknown keywords {sorted(unknown)}")
    meta = {
        "words": words,
        "comfy": comfy,
        "axis": axis,
        "section": section,
        "draft": draft,
        "type": type,
        **table,
    }
    return field(default=default, metadata={KNOB: meta})


def derived(words: Words | None, why: str, default: Any = dataclasses.MISSING) -> Any:
    """A spec's field that is no knob (it is filled when the job is frozen or saved, or it is the job's text
    itself), with its words (if any) and why."""
    return field(default=default, metadata={ASIDE: {"words": words, "why": why}})


def table_of(spec: type, kind: JobKind, before: tuple[Field, ...] = ()) -> FieldTable:
    """The field table declared on a spec's dataclass fields with ``knob`` (``before``: a draft's fields that the
    spec resolves away, such as a training preset)."""
    out = list(before)
    for f in dataclasses.fields(spec):
        meta = dict(f.metadata.get(KNOB) or {})
        if not meta:
            continue
        draft, kind_of = meta.pop("draft"), meta.pop("type")
        default = draft if draft is not dataclasses.MISSING else f.default
        if default is dataclasses.MISSING:
            default = ""
        if isinstance(default, tuple):
            default = list(default)
        if kind_of is None:
            kind_of = list if isinstance(default, list) else type(default)
        if default is None:
            meta["nullable"] = True
        out.append(Field(f.name, kind_of, default, **meta))
    return FieldTable(kind, tuple(out))


def spec_words(spec: type) -> list[tuple[str, Words]]:
    """(field name, words) of every field of a spec that has words: the knobs' and the derived fields'."""
    out = []
    for f in dataclasses.fields(spec):
        meta = f.metadata.get(KNOB) or f.metadata.get(ASIDE)
        if meta and meta.get("words") is not None:
            out.append((f.name, meta["words"]))
    return out


def merged(*layers: dict[str, Any] | None) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for layer in layers:
        out.update(layer or {})
    return out


Resolver = Callable[[dict[str, Any], dict[str, str]], dict[str, Any]]
