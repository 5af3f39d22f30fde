"""The models Studio ships (trained by the project itself), and per-model recommended settings."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from studio.core.paths import resource
from studio.core.untrusted import is_dir, obj, read_json

RECOMMENDED_FILE = (
    "studio.json"  # optional, beside a model: {"label": ..., "recommended": {width, height, ...}}
)
BUILTIN_IMAGE_DIRS = (resource("models", "shapes"),)
BUILTIN_TEXT_DIRS = (resource("models", "storyteller"),)
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
    p = Path(path).resolve()
    return any(p == d.resolve() for d in (*BUILTIN_IMAGE_DIRS, *BUILTIN_TEXT_DIRS))


def model_card(folder: str | Path) -> dict[str, Any]:
    """What a model folder says about itself (label, recommended settings); {} when it says nothing."""
    return obj(read_json(Path(folder) / RECOMMENDED_FILE, max_bytes=1 << 20, max_depth=8))


_RECOMMENDED_TYPES: dict[str, type] = {"width": int, "height": int, "steps": int, "cfg_scale": float,
                                       "sampler": str, "schedule": str}  # fmt: skip


def recommended_settings(model: str | Path) -> dict[str, Any]:
    """The settings a model recommends: what its folder says (``studio.json``: known fields of the right type),
    else what a few-step model (LCM, TCD, Lightning, Hyper-SD, Turbo) is made for."""
    rec = obj(model_card(model).get("recommended")) if is_dir(model) else {}
    if not rec and str(model):
        from studio.core.few_step import recommendation

        return recommendation(model)
    out: dict[str, Any] = {}
    for key, kind in _RECOMMENDED_TYPES.items():
        value = rec.get(key)
        if kind is float and isinstance(value, int | float) and not isinstance(value, bool):
            out[key] = float(value)
        elif isinstance(value, kind) and not isinstance(value, bool):
            out[key] = value
    return out
