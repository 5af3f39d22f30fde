"""An image recipe as a ComfyUI API workflow (the JSON that ``POST /prompt`` takes: node id → class and inputs),
one workflow per picture so that each has A1111's seed. What the recipe asks for and ComfyUI's stock nodes cannot
do the same way is refused before anything is queued, each with its reason — never approximated silently.

Nodes used (ComfyUI's built-ins): CheckpointLoaderSimple, LoraLoader, CLIPSetLastLayer, CLIPTextEncode,
ConditioningConcat (BREAK), EmptyLatentImage, LoadImage, ImageScale, VAEEncode, ImageToMask, SetLatentNoiseMask,
VAELoader, ControlNetLoader + ControlNetApplyAdvanced (the maps made here, uploaded), KSampler, LatentUpscale or
UpscaleModelLoader + ImageUpscaleWithModel (hires fix), VAEDecode, SaveImage."""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from studio.core.image.control import MODEL_PREPROCESSORS
from studio.core.image.prompt_grammar import BREAK_WORD, DOWN_WEIGHT, EDIT_LIKE
from studio.core.image.recipe import IMAGE
from studio.core.image.specs import GenerateSpec
from studio.core.image.units import CONTROL_UNIT

SAMPLERS = {"Euler": "euler", "Euler a": "euler_ancestral", "Heun": "heun", "DPM2": "dpm_2",
            "DPM2 a": "dpm_2_ancestral", "DPM++ 2M": "dpmpp_2m", "DPM++ 2M SDE": "dpmpp_2m_sde",
            "DPM++ SDE": "dpmpp_sde", "LMS": "lms", "DDIM": "ddim", "UniPC": "uni_pc", "DEIS": "deis",
            "LCM": "lcm"}  # fmt: skip
SCHEDULES = {"Automatic": "normal", "Karras": "karras", "Exponential": "exponential", "Beta": "beta"}


@dataclass(frozen=True)
class ServerModels:
    """What a server offers (from ``/object_info``): file names as its loaders list them."""

    checkpoints: tuple[str, ...] = ()
    loras: tuple[str, ...] = ()
    vaes: tuple[str, ...] = ()
    controlnets: tuple[str, ...] = ()
    upscalers: tuple[str, ...] = ()
    samplers: tuple[str, ...] = ()
    schedulers: tuple[str, ...] = ()
    nodes: frozenset[str] = frozenset()


def _choices(info: Any, node: str, field: str) -> tuple[str, ...]:
    try:
        values = info[node]["input"]["required"][field][0]
    except (KeyError, IndexError, TypeError):
        return ()
    return tuple(v for v in values if isinstance(v, str))[:100_000] if isinstance(values, list) else ()


def server_models(object_info: Any) -> ServerModels:
    """The lists out of ``/object_info`` (untrusted: anything of another shape counts as nothing offered)."""
    if not isinstance(object_info, dict):
        return ServerModels()
    return ServerModels(
        _choices(object_info, "CheckpointLoaderSimple", "ckpt_name"),
        _choices(object_info, "LoraLoader", "lora_name"),
        _choices(object_info, "VAELoader", "vae_name"),
        _choices(object_info, "ControlNetLoader", "control_net_name"),
        _choices(object_info, "UpscaleModelLoader", "model_name"),
        _choices(object_info, "KSampler", "sampler_name"),
        _choices(object_info, "KSampler", "scheduler"),
        frozenset(k for k in object_info if isinstance(k, str)),
    )


def match_name(wanted: str, offered: tuple[str, ...]) -> str | None:
    """The server's name for a local file or a name: the same file name, else the same name without its
    extension (a server lists files with their subfolders: ``sd15/dreamshaper_8.safetensors``)."""
    if not wanted:
        return None
    if wanted in offered:
        return wanted
    name = Path(wanted.replace("\\", "/")).name
    by_file = [o for o in offered if PurePosixPath(o.replace("\\", "/")).name == name]
    if by_file:
        return by_file[0]
    stem = Path(name).stem if Path(name).suffix in (".safetensors", ".ckpt", ".pt", ".pth", ".bin") else name
    by_stem = [o for o in offered if PurePosixPath(o.replace("\\", "/")).stem == stem]
    return by_stem[0] if by_stem else None


def comfy_prompt(text: str, embeddings: tuple[str, ...] = ()) -> list[str]:
    """A1111's prompt syntax in ComfyUI's: ``(a:1.2)`` and ``(a)`` are the same in both; ``[a]`` (÷1.1) becomes
    ``(a:0.91)``; an embedding's name becomes ``embedding:NAME``; BREAK splits the prompt into pieces that are
    encoded apart and concatenated (as A1111's chunks are)."""
    out = []
    for piece in BREAK_WORD.split(text):
        piece = DOWN_WEIGHT.sub(lambda m: f"({m.group(1)}:0.91)", piece)
        for name in embeddings:
            piece = re.sub(rf"(?<![\w:]){re.escape(name)}(?!\w)", f"embedding:{name}", piece)
        out.append(piece.strip())
    return out or [""]


def refusals(spec: GenerateSpec, models: ServerModels) -> dict[str, str]:
    """What this server cannot do of the recipe, by field; {} when it can run it as Studio would."""
    out: dict[str, str] = {}
    if match_name(spec.model, models.checkpoints) is None:
        listed = ", ".join(models.checkpoints[:6]) + ("…" if len(models.checkpoints) > 6 else "")
        out["model"] = (f"The server has no checkpoint named {Path(spec.model).name}"
                        + (f" (it has: {listed})." if listed else " (it lists none)."))  # fmt: skip
    comfy = SAMPLERS.get(spec.sampler)
    if comfy is None or (models.samplers and comfy not in models.samplers):
        out["sampler"] = (
            f"ComfyUI has no sampler that is {spec.sampler} (choose e.g. Euler, DPM++ 2M, UniPC)."
        )
    if SCHEDULES.get(spec.schedule, "") not in (models.schedulers or tuple(SCHEDULES.values())):
        out["schedule"] = f"ComfyUI has no {spec.schedule} schedule."
    for lora in spec.loras:
        if match_name(lora.path, models.loras) is None:
            out["loras"] = f"The server has no LoRA named {Path(lora.path).name}."
    if spec.vae and match_name(spec.vae, models.vaes) is None:
        out["vae"] = f"The server has no VAE named {Path(spec.vae).name}."
    for unit in spec.controls:
        if unit.weight <= 0:
            continue  # not run (as here)
        if unit.preprocessor in MODEL_PREPROCESSORS or unit.preprocessor == "inpaint":
            out["controls"] = (f"The {unit.preprocessor} preprocessor runs on this machine only: make the map here "
                               "(or use a ready map with preprocessor none).")  # fmt: skip
        elif match_name(unit.model, models.controlnets) is None:
            out["controls"] = f"The server has no ControlNet named {Path(unit.model).name}."
    model_upscaler = spec.hires and spec.hires_upscaler not in ("Latent", "Lanczos")
    if model_upscaler and match_name(spec.hires_upscaler, models.upscalers) is None:
        out["hires_upscaler"] = f"The server has no upscaler named {Path(spec.hires_upscaler).name}."
    for f in IMAGE.fields:  # what a field declares ComfyUI cannot do (``refused`` on GenerateSpec)
        c = f.comfy
        if c is not None and c.refuse and _uses(spec, f.name, c.when):
            out[f.name] = c.refuse
    if EDIT_LIKE.search(spec.prompt + " " + spec.negative_prompt):
        out["prompt"] = "Prompt editing and alternation ([a:b:0.5], [a|b]) have no ComfyUI equivalent."
    return out


def _uses(spec: GenerateSpec, name: str, when: Any) -> bool:
    """Whether the recipe uses a field: its own test, else a value other than the spec's default."""
    if when is not None:
        return bool(when(spec))
    return bool(getattr(spec, name) != _DEFAULTS[name])


_DEFAULTS = {f.name: f.default for f in dataclasses.fields(GenerateSpec)}


class _Graph:
    def __init__(self) -> None:
        self.nodes: dict[str, dict[str, Any]] = {}

    def add(self, cls: str, **inputs: Any) -> list[Any]:
        """A node; returns a link to its first output (``[id, 0]``)."""
        node_id = str(len(self.nodes) + 1)
        self.nodes[node_id] = {"class_type": cls, "inputs": inputs}
        return [node_id, 0]


def workflow(
    spec: GenerateSpec, index: int, models: ServerModels, uploads: dict[str, str] | None = None
) -> dict[str, dict[str, Any]]:
    """The workflow of the ``index``-th picture of ``spec`` (its own prompt and A1111 seed). ``uploads``: the
    server's names of the init image and mask (``{"init": …, "mask": …}``). Call after ``refusals`` found none."""
    uploads = uploads or {}
    g = _Graph()
    ckpt = g.add("CheckpointLoaderSimple", ckpt_name=match_name(spec.model, models.checkpoints))
    model, clip, vae = ckpt, [ckpt[0], 1], [ckpt[0], 2]
    for lora in spec.loras:
        loader = g.add("LoraLoader", model=model, clip=clip, lora_name=match_name(lora.path, models.loras),
                       strength_model=lora.weight, strength_clip=lora.weight)  # fmt: skip
        model, clip = loader, [loader[0], 1]
    if spec.clip_skip > 1:
        clip = g.add("CLIPSetLastLayer", clip=clip, stop_at_clip_layer=-spec.clip_skip)
    if spec.vae:
        vae = g.add("VAELoader", vae_name=match_name(spec.vae, models.vaes))
    names = tuple(e.name for e in spec.embeddings)

    def encode(text: str) -> list[Any]:
        pieces = [g.add("CLIPTextEncode", clip=clip, text=p) for p in comfy_prompt(text, names)]
        cond = pieces[0]
        for nxt in pieces[1:]:
            cond = g.add("ConditioningConcat", conditioning_to=cond, conditioning_from=nxt)
        return cond

    prompt, negative = spec.prompts_of(index)
    positive, negative_cond = encode(prompt), encode(negative)
    for i, unit in enumerate(spec.controls):  # the maps were made here and uploaded; the server applies them
        if unit.weight <= 0:
            continue
        net = g.add("ControlNetLoader", control_net_name=match_name(unit.model, models.controlnets))
        hint = g.add("LoadImage", image=uploads[f"control{i}"])
        carried = {f.comfy.input: getattr(unit, f.name) for f in CONTROL_UNIT.fields
                   if f.comfy is not None and f.comfy.node == "ControlNetApplyAdvanced"}  # fmt: skip
        applied = g.add(
            "ControlNetApplyAdvanced",
            positive=positive,
            negative=negative_cond,
            control_net=net,
            image=hint,
            **carried,
        )
        positive, negative_cond = applied, [applied[0], 1]
    denoise = 1.0
    if spec.init_image:
        image = g.add("LoadImage", image=uploads["init"])
        image = g.add("ImageScale", image=image, upscale_method="lanczos", width=spec.width, height=spec.height,
                      crop="center")  # fmt: skip
        latent = g.add("VAEEncode", pixels=image, vae=vae)
        denoise = spec.strength
        if spec.mask and "mask" in uploads:
            mask_image = g.add("LoadImage", image=uploads["mask"])
            mask_image = g.add("ImageScale", image=mask_image, upscale_method="bilinear", width=spec.width,
                               height=spec.height, crop="center")  # fmt: skip
            mask = g.add("ImageToMask", image=mask_image, channel="red")
            latent = g.add("SetLatentNoiseMask", samples=latent, mask=mask)
    else:
        latent = g.add("EmptyLatentImage", width=spec.width, height=spec.height, batch_size=1)
    seed = spec.seed_for(index)
    sampler, scheduler = SAMPLERS[spec.sampler], SCHEDULES[spec.schedule]
    samples = g.add("KSampler", model=model, seed=seed, steps=spec.steps, cfg=spec.cfg_scale, sampler_name=sampler,
                    scheduler=scheduler, positive=positive, negative=negative_cond, latent_image=latent,
                    denoise=denoise)  # fmt: skip
    if spec.hires:
        samples = _hires_pass(g, spec, models, samples, model, vae, seed, positive, negative_cond)
    pixels = g.add("VAEDecode", samples=samples, vae=vae)
    g.add("SaveImage", images=pixels, filename_prefix="studio")
    return g.nodes


def _hires_pass(
    g: _Graph,
    spec: GenerateSpec,
    models: ServerModels,
    samples: list[Any],
    model: list[Any],
    vae: list[Any],
    seed: int,
    positive: list[Any],
    negative: list[Any],
) -> list[Any]:
    """A1111's hires fix on the server: the latent (or the picture, by an upscaler model or Lanczos) upscaled, then
    a second KSampler pass at the hires denoising."""
    sampler, scheduler = SAMPLERS[spec.sampler], SCHEDULES[spec.schedule]
    w, h = spec.hires_size
    if spec.hires_upscaler == "Latent":
        up = g.add(
            "LatentUpscale",
            samples=samples,
            upscale_method="nearest-exact",
            width=w,
            height=h,
            crop="disabled",
        )
    else:  # in pixels: an upscaler model (ESRGAN…) or Lanczos, then back to the latent
        pixels = g.add("VAEDecode", samples=samples, vae=vae)
        if spec.hires_upscaler != "Lanczos":
            loader = g.add("UpscaleModelLoader", model_name=match_name(spec.hires_upscaler, models.upscalers))
            pixels = g.add("ImageUpscaleWithModel", upscale_model=loader, image=pixels)
        pixels = g.add(
            "ImageScale", image=pixels, upscale_method="lanczos", width=w, height=h, crop="disabled"
        )
        up = g.add("VAEEncode", pixels=pixels, vae=vae)
    samples = g.add("KSampler", model=model, seed=seed, steps=spec.hires_steps or spec.steps, cfg=spec.cfg_scale,
                    sampler_name=sampler, scheduler=scheduler, positive=positive, negative=negative,
                    latent_image=up, denoise=spec.hires_denoise)  # fmt: skip
    return samples


def sampler_steps(spec: GenerateSpec) -> int:
    """How many sampling steps one picture takes on the server (the hires pass included): the progress bar's total."""
    return spec.steps + ((spec.hires_steps or spec.steps) if spec.hires else 0)
