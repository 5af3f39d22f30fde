"""A draft from the recipe inside an image: exact for Studio's own images (the ``studio`` chunk: same spec, the
image's own seed, one image), best effort for other tools' metadata (AUTOMATIC1111/Forge, ComfyUI, InvokeAI,
SwarmUI, Fooocus) — with a sentence for each thing that could not be carried over."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path
from typing import Any

from studio.core.image.detail import DetailUnit
from studio.core.image.image_metadata import RENDER_KEYS
from studio.core.image.prompts import extract_loras
from studio.core.image.recipe import IMAGE
from studio.core.image.recipe_readers import Recipe, read_recipe
from studio.core.image.regions import RegionUnit
from studio.core.image.specs import ControlUnit, GenerateSpec, LoraRef, ReferenceUnit
from studio.core.io.untrusted import Unreadable, exists, is_file
from studio.core.jobs.fields import Params, Reading, spec_words

_ASIDE = (*RENDER_KEYS, "App")  # facts of the render, not of the recipe: nothing to carry over


def words_of(r: Recipe) -> dict[str, str]:
    """A recipe read from any tool as AUTOMATIC1111's settings (``Key: value``), the words the fields read."""
    size = f"{r.width}x{r.height}" if r.width and r.height else None
    core = {"Steps": r.steps, "Sampler": r.sampler, "Schedule type": r.schedule, "CFG scale": r.cfg_scale,
            "Seed": r.seed, "Size": size, "Model": r.model}  # fmt: skip
    out = {k: str(v) for k, v in core.items() if v not in (None, "")}
    out.update({str(k): str(v) for k, v in r.extra.items() if isinstance(v, str | int | float)})
    return out


def read_words(
    prompt: str, negative: str, params: Params, reading: Reading, source: str = ""
) -> dict[str, Any]:
    """A draft from another tool's settings: each field reads its own words (declared on ``GenerateSpec``); a key
    no field takes is reported in ``reading.notes`` as not carried over."""
    draft: dict[str, Any] = {"prompt": prompt, "negative_prompt": negative}
    for f in IMAGE.fields:
        w = f.words
        if w is None or not w.key:
            continue
        if w.read is not None:
            draft.update(w.read(params, reading))
        elif w.key in params:
            try:
                draft[f.name] = f.convert(params[w.key])
            except ValueError as e:
                reading.notes.append(f"{w.key}: {e}")
    taken = [w for _, w in spec_words(GenerateSpec)]
    skipped = sorted(k for k in params if k not in _ASIDE and not k.startswith("Lora")
                     and not any(w.takes(k) for w in taken))  # fmt: skip
    if skipped:
        reading.notes.append(f"Not carried over from {source or 'the picture'}: {', '.join(skipped[:12])}.")
    return draft


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
        draft["regions"] = [dataclasses.asdict(u) for u in spec.regions if not u.mask or is_file(u.mask)]
        draft["details"] = [dataclasses.asdict(u) for u in spec.details]
        if len(draft["regions"]) < len(spec.regions):
            notes.append("A region's mask is gone; that region was left out.")
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

    reading = Reading(find_model, notes)
    draft = read_words(r.prompt, r.negative_prompt, words_of(r), reading, r.source)
    tagged = {t.name for t in extract_loras(r.prompt)[1]}
    extra_loras = [name for name in r.loras if name not in tagged]
    if extra_loras:  # ComfyUI's LoraLoader nodes: named, their weights in the graph
        draft["loras"] = [[Path(name).stem, 1.0] for name in extra_loras]
        notes.append("LoRA weights outside the prompt were not carried over; " + ", ".join(
            Path(n).stem for n in extra_loras) + " at 1.0.")  # fmt: skip
    return draft, notes


_ALWAYS = ("steps", "sampler", "cfg_scale", "seed", "width", "model")  # shown even at their defaults


def recipe_facts(spec: GenerateSpec) -> list[tuple[str, str]]:
    """(label, value) of a Studio picture's recipe as the Gallery shows it: the usual six, then every field whose
    value is not its default — by the table, so a new field shows without a line of UI code."""
    defaults = {f.name: f.default for f in dataclasses.fields(GenerateSpec)}
    out = []
    ordered = [IMAGE[n] for n in _ALWAYS] + [f for f in IMAGE.fields if f.name not in _ALWAYS]
    for f in ordered:
        value = getattr(spec, f.name)
        if f.name in ("prompt", "negative_prompt", "height", "batch_size", "batch_count"):
            continue
        always = f.name in _ALWAYS or (f.name == "strength" and spec.mode in ("img2img", "inpaint"))
        if not always and (value == defaults[f.name] or value in (None, "", ())):
            continue
        label, shown = f.label, _shown(value)
        if f.name == "model":
            shown = spec.model_name
        elif f.name == "width":
            label, shown = "Size", f"{spec.width}×{spec.height}"
        elif f.name == "sampler" and spec.schedule != "Automatic":
            shown = f"{spec.sampler} {spec.schedule}"
        elif f.name == "schedule":
            continue
        out.append((label, shown))
    return out


def _shown(value: Any) -> str:
    if isinstance(value, bool):
        return "on" if value else "off"
    if isinstance(value, tuple) and value and all(isinstance(v, int) for v in value):
        return ",".join(map(str, value))
    if isinstance(value, tuple):
        return ", ".join(_unit(v) for v in value)
    if isinstance(value, str) and ("/" in value or "\\" in value):
        return Path(value).name
    return f"{value:g}" if isinstance(value, float) else str(value)


def _unit(v: Any) -> str:
    if isinstance(v, LoraRef):
        return f"{v.name} ×{v.weight:g}"
    if isinstance(v, ControlUnit):
        return f"{v.preprocessor}, {v.model_name} ×{v.weight:g}"
    if isinstance(v, ReferenceUnit):
        return f"{Path(v.image).name} ×{v.weight:g}"
    if isinstance(v, DetailUnit):
        return f"{v.target}{': ' + v.prompt if v.prompt else ''} ×{v.strength:g}"
    if isinstance(v, RegionUnit):
        return f"{Path(v.mask).name if v.mask else v.area}: {v.prompt} ×{v.weight:g}"
    return str(v)
