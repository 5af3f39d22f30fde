"""Few-step models — LCM, TCD, Lightning, Hyper-SD, Turbo checkpoints and LoRAs — told from their files, with the
settings they are made for (sampler, schedule, steps, CFG), as AUTOMATIC1111/Forge users set them by hand.

What tells: a diffusers folder's scheduler class (LCMScheduler, TCDScheduler), a UNet with a guidance embedding
(``time_cond_proj_dim``: an LCM-distilled model), the name of the file or folder and the titles in its metadata
("lcm-lora-sdv1-5", "sdxl_lightning_4step_lora", "Hyper-SD15-8steps-CFG-lora", "sdxl-turbo") — with the number of
steps when the name gives it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from studio.core.io.untrusted import obj, read_json, text

_STEPS = re.compile(r"(?<!\d)(\d{1,2})[-_ ]?steps?(?![a-z])")
_WORD = re.compile(r"[a-z0-9]+")


@dataclass(frozen=True)
class FewStep:
    kind: str  # "LCM" | "TCD" | "Lightning" | "Hyper-SD" | "Turbo"
    sampler: str
    schedule: str
    steps: int
    cfg_scale: float
    why: str  # how it was told, for the Models room

    def settings(self) -> dict[str, Any]:
        return {
            "sampler": self.sampler,
            "schedule": self.schedule,
            "steps": self.steps,
            "cfg_scale": self.cfg_scale,
        }

    @property
    def label(self) -> str:
        cfg = "no CFG" if self.cfg_scale <= 1 else f"CFG {self.cfg_scale:g}"
        return f"{self.kind}: {self.steps} steps, {self.sampler}{' ' + self.schedule if self.schedule != 'Automatic' else ''}, {cfg}"


def from_name(name: str, why: str = "its name") -> FewStep | None:
    """What a file's or folder's name (or a title in its metadata) says."""
    low = name.lower()
    words = set(_WORD.findall(low))
    m = _STEPS.search(low)
    steps = int(m.group(1)) if m and 1 <= int(m.group(1)) <= 16 else 0
    if "lightning" in words or "lightning" in low:
        return FewStep("Lightning", "Euler", "SGM Uniform", steps or 4, 1.0, why)
    if "hyper" in words or low.startswith("hyper-sd") or "hypersd" in low:
        cfg = 5.0 if "cfg" in words else 1.0
        return FewStep("Hyper-SD", "TCD", "SGM Uniform", steps or 8, cfg, why)
    if "tcd" in words:
        return FewStep("TCD", "TCD", "SGM Uniform", steps or 4, 1.0, why)
    if "lcm" in words or low.startswith("lcm") or "_lcm" in low or "-lcm" in low:
        return FewStep("LCM", "LCM", "Automatic", steps or 4, 1.0, why)
    if "turbo" in words:
        return FewStep("Turbo", "Euler a", "Automatic", steps or 4, 1.0, why)
    return None


_TITLES = (
    "modelspec.title",
    "ss_output_name",
    "ss_sd_model_name",
    "modelspec.description",
    "studio_base_model",
)


def from_metadata(meta: dict[str, str]) -> FewStep | None:
    for key in _TITLES:
        value = meta.get(key)
        if isinstance(value, str) and (found := from_name(value[:200], f"its {key}")):
            return found
    return None


def from_folder(folder: Path) -> FewStep | None:
    """A diffusers folder: its scheduler, its UNet's guidance embedding, then its name."""
    scheduler = obj(read_json(folder / "scheduler" / "scheduler_config.json", max_bytes=1 << 20))
    cls = text(scheduler.get("_class_name"))
    unet = obj(read_json(folder / "unet" / "config.json", max_bytes=1 << 20))
    if cls == "LCMScheduler" or unet.get("time_cond_proj_dim"):
        # an LCM-distilled UNet takes its guidance as an embedding: CFG costs no second pass
        cfg = 8.0 if unet.get("time_cond_proj_dim") else 1.0
        return FewStep("LCM", "LCM", "Automatic", 4, cfg, "its scheduler and UNet")
    if cls == "TCDScheduler":
        return FewStep("TCD", "TCD", "SGM Uniform", 4, 1.0, "its scheduler")
    found = from_name(folder.name)
    if found is None and folder.parent.name == "snapshots":  # the Hugging Face cache: the repo's name
        found = from_name(folder.parent.parent.name.removeprefix("models--"))
    return found


def detect(path: Path, meta: dict[str, str] | None = None) -> FewStep | None:
    """A checkpoint or LoRA (file or folder) that is a few-step model, and its settings; None for others."""
    if path.is_dir():
        return from_folder(path)
    found = from_metadata(meta or {}) or from_name(path.stem)
    if found is None and path.parent.parent.name == "snapshots":  # a file fetched from a Hub repository
        found = from_name(path.parent.parent.parent.name.removeprefix("models--"), "its repository's name")
    return found


def recommendation(path: str | Path) -> dict[str, Any]:
    """The settings a few-step model or LoRA is made for ({} for others), from its files alone."""
    from studio.core.io.safetensors_header import HeaderError, read_header

    p = Path(path)
    meta: dict[str, str] = {}
    if p.suffix.lower() == ".safetensors":
        try:
            meta = read_header(p)["__metadata__"]
        except (HeaderError, OSError, ValueError):
            return {}
    try:
        found = detect(p, meta)
    except OSError:
        return {}
    return found.settings() if found else {}
