"""The models Studio ships (trained by the project itself), and per-model recommended settings."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from studio.core.io.paths import resource
from studio.core.io.untrusted import obj, read_json

RECOMMENDED_FILE = (
    "studio.json"  # optional, beside a model: {"label": ..., "recommended": {width, height, ...}}
)
BUILTIN_IMAGE_DIRS = (resource("models", "shapes"),)
BUILTIN_TEXT_DIRS = (resource("models", "storyteller"),)
BUILTIN_SOUND_DIRS = (resource("models", "tones"),)
BUILTIN_LORA_DIR = resource("models", "loras")


@dataclass(frozen=True)
class ModelEntry:
    path: Path
    label: str
    kind: str  # "image" | "text"


def builtin_image_models() -> list[ModelEntry]:
    """The built-in image models present in this install, labelled as demos."""
    out = []
    for folder in BUILTIN_IMAGE_DIRS:
        if (folder / "model_index.json").is_file():
            out.append(ModelEntry(folder, model_card(folder).get("label", folder.name), "image"))
    return out


def builtin_text_models() -> list[ModelEntry]:
    """The built-in language models present in this install, labelled as demos."""
    return [
        ModelEntry(folder, model_card(folder).get("label", folder.name), "text")
        for folder in BUILTIN_TEXT_DIRS
        if (folder / "config.json").is_file()
    ]


def is_builtin(path: str | Path) -> bool:
    """One of the files or folders Studio ships (a demo model, or anything in its LoRAs folder, such as the star
    LoRA): never renamed, moved or trashed by Studio."""
    p = Path(path).resolve()
    if any(p == d.resolve() for d in (*BUILTIN_IMAGE_DIRS, *BUILTIN_TEXT_DIRS, *BUILTIN_SOUND_DIRS)):
        return True
    return BUILTIN_LORA_DIR.resolve() in p.parents


def model_card(folder: str | Path) -> dict[str, Any]:
    """What a model folder says about itself (label, recommended settings); {} when it says nothing."""
    return obj(read_json(Path(folder) / RECOMMENDED_FILE, max_bytes=1 << 20, max_depth=8))
