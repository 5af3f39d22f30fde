"""The sound and speech recipes: their field tables (declared on the specs), and the road from a draft — the
window's fields, the command line's options, a file's tags (``--from-file``) — to a frozen spec."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from studio.core.jobs import RANDOM_SEED, JobKind, random_seed
from studio.core.jobs.fields import FieldTable, table_of
from studio.core.sound.audio_files import SOUND_SUFFIXES, read_tags
from studio.core.sound.reading import sentences
from studio.core.sound.specs import SoundSpec, SpeakSpec

SOUND = table_of(SoundSpec, JobKind.SOUND)
SPEAK = table_of(SpeakSpec, JobKind.SPEAK)


def _values(table: FieldTable, draft: dict[str, Any], problems: dict[str, str], out: str) -> dict[str, Any]:
    """The draft's fields converted and checked (a random seed drawn), the file type the ``out`` name asks for."""
    values = table.convert({**table.defaults(), **{k: v for k, v in draft.items() if k in table}}, problems)
    problems.update(table.check(values, [n for n in values if n not in problems]))
    if values.get("seed") == RANDOM_SEED:
        values["seed"] = random_seed()
    values["format"], why = out_problem(out, values.get("format", "flac"))
    if why:
        problems["out"] = why
    return values


def out_problem(out: str, fmt: str) -> tuple[str, str]:
    """(the format the file name asks for, '' or why it cannot be written)."""
    if not out:
        return fmt, ""
    suffix = Path(out).suffix.lower()
    if suffix not in SOUND_SUFFIXES:
        return fmt, f"{out}: a sound file ends in {', '.join(SOUND_SUFFIXES)}."
    if Path(out).expanduser().is_dir():
        return fmt, f"{out} is a folder; name a file."
    return suffix[1:], ""


def freeze_sound(draft: dict[str, Any], prompt: str, out: str = "") -> SoundSpec | dict[str, str]:
    problems: dict[str, str] = {}
    if not prompt.strip():
        problems["prompt"] = "Describe the sound to make."
    values = _values(SOUND, draft, problems, out)
    return problems or SoundSpec(prompt=prompt.strip(), **values, out=out)


def freeze_speech(
    draft: dict[str, Any], text: str, *, out: str = "", keep: bool = True
) -> SpeakSpec | dict[str, str]:
    problems: dict[str, str] = {}
    pieces = tuple(s.spoken for s in sentences(text) if s.spoken)
    if not pieces:
        problems["text"] = "There is nothing to read."
    values = _values(SPEAK, draft, problems, out)
    return problems or SpeakSpec(**values, sentences=pieces, keep=keep, out=out)


def draft_from_file(path: Path) -> tuple[dict[str, Any], str] | str:
    """(the draft, the prompt or text) of a sound file Studio wrote; a sentence why not, for any other file."""
    tags = read_tags(path)
    if not hasattr(tags, "record"):
        return f"{path.name}: {tags}"
    spec = (tags.record or {}).get("spec") if tags.record else None  # type: ignore[union-attr]
    if not isinstance(spec, dict):
        return f"{path.name} has no Studio recipe in its tags (it was not made by Studio)."
    names = {f.name for f in dataclasses.fields(SoundSpec if spec.get("kind") != "speak" else SpeakSpec)}
    words = (
        spec.get("prompt") if spec.get("kind") != "speak" else " ".join(map(str, spec.get("sentences") or []))
    )
    table = SOUND if spec.get("kind") != "speak" else SPEAK
    return {k: v for k, v in spec.items() if k in names and k in table}, str(words or "")
