"""Named sampling presets for the Writer: built-in ones, and the user's as JSON files in a folder."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from studio.core.io.untrusted import obj, read_json
from studio.core.text.writer_docs import write_text_atomic

SAMPLING_KEYS = (
    "temperature",
    "top_p",
    "top_k",
    "min_p",
    "typical_p",
    "repetition_penalty",
    "no_repeat_ngram_size",
    "max_new_tokens",
)
BUILTIN: dict[str, dict[str, Any]] = {
    "Balanced": {
        "temperature": 0.8,
        "top_p": 0.95,
        "top_k": 0,
        "min_p": 0.0,
        "typical_p": 1.0,
        "repetition_penalty": 1.15,
        "no_repeat_ngram_size": 0,
        "max_new_tokens": 60,
    },
    "Creative": {
        "temperature": 1.1,
        "top_p": 0.98,
        "top_k": 0,
        "min_p": 0.05,
        "typical_p": 1.0,
        "repetition_penalty": 1.1,
        "no_repeat_ngram_size": 0,
        "max_new_tokens": 80,
    },
    "Focused": {
        "temperature": 0.5,
        "top_p": 0.9,
        "top_k": 40,
        "min_p": 0.0,
        "typical_p": 1.0,
        "repetition_penalty": 1.2,
        "no_repeat_ngram_size": 3,
        "max_new_tokens": 60,
    },
    "Deterministic": {
        "temperature": 0.0,
        "top_p": 1.0,
        "top_k": 0,
        "min_p": 0.0,
        "typical_p": 1.0,
        "repetition_penalty": 1.2,
        "no_repeat_ngram_size": 3,
        "max_new_tokens": 60,
    },
}


def _plain(value: Any) -> bool:
    """A preset value is a number, a word or a list of words (stop strings); anything else is ignored."""
    if isinstance(value, list):
        return all(isinstance(v, str) for v in value)
    return isinstance(value, int | float | str) and not (isinstance(value, float) and value != value)


class PresetStore:
    def __init__(self, folder: Path):
        self.folder = Path(folder)

    def names(self) -> list[str]:
        user = sorted(p.stem for p in self.folder.glob("*.json")) if self.folder.is_dir() else []
        return [*BUILTIN, *(n for n in user if n not in BUILTIN)]

    def get(self, name: str) -> dict[str, Any]:
        if name in BUILTIN:
            return dict(BUILTIN[name])
        data = obj(read_json(self.folder / f"{name}.json", max_bytes=1 << 20, max_depth=8))
        return {k: v for k, v in data.items() if k in SAMPLING_KEYS and _plain(v)}

    def save(self, name: str, values: dict[str, Any]) -> str:
        name = re.sub(r'[\\/:*?"<>|\x00-\x1f]', "", name).strip()
        if not name or name in BUILTIN:
            raise ValueError("Choose a name that is not one of the built-in presets.")
        self.folder.mkdir(parents=True, exist_ok=True)
        data = {k: values[k] for k in SAMPLING_KEYS if k in values}
        write_text_atomic(self.folder / f"{name}.json", json.dumps(data, indent=2) + "\n")
        return name
