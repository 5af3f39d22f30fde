"""A sound file's index row: its recipe when Studio wrote it, else its title; a damaged file is still one row."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from studio.core.gallery.gallery_rows import row_values
from studio.core.image.recipe_readers import Recipe
from studio.core.io.untrusted import integer, number, text
from studio.core.sound.audio_files import SOUND_SUFFIXES, SoundTags, read_tags

SOURCE = "sound"  # the index's source column for every sound (Studio's and other tools')


def sound_row(rel: str, path: Path, st: os.stat_result, tags: SoundTags | Any) -> tuple:
    """The index row of a sound file: its recipe when Studio wrote it, else its title; a damaged file is still one
    row (its problem in the record), never an exception."""
    if not isinstance(tags, SoundTags):
        recipe = Recipe(source=SOURCE, problems=[str(tags)])
        return row_values(
            rel, st.st_mtime, st, recipe, json.dumps({"kind": "sound", "unreadable": str(tags)})
        )
    spec = (tags.record or {}).get("spec") or {}
    words = text(spec.get("prompt")) or text(spec.get("sentences") and " ".join(map(str, spec["sentences"])))
    recipe = Recipe(source=SOURCE, prompt=words or tags.title, negative_prompt=text(spec.get("negative_prompt")),
                    steps=integer(spec.get("steps")), cfg_scale=number(spec.get("guidance")),
                    seed=integer(spec.get("seed")), model=text(spec.get("model_name")))  # fmt: skip
    record = {"kind": "sound", "seconds": round(tags.seconds, 3), "sample_rate": tags.sample_rate,
              "channels": tags.channels, **({"spec": spec} if spec else {})}  # fmt: skip
    return row_values(rel, st.st_mtime, st, recipe, json.dumps(record, ensure_ascii=False))


def is_sound(path: str | Path) -> bool:
    return Path(path).suffix.lower() in SOUND_SUFFIXES


def sound_recipe(path: Path) -> Recipe:
    """What the gallery's viewer shows of a sound: its recipe (a damaged file: its problem)."""
    tags = read_tags(path)
    if not isinstance(tags, SoundTags):
        return Recipe(source=SOURCE, problems=[str(tags)])
    spec = (tags.record or {}).get("spec") or {}
    words = text(spec.get("prompt")) or " ".join(map(str, spec.get("sentences") or [])) or tags.title
    extra = {"Length": f"{tags.seconds:.2f} s", "Sample rate": f"{tags.sample_rate} Hz",
             "Channels": str(tags.channels)}  # fmt: skip
    if spec.get("voice"):
        extra["Voice"] = text(spec.get("voice"))
    return Recipe(source=SOURCE, prompt=words, negative_prompt=text(spec.get("negative_prompt")),
                  steps=integer(spec.get("steps")), cfg_scale=number(spec.get("guidance")),
                  seed=integer(spec.get("seed")), model=text(spec.get("model_name")), extra=extra,
                  studio_spec=spec or None)  # fmt: skip
