"""What a model recommends for its pictures: what its folder says (``studio.json``), else what a few-step model
(LCM, TCD, Lightning, Hyper-SD, Turbo) or a flow model (SD 3.x, FLUX.1) is made for. A model is looked at by its
header alone."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from studio.core.io.safetensors_header import HeaderError, read_header
from studio.core.io.untrusted import is_dir, obj, read_json
from studio.core.models.builtin_models import model_card
from studio.core.models.few_step import recommendation
from studio.core.models.model_library import describe_path

_RECOMMENDED_TYPES: dict[str, type] = {"width": int, "height": int, "steps": int, "cfg_scale": float,
                                       "sampler": str, "schedule": str}  # fmt: skip


def recommended_settings(model: str | Path) -> dict[str, Any]:
    """The settings a model recommends: what its folder says (``studio.json``: known fields of the right type),
    else what a few-step model (LCM, TCD, Lightning, Hyper-SD, Turbo) is made for."""
    rec = obj(model_card(model).get("recommended")) if is_dir(model) else {}
    if not rec and str(model):
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
