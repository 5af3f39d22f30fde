"""The models Studio ships (trained by the project itself), and per-model recommended settings."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from studio.core.io.paths import resource
from studio.core.io.untrusted import is_dir, obj, read_json

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
    """One of the files or folders Studio ships (a demo model, or anything in its LoRAs folder, such as the star
    LoRA): never renamed, moved or trashed by Studio."""
    p = Path(path).resolve()
    if any(p == d.resolve() for d in (*BUILTIN_IMAGE_DIRS, *BUILTIN_TEXT_DIRS)):
        return True
    return BUILTIN_LORA_DIR.resolve() in p.parents


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
        from studio.core.models.few_step import recommendation

        return recommendation(model) or flow_defaults(model)
    out: dict[str, Any] = {}
    for key, kind in _RECOMMENDED_TYPES.items():
        value = rec.get(key)
        if kind is float and isinstance(value, int | float) and not isinstance(value, bool):
            out[key] = float(value)
        elif isinstance(value, kind) and not isinstance(value, bool):
            out[key] = value
    return out


def flow_defaults(model: str | Path) -> dict[str, Any]:
    """SD 3.x and FLUX.1's own settings (their model cards'): flow-matching Euler at 1024², 28 steps at CFG 4.5
    (SD 3.5) or guidance 3.5 (FLUX.1 dev); FLUX.1 schnell (no guidance embedding) 4 steps, guidance off."""
    from studio.core.io.safetensors_header import HeaderError, read_header
    from studio.core.models.model_library import describe_path

    path = Path(model)
    family = str(describe_path(path).get("family") or "") if str(model) and path.exists() else ""
    if family not in ("sd3", "flux"):
        return {}
    out: dict[str, Any] = {"width": 1024, "height": 1024, "steps": 28, "sampler": "Euler", "schedule": "Automatic",
                           "cfg_scale": 4.5 if family == "sd3" else 3.5}  # fmt: skip
    if family == "flux":
        if is_dir(path):
            guided = (
                obj(read_json(path / "transformer" / "config.json")).get("guidance_embeds", True) is not False
            )
        else:
            try:
                names = read_header(path)
            except HeaderError:
                names = {}
            guided = any("guidance_in." in n or "guidance_embedder." in n for n in names)
        if not guided:  # schnell: distilled to a few steps, no guidance
            out.update(steps=4, cfg_scale=0.0)
    return out
