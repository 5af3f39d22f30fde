"""The image recipe's AUTOMATIC1111 words that need more than a key: how a field's value is written into the
``parameters`` text and read back from it. The fields declare them (``GenerateSpec``'s ``knob``s); the writer
(``image_metadata.a1111_text``) and the reader (``from_image``) only walk the declarations."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from studio.core.image.samplers import parse_sampler
from studio.core.image.units import REFERENCE_UNIT, control_text, read_control, settings_of, unit_text
from studio.core.io.untrusted import integer, number
from studio.core.jobs.fields import Params, Reading

LATENT, LANCZOS = "Latent", "Lanczos"


def upscaler_name(value: str) -> str:
    """How AUTOMATIC1111 names an upscaler: "Latent", "Lanczos", or the model file's name."""
    return value if "/" not in value and "\\" not in value else Path(value).stem


def schedule_name(text: str) -> str | None:
    """A schedule as other tools write it ("karras", "sgm_uniform") in Studio's words; None when none is given."""
    t = text.strip().lower()
    known = {"karras": "Karras", "exponential": "Exponential", "beta": "Beta", "sgm_uniform": "SGM Uniform",
             "sgm uniform": "SGM Uniform"}  # fmt: skip
    return known.get(t, None if not t else "Automatic")


# -- readers -------------------------------------------------------------------------------------------------------
def read_sampler(params: Params, reading: Reading) -> dict[str, Any]:
    name = params.get("Sampler", "")
    if not name:
        return {}
    try:
        sampler, schedule = parse_sampler(name, schedule_name(params.get("Schedule type", "")))
    except KeyError:
        reading.notes.append(f"The sampler {name!r} is not one Studio has; the default is used.")
        return {}
    return {"sampler": sampler, "schedule": schedule}


def read_size(params: Params, reading: Reading) -> dict[str, Any]:
    w, _, h = params.get("Size", "").lower().replace(" ", "").strip("()").replace(",", "x").partition("x")
    width, height = integer(w), integer(h)
    return {"width": width, "height": height} if width and height else {}


def read_model(params: Params, reading: Reading) -> dict[str, Any]:
    name = params.get("Model", "")
    if not name:
        return {}
    found = reading.find_model(name)
    if found:
        return {"model": found}
    reading.notes.append(f"The model {name!r} is not in your library; the default model is used.")
    return {}


def _hires(params: Params) -> float | None:
    scale = number(params.get("Hires upscale"))
    return scale if scale is not None and scale > 1 else None


def read_strength(params: Params, reading: Reading) -> dict[str, Any]:
    if "Denoising strength" in params and _hires(params) is None:
        reading.notes.append(
            "It was made from another image (img2img), which is not in it; this runs as text to image."
        )
    return {}


def read_hires_scale(params: Params, reading: Reading) -> dict[str, Any]:
    scale = _hires(params)
    return (
        {}
        if scale is None
        else {"hires_scale": scale, "hires_steps": integer(params.get("Hires steps")) or 0}
    )


def read_hires_denoise(params: Params, reading: Reading) -> dict[str, Any]:
    denoise = number(params.get("Denoising strength"))
    return {"hires_denoise": denoise} if _hires(params) is not None and denoise is not None else {}


def read_hires_upscaler(params: Params, reading: Reading) -> dict[str, Any]:
    if _hires(params) is None:
        return {}
    upscaler = str(params.get("Hires upscaler") or LATENT)
    if upscaler.startswith(LATENT) and upscaler != LATENT:
        reading.notes.append(f"The hires upscaler {upscaler!r} runs as Studio's Latent (bilinear).")
    return {"hires_upscaler": LATENT if upscaler.startswith(LATENT) else upscaler}


def read_variation(params: Params, reading: Reading) -> dict[str, Any]:
    seed, strength = integer(params.get("Variation seed")), number(params.get("Variation seed strength"))
    return {"variation_seed": seed, "variation_strength": strength} if seed is not None and strength else {}


def read_refiner(params: Params, reading: Reading) -> dict[str, Any]:
    name = str(params.get("Refiner") or "").split(" [")[0].strip()  # A1111 writes "name [hash]"
    if not name:
        return {}
    found = reading.find_model(name)
    if not found:
        reading.notes.append(f"The refiner {name!r} is not in your library; it was left out.")
        return {}
    switch = number(params.get("Refiner switch at"))
    return {"refiner": found, **({"refiner_switch": switch} if switch is not None and 0 < switch < 1 else {})}


def read_vae(params: Params, reading: Reading) -> dict[str, Any]:
    name = params.get("VAE", "")
    if name and name != "taesd":
        reading.notes.append(f"The VAE {name!r} was not carried over; choose it under VAE if you have it.")
    return {"fast_decode": True} if name == "taesd" else {}


def read_outpaint(params: Params, reading: Reading) -> dict[str, Any]:
    if params.get("Outpaint"):
        reading.notes.append("It extended another picture (outpainting), which is not in it.")
    return {}


def nothing(params: Params, reading: Reading) -> dict[str, Any]:
    """A field whose words need no reading: another field's reader takes them, or they only describe."""
    return {}


# -- ControlNet units (the A1111 ControlNet extension's words; an IP-Adapter is a unit there too) ------------------
_UNIT = re.compile(r"ControlNet \d+")


def unit_entries(spec: Any) -> list[tuple[str, Any]]:
    return [(f"ControlNet {i}", control_text(u)) for i, u in enumerate(spec.controls)]


def reference_entries(spec: Any) -> list[tuple[str, Any]]:
    return [
        (f"ControlNet {j}", unit_text(r, REFERENCE_UNIT))
        for j, r in enumerate(spec.references, start=len(spec.controls))
    ]


def read_units(params: Params, reading: Reading) -> dict[str, Any]:
    """ControlNet units, carried with their settings; the control image is not in the text, so each asks for one."""
    controls: list[dict[str, Any]] = []
    for key in sorted((k for k in params if _UNIT.fullmatch(k)), key=lambda k: int(k.split()[1]))[:16]:
        settings = settings_of(params[key])
        module = settings.get("Module", "none")
        if module.startswith("ip-adapter"):
            model = settings.get("Model", "").split(" [")[0].strip()
            reading.notes.append(f"{key} was a reference image (IP-Adapter {model}); add the picture under "
                                 "Reference images.")  # fmt: skip
            continue
        unit = read_control(settings)
        if not unit["preprocessor"]:
            reading.notes.append(
                f"{key}: the preprocessor {module!r} is not one Studio has; it was left out."
            )
            continue
        controls.append(unit)
        reading.notes.append(f"{key} ({unit['preprocessor']}, {unit['model']}) came without its control image: "
                             "choose one under ControlNet.")  # fmt: skip
    return {"controls": controls} if controls else {}
