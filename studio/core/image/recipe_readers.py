"""Reading the recipe inside an image, whichever tool wrote it: Studio, AUTOMATIC1111/Forge/SD.Next, Fooocus,
ComfyUI, InvokeAI and SwarmUI. Missing or broken metadata is reported in ``problems``, never raised."""

from __future__ import annotations

import contextlib
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from PIL import Image, UnidentifiedImageError

from studio.core.image.a1111 import parse_parameters
from studio.core.io.pictures import open_picture
from studio.core.io.untrusted import (
    Unreadable,
    integer,
    lst,
    number,
    obj,
    parse_json,
    regular_file_problem,
    text,
)

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


MAX_INT = 2**63 - 1  # what SQLite stores; larger numbers in a file are nonsense, not a recipe


def _int(v: Any) -> int | None:
    n = integer(v)
    return n if n is not None and -MAX_INT <= n <= MAX_INT else None


def _float(v: Any) -> float | None:
    return number(v)


def _size(value: Any) -> tuple[int | None, int | None]:
    w, _, h = text(value).lower().replace(" ", "").strip("()").replace(",", "x").partition("x")
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
    from studio.core.image.prompts import extract_loras

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
    loras = [text(x[0]) if isinstance(x, list) and x else text(x) for x in lst(data.get("loras"))]
    return Recipe(
        source="fooocus",
        prompt=text(data.get("prompt")),
        negative_prompt=text(data.get("negative_prompt")),
        steps=_int(data.get("steps")),
        sampler=text(data.get("sampler")),
        schedule=text(data.get("scheduler")),
        cfg_scale=_float(data.get("guidance_scale")),
        seed=_int(data.get("seed")),
        width=w,
        height=h,
        model=text(data.get("base_model")),
        loras=[x for x in loras if x],
    )


def from_swarm(data: dict[str, Any]) -> Recipe:
    p = data.get("sui_image_params", {})
    if not isinstance(p, dict):
        return Recipe(source="swarmui", problems=["sui_image_params is not an object."])
    return Recipe(
        source="swarmui",
        prompt=text(p.get("prompt")),
        negative_prompt=text(p.get("negativeprompt")),
        steps=_int(p.get("steps")),
        sampler=text(p.get("sampler")),
        schedule=text(p.get("scheduler")),
        cfg_scale=_float(p.get("cfgscale")),
        seed=_int(p.get("seed")),
        width=_int(p.get("width")),
        height=_int(p.get("height")),
        model=text(p.get("model")),
        loras=[x for x in (text(v) for v in lst(p.get("loras"))) if x],
    )


def from_invokeai(data: dict[str, Any]) -> Recipe:
    model = data.get("model", "")
    if isinstance(model, dict):
        model = model.get("name") or model.get("model_name") or ""
    loras = []
    for lo in lst(data.get("loras")):
        if isinstance(lo, dict):
            m = lo.get("model") or lo.get("lora") or {}
            loras.append(text(m.get("name") or m.get("model_name")) if isinstance(m, dict) else text(m))
    return Recipe(
        source="invokeai",
        prompt=text(data.get("positive_prompt")),
        negative_prompt=text(data.get("negative_prompt")),
        steps=_int(data.get("steps")),
        sampler=text(data.get("scheduler")),
        cfg_scale=_float(data.get("cfg_scale")),
        seed=_int(data.get("seed")),
        width=_int(data.get("width")),
        height=_int(data.get("height")),
        model=text(model),
        loras=[x for x in loras if x],
    )


# -- ComfyUI ---------------------------------------------------------------------------------------------------------
_SAMPLERS = ("KSampler", "KSamplerAdvanced", "SamplerCustom", "SamplerCustomAdvanced")
MAX_NODES = 10_000  # real workflows have tens to a few hundred nodes


def _link(v: Any) -> str | None:
    if isinstance(v, list) and len(v) == 2 and isinstance(v[1], int) and isinstance(v[0], str | int):
        return str(v[0])
    return None


def _inputs(n: dict[str, Any] | None) -> dict[str, Any]:
    return obj(n.get("inputs")) if isinstance(n, dict) else {}


def _class(n: dict[str, Any] | None) -> str:
    return text(n.get("class_type")) if isinstance(n, dict) else ""


class _Graph:
    """The executed graph of a ComfyUI ``prompt`` chunk. Every walk keeps a set of visited nodes, so a graph of
    any shape (cycles, diamonds of many levels) is walked in time proportional to its size."""

    def __init__(self, nodes: dict[str, Any]):
        self.nodes = {str(k): v for k, v in list(nodes.items())[:MAX_NODES] if isinstance(v, dict)}

    def node(self, nid: str | None) -> dict[str, Any] | None:
        """The node behind a link, passing through reroutes."""
        seen: set[str] = set()
        while nid is not None and nid not in seen and nid in self.nodes:
            seen.add(nid)
            n = self.nodes[nid]
            if "reroute" not in _class(n).lower():
                return n
            nid = next((_link(v) for v in _inputs(n).values() if _link(v)), None)
        return None

    def value(self, n: dict[str, Any], key: str) -> Any:
        """An input's value, following links to primitive nodes (whose single widget holds the value)."""
        seen: set[int] = set()
        for _ in range(16):
            v = _inputs(n).get(key)
            target = self.node(_link(v))
            if target is None:
                return v
            if id(target) in seen:
                return None
            seen.add(id(target))
            ins = _inputs(target)
            key = next(
                (
                    k
                    for k in (key, "value", "seed", "noise_seed", "int", "float", "string", "text")
                    if k in ins
                ),
                "",
            )
            if not key:
                return None
            n = target
        return None

    def text(self, n: dict[str, Any] | None) -> str:
        """The prompt text that feeds a conditioning input (CLIPTextEncode, SDXL encoders, combine nodes)."""
        parts: list[str] = []
        seen: set[int] = set()

        def visit(n: dict[str, Any] | None, depth: int) -> None:
            if n is None or depth > 12 or id(n) in seen:
                return
            seen.add(id(n))
            ins = _inputs(n)
            for key in ("text", "text_g", "prompt"):
                if key in ins:
                    v = self.value(n, key)
                    if isinstance(v, str):
                        parts.append(v)
                        return
            for key, v in ins.items():
                if _link(v) and "clip" not in str(key):
                    visit(self.node(_link(v)), depth + 1)

        visit(n, 0)
        return ", ".join(p for p in parts if p)

    def upstream(self, n: dict[str, Any], class_names: tuple[str, ...]) -> dict[str, Any] | None:
        """Walk links back from ``n`` (breadth first) until a node of one of ``class_names`` is found."""
        frontier, seen = [n], {id(n)}
        for _ in range(21):
            nxt = []
            for current in frontier:
                for v in _inputs(current).values():
                    target = self.node(_link(v))
                    if target is None or id(target) in seen:
                        continue
                    if _class(target) in class_names:
                        return target
                    seen.add(id(target))
                    nxt.append(target)
            if not nxt:
                return None
            frontier = nxt
        return None


def from_comfy(prompt: dict[str, Any]) -> Recipe:
    g = _Graph(prompt)
    samplers = {nid: n for nid, n in g.nodes.items() if _class(n) in _SAMPLERS}
    if not samplers:
        return Recipe(source="comfyui", problems=["The ComfyUI graph has no sampler node."])

    def fed_by_sampler(n: dict[str, Any]) -> bool:
        latent = g.node(_link(_inputs(n).get("latent_image")))
        return latent is not None and (
            _class(latent) in _SAMPLERS or g.upstream(latent, _SAMPLERS) is not None
        )

    base = [nid for nid, n in samplers.items() if not fed_by_sampler(n)] or list(samplers)
    nid = sorted(base, key=lambda x: (len(x), x))[0]
    s = samplers[nid]
    ins = _inputs(s)
    r = Recipe(source="comfyui")
    r.prompt = g.text(g.node(_link(ins.get("positive"))))
    r.negative_prompt = g.text(g.node(_link(ins.get("negative"))))
    r.seed = _int(g.value(s, "seed") if "seed" in ins else g.value(s, "noise_seed"))
    r.steps = _int(g.value(s, "steps"))
    r.cfg_scale = _float(g.value(s, "cfg"))
    r.sampler = text(g.value(s, "sampler_name"))
    r.schedule = text(g.value(s, "scheduler"))
    ckpt = g.upstream(
        s, ("CheckpointLoaderSimple", "CheckpointLoader", "UNETLoader", "unCLIPCheckpointLoader")
    )
    if ckpt:
        r.model = text(_inputs(ckpt).get("ckpt_name")) or text(_inputs(ckpt).get("unet_name"))
    loader_names = (text(_inputs(n).get("lora_name")) for n in g.nodes.values() if _class(n) in _LORA_LOADERS)
    r.loras = [name for name in loader_names if name]
    latent = g.node(_link(ins.get("latent_image")))
    if latent is not None and "width" in _inputs(latent):
        r.width, r.height = _int(g.value(latent, "width")), _int(g.value(latent, "height"))
    if len(samplers) > 1:
        r.extra["samplers"] = len(samplers)
    if not r.prompt:
        r.problems.append("The sampler's positive input does not lead to a prompt text node.")
    return r


_LORA_LOADERS = ("LoraLoader", "LoraLoaderModelOnly")


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


def _json(value: Any) -> Any:
    """The JSON in a text chunk, or None when it is not JSON (or nests too deeply, or is too large)."""
    if isinstance(value, bytes):
        value = value.decode("utf-8", errors="replace")
    if not isinstance(value, str):
        return None
    parsed = parse_json(value)
    return None if isinstance(parsed, Unreadable) else parsed


MAX_TEXT = 1 << 20  # longer text chunks are cut; A1111 text of a real image is a few kilobytes


def _from_studio(studio: dict[str, Any], params: Any) -> Recipe:
    r = from_a1111(params) if isinstance(params, str) else Recipe()
    r.source = "studio"
    spec = dict(obj(studio.get("spec")))
    r.studio_spec = spec
    r.prompt, r.negative_prompt = text(spec.get("prompt"), r.prompt), text(spec.get("negative_prompt"))
    r.seed = _int(studio.get("image_seed", spec.get("seed")))
    r.steps, r.cfg_scale = _int(spec.get("steps")), _float(spec.get("cfg_scale"))
    r.sampler, r.schedule = text(spec.get("sampler")), text(spec.get("schedule"))
    r.width, r.height = _int(spec.get("width")), _int(spec.get("height"))
    model = text(spec.get("model")).replace("\\", "/").rstrip("/").rsplit("/", 1)[-1]
    r.model = (model.rsplit(".", 1)[0] if "." in model else model) or r.model  # as A1111's "Model:" names it
    r.extra.update({k: studio[k] for k in ("device", "dtype", "seconds", "versions") if k in studio})
    if parent := text(spec.get("parent_image")):
        r.extra["parent_image"] = parent
    r.loras = [
        text(obj(lo).get("path")).replace("\\", "/").rsplit("/", 1)[-1].removesuffix(".safetensors")
        for lo in lst(spec.get("loras"))
    ] or r.loras
    r.loras = [x for x in r.loras if x]
    return r


def recipe_of_info(info: dict[str, Any], user_comment: str | None = None) -> Recipe:
    """The recipe in an image's text chunks (PIL's ``info``) and EXIF user comment. Total: metadata of any shape
    gives a Recipe, with ``problems`` saying what could not be read."""
    try:
        return _recipe_of_info(info, user_comment)
    except Exception as e:  # noqa: BLE001 - the last net: a reader must never take the gallery down with it
        return Recipe(problems=[f"The metadata has a shape Studio does not understand ({type(e).__name__})."])


def _recipe_of_info(info: dict[str, Any], user_comment: str | None) -> Recipe:
    studio = _json(info.get("studio"))
    params = info.get("parameters")
    if isinstance(params, bytes):
        params = params.decode("utf-8", errors="replace")
    if isinstance(params, str):
        params = params[:MAX_TEXT]
    if isinstance(studio, dict) and isinstance(studio.get("spec"), dict):
        return _from_studio(studio, params)
    for chunk in (params, user_comment):
        if not isinstance(chunk, str) or not chunk.strip():
            continue
        data = _json(chunk)
        if isinstance(data, dict) and "sui_image_params" in data:
            return from_swarm(data)
        if isinstance(data, dict) and ("fooocus_scheme" in data or "base_model" in data):
            return from_fooocus_json(data)
        if isinstance(data, dict) and isinstance(data.get("prompt"), str):
            return from_fooocus_json(data)
        return from_a1111(chunk[:MAX_TEXT])
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
    if problem := regular_file_problem(path):
        return Recipe(problems=[f"{problem}."])
    try:
        with open_picture(path) as im:
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
    except Exception as e:  # noqa: BLE001 - truncated files, oversized chunks, and whatever else a decoder raises
        return Recipe(problems=[f"{path.name} is damaged or has oversized metadata: {e}."])
    r = recipe_of_info(info, comment)
    r.width = r.width or w
    r.height = r.height or h
    return r


def recipe_fields(r: Recipe) -> dict[str, Any]:
    """Image-panel fields from a recipe ("Use these settings"): exact for Studio images, best effort for others.
    The model is left out unless Studio wrote the image (other tools name models Studio may not have)."""
    from studio.core.image.recipe_words import schedule_name
    from studio.core.image.samplers import parse_sampler
    from studio.core.image.specs import GenerateSpec

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
            fields["sampler"], fields["schedule"] = parse_sampler(r.sampler, schedule_name(r.schedule))
    return fields
