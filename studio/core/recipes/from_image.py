"""A draft from the recipe inside an image: exact for Studio's own images (the ``studio`` chunk: same spec, the
image's own seed, one image), best effort for other tools' metadata (AUTOMATIC1111/Forge, ComfyUI, InvokeAI,
SwarmUI, Fooocus) — with a sentence for each thing that could not be carried over."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path
from typing import Any

from studio.core.prompts import extract_loras
from studio.core.recipe_readers import read_recipe, recipe_fields
from studio.core.recipes.image import IMAGE
from studio.core.specs import GenerateSpec
from studio.core.untrusted import Unreadable, exists, integer, is_file, number

# A1111 keys that Studio reads into fields of its own (the rest is reported as not carried over)
_CARRIED = {"Clip skip", "RNG", "Version", "Lora hashes", "Model hash", "Schedule type", "Mask blur", "App",
            "TI hashes", "Denoising strength", "Hires upscale", "Hires steps", "Hires upscaler",
            "Refiner", "Refiner switch at", "Variation seed", "Variation seed strength",
            "Styles", "Idea"}  # fmt: skip


def draft_from_image(
    path: str | Path, find_model: Callable[[str], str | None] = lambda name: None
) -> tuple[dict[str, Any], list[str]] | Unreadable:
    """(draft, what was not carried over) — or ``Unreadable`` when the image holds no recipe at all."""
    r = read_recipe(path)
    if r.source == "none":
        return Unreadable(r.problems[0] if r.problems else f"{Path(path).name} holds no recipe.")
    notes: list[str] = list(r.problems)
    if r.studio_spec is not None:
        try:
            spec = GenerateSpec.from_dict(dict(r.studio_spec))
        except ValueError as e:
            return Unreadable(f"The recipe in {Path(path).name} cannot be read ({e}).")
        draft: dict[str, Any] = {f.name: getattr(spec, f.name) for f in IMAGE.fields if f.name != "loras"}
        draft.update(seed=r.seed if r.seed is not None else spec.seed, batch_size=1, batch_count=1)
        draft["loras"] = [[lo.path, lo.weight] for lo in spec.loras]
        draft["styles"] = []  # already in its prompt
        draft["controls"] = [dataclasses.asdict(u) for u in spec.controls]
        draft["references"] = [dataclasses.asdict(u) for u in spec.references]
        if spec.remote:  # made on a server: its model is the server's, by name, and the job goes there again
            notes += [] if spec.model else ["The recipe names no model; choose one of the server's."]
        elif spec.model and not exists(spec.model):
            found = find_model(spec.model_name)
            notes.append(
                f"The model {spec.model} is gone; " + (f"using {found}." if found else "choose one.")
            )
            draft["model"] = found or ""
        for key in ("init_image", "mask"):
            if draft.get(key) and not is_file(draft[key]):
                notes.append(f"The {key.replace('_', ' ')} {draft[key][:200]} is gone; it was left out.")
                draft[key] = None
        if not draft.get("init_image"):
            draft["mask"] = draft["parent_image"] = None
        return draft, notes

    draft = recipe_fields(r)
    draft.pop("model", None)
    if r.sampler and "sampler" not in draft:
        notes.append(f"The sampler {r.sampler!r} is not one Studio has; the default is used.")
    if r.model:
        found = find_model(r.model)
        if found:
            draft["model"] = found
        else:
            notes.append(f"The model {r.model!r} is not in your library; the default model is used.")
    clip_skip = integer(r.extra.get("Clip skip"))
    if clip_skip is not None:
        draft["clip_skip"] = clip_skip
    tagged = {t.name for t in extract_loras(r.prompt)[1]}
    extra_loras = [name for name in r.loras if name not in tagged]
    if extra_loras:  # ComfyUI's LoraLoader nodes: named, their weights in the graph
        draft["loras"] = [[Path(name).stem, 1.0] for name in extra_loras]
        notes.append("LoRA weights outside the prompt were not carried over; " + ", ".join(
            Path(n).stem for n in extra_loras) + " at 1.0.")  # fmt: skip
    hires = number(r.extra.get("Hires upscale"))
    if (
        hires is not None and hires > 1
    ):  # AUTOMATIC1111's hires fix: its Denoising strength is the hires pass's
        draft["hires_scale"] = hires
        draft["hires_steps"] = integer(r.extra.get("Hires steps")) or 0
        denoise = number(r.extra.get("Denoising strength"))
        if denoise is not None:
            draft["hires_denoise"] = denoise
        upscaler = str(r.extra.get("Hires upscaler") or "Latent")
        draft["hires_upscaler"] = "Latent" if upscaler.startswith("Latent") else upscaler
        if upscaler.startswith("Latent") and upscaler != "Latent":
            notes.append(f"The hires upscaler {upscaler!r} runs as Studio's Latent (bilinear).")
    elif "Denoising strength" in r.extra:
        notes.append(
            "It was made from another image (img2img), which is not in it; this runs as text to image."
        )
    variation, strength = (
        integer(r.extra.get("Variation seed")),
        number(r.extra.get("Variation seed strength")),
    )
    if variation is not None and strength:
        draft.update(variation_seed=variation, variation_strength=strength)
    refiner = str(r.extra.get("Refiner") or "")
    if refiner:  # A1111 writes "name [hash]"
        name = refiner.split(" [")[0].strip()
        found = find_model(name)
        if found:
            draft["refiner"] = found
            switch = number(r.extra.get("Refiner switch at"))
            if switch is not None and 0 < switch < 1:
                draft["refiner_switch"] = switch
        else:
            notes.append(f"The refiner {name!r} is not in your library; it was left out.")
    skipped = sorted(k for k in r.extra if k not in _CARRIED and not str(k).startswith("Lora"))
    if skipped:
        notes.append(f"Not carried over from {r.source}: {', '.join(str(k) for k in skipped[:12])}.")
    return draft, notes
