"""Reading the recipe inside an image, whichever tool wrote it: Studio, AUTOMATIC1111/Forge/SD.Next, Fooocus,
ComfyUI, InvokeAI and SwarmUI. Missing or broken metadata is reported in ``problems``, never raised."""

from __future__ import annotations

import contextlib
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from PIL import Image, UnidentifiedImageError

from studio.core.a1111 import parse_parameters

MAX_PIXELS = 16384 * 16384  # larger images are refused as decompression bombs
EXIF_IFD, USER_COMMENT = 0x8769, 0x9286


@dataclass
class Recipe:
    """A normalised recipe. ``source`` names the tool that wrote it ("none" when there is nothing)."""

    source: str = "none"
    prompt: str = ""
    negative_prompt: str = ""
    steps: int | None = None
    sampler: str = ""
    schedule: str = ""
    cfg_scale: float | None = None
    seed: int | None = None
    width: int | None = None
    height: int | None = None
    model: str = ""
    model_hash: str = ""
    loras: list[str] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    studio_spec: dict[str, Any] | None = None  # the exact spec when Studio wrote the image

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def _int(v: Any) -> int | None:
    try:
        return int(str(v).strip())
    except (TypeError, ValueError):
        return None


def _float(v: Any) -> float | None:
    try:
        return float(str(v).strip())
    except (TypeError, ValueError):
        return None


def _size(text: str) -> tuple[int | None, int | None]:
    w, _, h = str(text).lower().replace(" ", "").strip("()").replace(",", "x").partition("x")
    return _int(w), _int(h)


# -- AUTOMATIC1111 and friends -----------------------------------------------------------------------------------
def from_a1111(text: str) -> Recipe:
    prompt, negative, params = parse_parameters(text)
    version = params.get("Version", "")
    if version.startswith("Studio"):
        source = "studio"
    elif version.startswith("f") and version[1:2].isdigit():
        source = "forge"
    elif "SD.Next" in params.get("App", "") or "sdnext" in version.lower():
        source = "sd.next"
    elif "Fooocus" in version or "fooocus" in params.get("Fooocus V2 Expansion", "").lower():
        source = "fooocus"
    else:
        source = "automatic1111"
    w, h = _size(params.get("Size", ""))
    r = Recipe(
        source=source,
        prompt=prompt,
        negative_prompt=negative,
        steps=_int(params.get("Steps")),
        sampler=params.get("Sampler", ""),
        schedule=params.get("Schedule type", ""),
        cfg_scale=_float(params.get("CFG scale")),
        seed=_int(params.get("Seed")),
        width=w,
        height=h,
        model=params.get("Model", ""),
        model_hash=params.get("Model hash", ""),
    )
    from studio.core.prompts import extract_loras

    r.loras = [t.name for t in extract_loras(prompt)[1]]
    known = {"Steps", "Sampler", "Schedule type", "CFG scale", "Seed", "Size", "Model", "Model hash"}
    r.extra = {k: v for k, v in params.items() if k not in known}
    if not params:
        r.problems.append(
            "The parameters text has no settings line (Steps, Sampler, …); only the prompt was read."
        )
    return r


def from_fooocus_json(data: dict[str, Any]) -> Recipe:
    w, h = _size(data.get("resolution", ""))
    return Recipe(
        source="fooocus",
        prompt=str(data.get("prompt", "")),
        negative_prompt=str(data.get("negative_prompt", "")),
        steps=_int(data.get("steps")),
        sampler=str(data.get("sampler", "")),
        schedule=str(data.get("scheduler", "")),
        cfg_scale=_float(data.get("guidance_scale")),
        seed=_int(data.get("seed")),
        width=w,
        height=h,
        model=str(data.get("base_model", "")),
        loras=[str(x[0]) if isinstance(x, list) else str(x) for x in data.get("loras", [])],
    )


def from_swarm(data: dict[str, Any]) -> Recipe:
    p = data.get("sui_image_params", {})
    if not isinstance(p, dict):
        return Recipe(source="swarmui", problems=["sui_image_params is not an object."])
    return Recipe(
        source="swarmui",
        prompt=str(p.get("prompt", "")),
        negative_prompt=str(p.get("negativeprompt", "")),
        steps=_int(p.get("steps")),
        sampler=str(p.get("sampler", "")),
        schedule=str(p.get("scheduler", "")),
        cfg_scale=_float(p.get("cfgscale")),
        seed=_int(p.get("seed")),
        width=_int(p.get("width")),
        height=_int(p.get("height")),
        model=str(p.get("model", "")),
        loras=[str(x) for x in p.get("loras", [])] if isinstance(p.get("loras"), list) else [],
    )


def from_invokeai(data: dict[str, Any]) -> Recipe:
    model = data.get("model", "")
    if isinstance(model, dict):
        model = model.get("name") or model.get("model_name") or ""
    loras = []
    for lo in data.get("loras", []) or []:
        if isinstance(lo, dict):
            m = lo.get("model") or lo.get("lora") or {}
            loras.append(str(m.get("name") or m.get("model_name") or "") if isinstance(m, dict) else str(m))
    return Recipe(
        source="invokeai",
        prompt=str(data.get("positive_prompt", "")),
        negative_prompt=str(data.get("negative_prompt", "")),
        steps=_int(data.get("steps")),
        sampler=str(data.get("scheduler", "")),
        cfg_scale=_float(data.get("cfg_scale")),
        seed=_int(data.get("seed")),
        width=_int(data.get("width")),
        height=_int(data.get("height")),
        model=str(model),
        loras=[x for x in loras if x],
    )


# -- ComfyUI ---------------------------------------------------------------------------------------------------------
_SAMPLERS = ("KSampler", "KSamplerAdvanced", "SamplerCustom", "SamplerCustomAdvanced")


def _link(v: Any) -> str | None:
    return str(v[0]) if isinstance(v, list) and len(v) == 2 and isinstance(v[1], int) else None


class _Graph:
    def __init__(self, nodes: dict[str, Any]):
        self.nodes = {str(k): v for k, v in nodes.items() if isinstance(v, dict)}

    def node(self, nid: str | None, seen: frozenset[str] = frozenset()) -> dict[str, Any] | None:
        """The node behind a link, passing through reroutes."""
        if nid is None or nid in seen or nid not in self.nodes:
            return None
        n = self.nodes[nid]
        if "reroute" in str(n.get("class_type", "")).lower():
            ins = n.get("inputs", {})
            nxt = next((_link(v) for v in ins.values() if _link(v)), None)
            return self.node(nxt, seen | {nid})
        return n

    def value(self, n: dict[str, Any], key: str, depth: int = 0) -> Any:
        """An input's value, following links to primitive nodes (whose single widget holds the value)."""
        v = n.get("inputs", {}).get(key)
        target = self.node(_link(v))
        if target is None:
            return v
        if depth > 8:
            return None
        ins = target.get("inputs", {})
        for k in (key, "value", "seed", "noise_seed", "int", "float", "string", "text"):
            if k in ins:
                return self.value(target, k, depth + 1)
        return None

    def text(self, n: dict[str, Any] | None, depth: int = 0) -> str:
        """The prompt text that feeds a conditioning input (CLIPTextEncode, SDXL encoders, combine nodes)."""
        if n is None or depth > 12:
            return ""
        ins = n.get("inputs", {})
        for key in ("text", "text_g", "prompt"):
            if key in ins:
                v = self.value(n, key)
                if isinstance(v, str):
                    return v
        parts = [
            self.text(self.node(_link(v)), depth + 1)
            for key, v in ins.items()
            if _link(v) and "clip" not in key
        ]
        return ", ".join(p for p in parts if p)

    def upstream(self, n: dict[str, Any], class_names: tuple[str, ...], depth: int = 0) -> Any:
        """Walk links back from ``n`` until a node of one of ``class_names`` is found."""
        if depth > 20:
            return None
        for v in n.get("inputs", {}).values():
            target = self.node(_link(v))
            if target is None:
                continue
            if target.get("class_type") in class_names:
                return target
            found = self.upstream(target, class_names, depth + 1)
            if found is not None:
                return found
        return None


def from_comfy(prompt: dict[str, Any]) -> Recipe:
    g = _Graph(prompt)
    samplers = {nid: n for nid, n in g.nodes.items() if n.get("class_type") in _SAMPLERS}
    if not samplers:
        return Recipe(source="comfyui", problems=["The ComfyUI graph has no sampler node."])

    def fed_by_sampler(n: dict[str, Any]) -> bool:
        latent = g.node(_link(n.get("inputs", {}).get("latent_image")))
        return latent is not None and (
            latent.get("class_type") in _SAMPLERS or g.upstream(latent, _SAMPLERS) is not None
        )

    base = [nid for nid, n in samplers.items() if not fed_by_sampler(n)] or list(samplers)
    nid = sorted(base, key=lambda x: (len(x), x))[0]
    s = samplers[nid]
    r = Recipe(source="comfyui")
    r.prompt = g.text(g.node(_link(s["inputs"].get("positive"))))
    r.negative_prompt = g.text(g.node(_link(s["inputs"].get("negative"))))
    r.seed = _int(g.value(s, "seed") if "seed" in s.get("inputs", {}) else g.value(s, "noise_seed"))
    r.steps = _int(g.value(s, "steps"))
    r.cfg_scale = _float(g.value(s, "cfg"))
    r.sampler = str(g.value(s, "sampler_name") or "")
    r.schedule = str(g.value(s, "scheduler") or "")
    ckpt = g.upstream(
        s, ("CheckpointLoaderSimple", "CheckpointLoader", "UNETLoader", "unCLIPCheckpointLoader")
    )
    if ckpt:
        r.model = str(ckpt["inputs"].get("ckpt_name") or ckpt["inputs"].get("unet_name") or "")
    r.loras = [
        str(n["inputs"].get("lora_name"))
        for n in g.nodes.values()
        if n.get("class_type") in ("LoraLoader", "LoraLoaderModelOnly")
        and n.get("inputs", {}).get("lora_name")
    ]
    latent = g.node(_link(s["inputs"].get("latent_image")))
    if latent is not None and "width" in latent.get("inputs", {}):
        r.width, r.height = _int(g.value(latent, "width")), _int(g.value(latent, "height"))
    if len(samplers) > 1:
        r.extra["samplers"] = len(samplers)
    if not r.prompt:
        r.problems.append("The sampler's positive input does not lead to a prompt text node.")
    return r


# -- the entry point -----------------------------------------------------------------------------------------------
def _user_comment(im: Image.Image) -> str | None:
    try:
        raw = im.getexif().get_ifd(EXIF_IFD).get(USER_COMMENT)
    except Exception:  # noqa: BLE001 - broken EXIF is "no comment"
        return None
    if isinstance(raw, str):
        return raw or None
    if not isinstance(raw, bytes) or len(raw) < 8:
        return None
    head, body = raw[:8], raw[8:]
    if head.startswith(b"UNICODE"):
        enc = "utf-16-be" if body[:1] == b"\x00" else "utf-16-le"
        return body.decode(enc, errors="replace").rstrip("\x00") or None
    return body.decode("utf-8", errors="replace").rstrip("\x00") or None


def _json(text: Any) -> Any:
    if not isinstance(text, str | bytes):
        return None
    try:
        return json.loads(text)
    except ValueError:
        return None


def recipe_of_info(info: dict[str, Any], user_comment: str | None = None) -> Recipe:
    """The recipe in an image's text chunks (PIL's ``info``) and EXIF user comment."""
    studio = _json(info.get("studio"))
    params = info.get("parameters")
    if isinstance(params, bytes):
        params = params.decode("utf-8", errors="replace")
    if isinstance(studio, dict) and isinstance(studio.get("spec"), dict):
        r = from_a1111(params) if isinstance(params, str) else Recipe()
        r.source = "studio"
        r.studio_spec = dict(studio["spec"])
        spec = r.studio_spec
        r.prompt, r.negative_prompt = str(spec.get("prompt", r.prompt)), str(spec.get("negative_prompt", ""))
        r.seed = _int(studio.get("image_seed", spec.get("seed")))
        r.steps, r.cfg_scale = _int(spec.get("steps")), _float(spec.get("cfg_scale"))
        r.sampler, r.schedule = str(spec.get("sampler", "")), str(spec.get("schedule", ""))
        r.width, r.height = _int(spec.get("width")), _int(spec.get("height"))
        model = Path(str(spec.get("model", "")))
        r.model = (model.stem if model.suffix else model.name) or r.model  # as A1111's "Model:" names it
        r.extra.update({k: studio[k] for k in ("device", "dtype", "seconds", "versions") if k in studio})
        if spec.get("parent_image"):
            r.extra["parent_image"] = spec["parent_image"]
        return r
    for text in (params, user_comment):
        if not isinstance(text, str) or not text.strip():
            continue
        data = _json(text)
        if isinstance(data, dict) and "sui_image_params" in data:
            return from_swarm(data)
        if isinstance(data, dict) and ("fooocus_scheme" in data or "base_model" in data):
            return from_fooocus_json(data)
        if isinstance(data, dict) and isinstance(data.get("prompt"), str):
            return from_fooocus_json(data)
        return from_a1111(text)
    invoke = _json(info.get("invokeai_metadata"))
    if isinstance(invoke, dict):
        return from_invokeai(invoke)
    comfy = _json(info.get("prompt"))
    if isinstance(comfy, dict):
        return from_comfy(comfy)
    for key in ("parameters", "invokeai_metadata", "prompt", "studio"):
        if key in info:
            return Recipe(problems=[f"The {key!r} metadata is present but unreadable."])
    return Recipe(problems=["This image carries no generation metadata."])


def read_recipe(path: str | Path) -> Recipe:
    """The recipe of an image file. Never raises for a bad file: ``problems`` says what is wrong."""
    path = Path(path)
    try:
        with Image.open(path) as im:
            w, h = im.size
            if w * h > MAX_PIXELS:
                return Recipe(
                    problems=[
                        f"{path.name} is {w}×{h} pixels, beyond the {MAX_PIXELS:,}-pixel limit "
                        "(a possible decompression bomb); it was not read."
                    ]
                )
            info = {str(k): v for k, v in im.info.items()}
            comment = _user_comment(im) if im.format in ("JPEG", "WEBP", "TIFF") else None
    except FileNotFoundError:
        return Recipe(problems=[f"{path} does not exist."])
    except (UnidentifiedImageError, Image.DecompressionBombError) as e:
        return Recipe(problems=[f"{path.name} is not an image Studio can read ({e})."])
    except (OSError, ValueError, SyntaxError) as e:  # truncated files, oversized text chunks
        return Recipe(problems=[f"{path.name} is damaged or has oversized metadata: {e}."])
    r = recipe_of_info(info, comment)
    r.width = r.width or w
    r.height = r.height or h
    return r


def recipe_fields(r: Recipe) -> dict[str, Any]:
    """Image-panel fields from a recipe ("Use these settings"): exact for Studio images, best effort for others.
    The model is left out unless Studio wrote the image (other tools name models Studio may not have)."""
    from studio.core.samplers import parse_sampler
    from studio.core.specs import GenerateSpec

    if r.studio_spec is not None:
        try:
            spec = GenerateSpec.from_dict(dict(r.studio_spec))
        except (TypeError, ValueError, KeyError):
            spec = None
        if spec is not None:
            fields = {
                k: getattr(spec, k)
                for k in (
                    "model",
                    "prompt",
                    "negative_prompt",
                    "width",
                    "height",
                    "steps",
                    "cfg_scale",
                    "sampler",
                    "schedule",
                    "clip_skip",
                    "strength",
                    "mask_blur",
                )
            }
            fields["seed"] = r.seed if r.seed is not None else spec.seed
            fields["loras"] = [[lo.path, lo.weight] for lo in spec.loras]
            return fields
    fields = {"prompt": r.prompt, "negative_prompt": r.negative_prompt}
    for key, value in (
        ("steps", r.steps),
        ("cfg_scale", r.cfg_scale),
        ("seed", r.seed),
        ("width", r.width),
        ("height", r.height),
    ):
        if value is not None:
            fields[key] = value
    if r.sampler:
        with contextlib.suppress(KeyError):  # a sampler Studio does not have: keep the panel's
            fields["sampler"], fields["schedule"] = parse_sampler(r.sampler, _schedule_name(r.schedule))
    return fields


def _schedule_name(text: str) -> str | None:
    t = text.strip().lower()
    return {"karras": "Karras", "exponential": "Exponential", "beta": "Beta"}.get(
        t, None if not t else "Automatic"
    )
