"""Finding image models in folders: diffusers pipeline folders and single-file checkpoints."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from studio.core.safetensors_header import HeaderError, read_header

IMAGE_PIPELINES = ("StableDiffusionPipeline", "StableDiffusionXLPipeline", "StableDiffusionInpaintPipeline",
                   "StableDiffusionImg2ImgPipeline", "StableDiffusionXLImg2ImgPipeline", "StableDiffusionXLInpaintPipeline")


@dataclass(frozen=True)
class ModelEntry:
    path: Path
    label: str
    kind: str  # "image" | "lora"


def diffusers_class(folder: Path) -> str | None:
    try:
        return json.loads((folder / "model_index.json").read_text("utf-8")).get("_class_name")
    except (OSError, ValueError, AttributeError):
        return None


def classify_safetensors(path: Path) -> str | None:
    """"image" for a full checkpoint, "lora" for a LoRA, None when unknown or unreadable."""
    try:
        names = [k for k in read_header(path) if k != "__metadata__"]
    except (HeaderError, OSError):
        return None
    if any(k.startswith("model.diffusion_model.") for k in names):
        return "image"
    if any("lora_" in k or ".lora." in k or "lora_A" in k or "lora_down" in k for k in names):
        return "lora"
    return None


def scan(folders: list[Path], max_depth: int = 2) -> list[ModelEntry]:
    """Image models and LoRAs in ``folders`` (and their subfolders, ``max_depth`` deep), by name."""
    found: dict[Path, ModelEntry] = {}

    def visit(d: Path, depth: int) -> None:
        try:
            children = sorted(d.iterdir())
        except OSError:
            return
        for child in children:
            if child.name.startswith("."):
                continue
            if child.is_dir():
                if diffusers_class(child) in IMAGE_PIPELINES:
                    found[child] = ModelEntry(child, child.name, "image")
                elif depth < max_depth:
                    visit(child, depth + 1)
            elif child.suffix.lower() == ".safetensors":
                kind = classify_safetensors(child)
                if kind:
                    found[child] = ModelEntry(child, child.stem, kind)

    for f in folders:
        if f.is_dir():
            visit(f, 0)
    return sorted(found.values(), key=lambda e: e.label.lower())
