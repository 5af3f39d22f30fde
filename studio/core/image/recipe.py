"""The image recipe: its field table, and the one road from a draft (the Image panel's fields, ``studio
generate``'s arguments, a recipe file, another tool's metadata) to a frozen ``GenerateSpec``.

``freeze_image(draft, ctx)`` fills what the draft leaves out (the table's defaults, then what the model
recommends), resolves (a random seed → a number, ``<lora:…>`` tags and LoRA names → files, combined sampler names
such as "DPM++ 2M Karras"), validates (one message per field) and freezes.
"""

from __future__ import annotations

import contextlib
import os
import random
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from studio.core.image.detail import NO_DETECTOR, parse_detail, resolve_details
from studio.core.image.dynamic_prompts import TemplateError, Wildcards, is_dynamic, prompts_for
from studio.core.image.finders import FileFinder, LoraFinder, embedding_finder, upscaler_finder, vae_finder
from studio.core.image.guidance import (
    controlnet_finder,
    guidance_problems,
    ip_adapter_finder,
    resolve_controls,
    resolve_references,
)
from studio.core.image.prompt_schedule import prompt_problem
from studio.core.image.prompts import extract_loras
from studio.core.image.recipe_words import LANCZOS, LATENT
from studio.core.image.regions import resolve_regions
from studio.core.image.samplers import SAMPLERS, parse_sampler
from studio.core.image.specs import ALL_BACKENDS, MAX_SIZE, EmbeddingRef, GenerateSpec, LoraRef
from studio.core.image.styles import StyleBook, StyleError, apply_styles
from studio.core.io.untrusted import exists, is_dir, is_file, lst, regular_file_problem, text
from studio.core.jobs import A1111_MAX_SEED, MAX_SEED, RANDOM_SEED, JobKind
from studio.core.jobs.errors import ValidationError
from studio.core.jobs.fields import table_of
from studio.core.models.model_library import describe_path, find_vision_model

BUILTIN_UPSCALERS = (LATENT, LANCZOS)
IMAGE = table_of(GenerateSpec, JobKind.IMAGE)  # declared once, on the spec
RECOMMENDABLE = ("width", "height", "steps", "cfg_scale", "sampler", "schedule")


def _no_recommendation(model: str) -> dict[str, Any]:
    return {}


@dataclass
class ImageContext:
    """What freezing needs from outside: where LoRAs and upscalers are, what a model recommends, where seeds come
    from."""

    loras: LoraFinder = field(default_factory=LoraFinder)
    upscalers: FileFinder = field(default_factory=lambda: upscaler_finder([]))
    vaes: FileFinder = field(default_factory=lambda: vae_finder([]))
    vae_default: Callable[[str], str] = lambda model: ""  # the VAE the user set for a model ("" none)
    embeddings: FileFinder = field(default_factory=lambda: embedding_finder([]))
    controlnets: FileFinder = field(default_factory=lambda: controlnet_finder([]))
    ip_adapters: FileFinder = field(default_factory=lambda: ip_adapter_finder([]))
    image_encoders: Callable[[], Iterable[Path]] = lambda: ()  # CLIP image-encoder folders the library has
    describe: Callable[[Path], dict[str, Any]] = describe_path  # what a model file or folder is (its header)
    wildcards: Wildcards = field(default_factory=Wildcards)  # __name__ files
    styles: StyleBook = field(default_factory=StyleBook)  # the user's styles over the shipped ones
    recommended: Callable[[str], dict[str, Any]] = _no_recommendation
    seed: Callable[[], int] = lambda: random.SystemRandom().randint(0, A1111_MAX_SEED)
    vision: Callable[[str], Path | None] = lambda kind: None  # the library's detector / segmenter folder


def library_context(
    folders: list[Path],
    entries: Callable[[], Iterable[Any]],
    lora_folders: list[Path] | None = None,
    **options: Any,
) -> ImageContext:
    """The context of a job frozen against the user's models: each kind of file looked up by name in
    ``folders`` (and their kind's subfolders), then among the library's ``entries()`` (scanned only when needed)."""

    def named(kind: str) -> Callable[[], list[tuple[str, Path]]]:
        return lambda: [(e.path.stem, e.path) for e in entries() if e.kind == kind]

    def encoders() -> list[Path]:
        near = [d / sub for d in folders for sub in ("image_encoder", "ipadapter/image_encoder")]
        for d in folders:
            with contextlib.suppress(OSError):
                near += sorted(p for p in (d / "clip_vision").iterdir() if is_dir(p))
        return near + [e.path for e in entries() if e.kind == "image-encoder"]

    return ImageContext(
        loras=LoraFinder(lora_folders or folders, named("lora")),
        upscalers=upscaler_finder(folders, named("upscaler")),
        vaes=vae_finder(folders, named("vae")),
        embeddings=embedding_finder(folders, named("embedding")),
        controlnets=controlnet_finder(folders, named("controlnet")),
        ip_adapters=ip_adapter_finder(folders, named("ip-adapter")),
        image_encoders=encoders,
        **options,
    )


def studio_context(
    folders: list[Path],
    entries: Callable[[], Iterable[Any]],
    vae_defaults: dict[str, str],
    wildcards_dir: Path | None,
    styles: StyleBook,
    more_lora_folders: Iterable[Path] = (),
) -> ImageContext:
    """The context every job of Studio's is frozen in — the window's and ``studio generate``'s alike: the models
    folders, then the library; the built-in LoRAs; the model's recommendations; a seed in A1111's range; the
    user's wildcards and styles. ``vae_defaults`` is read when a job is frozen (the Models room may change it)."""
    from studio.core.jobs import random_seed
    from studio.core.models.builtin_models import BUILTIN_LORA_DIR
    from studio.core.models.recommended import recommended_settings

    return library_context(folders, entries, [*folders, BUILTIN_LORA_DIR, *more_lora_folders],
                           vae_default=lambda model: vae_defaults.get(model, ""), recommended=recommended_settings,
                           seed=random_seed, wildcards=Wildcards(wildcards_dir) if wildcards_dir else Wildcards(),
                           styles=styles, vision=lambda kind: find_vision_model(kind, folders))  # fmt: skip


def complete(draft: dict[str, Any], recommended: dict[str, Any] | None = None) -> dict[str, Any]:
    """The table's defaults, then the model's recommendations, then the draft's own values."""
    out = IMAGE.defaults()
    out.update({k: v for k, v in (recommended or {}).items() if k in RECOMMENDABLE})
    out.update({k: v for k, v in draft.items() if k in IMAGE})
    return out


def resolve_loras(
    prompt: str, listed: list[Any], finder: LoraFinder, problems: dict[str, str], keep_unknown: bool = False
) -> list[LoraRef]:
    """The LoRAs a job applies, each once: those listed (a path or a name, with a weight), then the prompt's
    ``<lora:name:w>`` tags (a tag's weight wins for a LoRA listed too)."""
    chosen: dict[str, float] = {}
    for item in listed:
        if isinstance(item, list | tuple) and len(item) == 2 and isinstance(item[0], str):
            ref, weight = item[0], item[1]
        elif isinstance(item, str):
            ref, weight = item, 1.0
        else:
            problems["loras"] = "A LoRA entry must be a name (or path) and a weight."
            continue
        if isinstance(weight, bool) or not isinstance(weight, int | float):
            problems["loras"] = f"LoRA {Path(ref).stem}: the weight must be a number."
            continue
        path, why = finder.find(ref)
        if path is None and keep_unknown:
            chosen[ref] = float(weight)  # a server's: looked up there when the job runs
        elif path is None:
            problems["loras"] = why
        else:
            chosen[str(path)] = float(weight)
    for tag in extract_loras(prompt)[1]:
        path, why = finder.find(tag.name, allow_path=False)
        if path is None and keep_unknown:
            chosen[tag.name] = tag.weight
        elif path is None:
            problems["prompt"] = why
        else:
            chosen[str(path)] = tag.weight
    return [LoraRef(p, w) for p, w in chosen.items()]


def _prompt_bounds(prompt: Any, negative: Any) -> dict[str, str]:
    """The prompt's and negative prompt's length and bracket nesting, checked (field → sentence; {} when fine)."""
    for key, what, value in (("prompt", "prompt", prompt), ("negative_prompt", "negative prompt", negative)):
        if why := prompt_problem(text(value), what):
            return {key: why}
    return {}


def freeze_image(draft: dict[str, Any], ctx: ImageContext | None = None) -> GenerateSpec | dict[str, str]:
    """The frozen spec of a draft, or the problems (field → message) that keep it from running."""
    ctx = ctx or ImageContext()
    problems: dict[str, str] = {}
    if isinstance(draft.get("outpaint"), list | tuple):  # a spec's (L, T, R, B) as the field's text
        draft = {**draft, "outpaint": ",".join(str(v) for v in draft["outpaint"])}
    if bounds := _prompt_bounds(draft.get("prompt"), draft.get("negative_prompt")):
        return bounds  # bounded before anything reads them
    # The LoRAs first: a few-step LoRA (LCM, Lightning, …) recommends settings as a model does.
    prompt = text(draft.get("prompt"))
    listed = lst(draft.get("loras"))
    backend = text(draft.get("backend")).strip()
    remote = bool(backend) and backend != ALL_BACKENDS  # one server's LoRAs are found on the server, by name
    loras = resolve_loras(prompt, listed, ctx.loras, problems, keep_unknown=remote)
    model = draft.get("model")
    recommended = dict(ctx.recommended(model)) if isinstance(model, str) and model else {}
    for lo in loras:
        recommended.update(ctx.recommended(lo.path))
    values = IMAGE.convert(complete(draft, recommended), problems)
    if "sampler" in values and values["sampler"] not in SAMPLERS:
        try:  # "DPM++ 2M Karras", "k_euler_a", … as other tools write them
            values["sampler"], values["schedule"] = parse_sampler(values["sampler"], draft.get("schedule"))
        except KeyError as e:
            problems["sampler"] = str(e.args[0])
    sampler = SAMPLERS.get(values.get("sampler", ""))
    if sampler and values.get("schedule") not in sampler.schedules and "schedule" not in draft:
        values["schedule"] = "Automatic"  # the sampler was given without a schedule it can take
    problems.update(IMAGE.check(values, [n for n in values if n not in problems]))
    if problems.get("seed") or (values.get("seed", 0) < 0 and values.get("seed") != RANDOM_SEED):
        problems["seed"] = f"Seed must be −1 (a new random seed) or between 0 and {MAX_SEED}."
    if problems:
        return problems
    if problems := _resolve_files(values, ctx, remote):
        return problems
    controls = resolve_controls(values["controls"], values["model"], ctx.controlnets, ctx.describe, problems,
                                remote=remote)  # fmt: skip
    references = resolve_references(values["references"], values["model"], ctx.ip_adapters, ctx.image_encoders,
                                    ctx.describe, problems)  # fmt: skip
    regions = resolve_regions(values["regions"], problems)
    details = resolve_details(values["details"], problems)
    if details and not remote and ctx.vision("detector") is None:
        problems["details"] = NO_DETECTOR
    if problems:
        return problems
    seed = ctx.seed() if values["seed"] == RANDOM_SEED else values["seed"]
    if values["variation_seed"] == RANDOM_SEED:
        values["variation_seed"] = ctx.seed() if values["variation_strength"] > 0 else 0
    for key in ("init_image", "mask"):  # relative to where the command was given
        if values[key]:
            values[key] = os.path.abspath(Path(values[key]).expanduser())
    if problems := _apply_styles(values, ctx):
        return problems
    count = values["batch_count"] * values["batch_size"]
    # with a variation, every image keeps the seed (its variation seed counts up instead), as A1111 does
    seeds = [(seed + (0 if values["variation_strength"] > 0 else i)) % (MAX_SEED + 1) for i in range(count)]
    dynamic = _draw_prompts(values, ctx, seeds)
    if "problems" in dynamic:
        return dict(dynamic["problems"])
    spec = GenerateSpec(
        **{
            k: v
            for k, v in values.items()
            if k
            not in ("seed", "loras", "model", "parent_image", "controls", "references", "regions", "details")
        },
        **dynamic,
        model=str(Path(values["model"]).expanduser()) if values["model"] else "",
        seed=seed,
        loras=tuple(loras),
        embeddings=embeddings_in(f"{values['prompt']}\n{values['negative_prompt']}", ctx.embeddings),
        parent_image=values["parent_image"] if values["init_image"] else None,
        controls=controls,
        references=references,
        regions=regions,
        details=details,
    )
    if problems := validate_spec(spec):
        return problems
    return spec


def _resolve_files(values: dict[str, Any], ctx: ImageContext, remote: bool) -> dict[str, str]:
    """The hires upscaler, the canvas to extend, the refiner and the VAE as files (on a server: by name, there)."""
    upscaler = values["hires_upscaler"]
    if upscaler.lower() in (b.lower() for b in BUILTIN_UPSCALERS):
        values["hires_upscaler"] = next(b for b in BUILTIN_UPSCALERS if b.lower() == upscaler.lower())
    elif not remote:  # on a server the upscaler is the server's, by name
        found, why = ctx.upscalers.find(upscaler)
        if found is None:
            return {"hires_upscaler": why}
        values["hires_upscaler"] = str(found)
    outpaint = parse_outpaint(values["outpaint"])
    if isinstance(outpaint, str):
        return {"outpaint": outpaint}
    values["outpaint"] = outpaint
    if values["refiner"]:
        values["refiner"] = os.path.abspath(Path(values["refiner"]).expanduser())
    vae = values["vae"] or (ctx.vae_default(values["model"]) if values["model"] else "")
    if vae and not is_dir(vae) and not remote:
        found, why = ctx.vaes.find(vae)
        if found is None:
            return {"vae": why}
        vae = str(found)
    values["vae"] = vae if remote else os.path.abspath(Path(vae).expanduser()) if vae else ""
    return {}


def _apply_styles(values: dict[str, Any], ctx: ImageContext) -> dict[str, str]:
    """The named styles applied when frozen, as A1111 does: the recipe's prompt is the styled one, the names
    beside it."""
    names = [text(n) for n in lst(values["styles"]) if text(n).strip()]
    if names:
        chosen, why = ctx.styles.find(names)
        if why:
            return {"styles": why}
        try:
            values["prompt"], values["negative_prompt"] = apply_styles(
                values["prompt"], values["negative_prompt"], chosen
            )
        except StyleError as e:
            return {"styles": str(e)}
    values["styles"] = tuple(names)
    return {}


def _draw_prompts(values: dict[str, Any], ctx: ImageContext, seeds: list[int]) -> dict[str, Any]:
    """Dynamic prompts ({a|b}, __wildcards__): each image's own prompt and negative, drawn by its seed
    (``{"prompts": …, "negatives": …}``), or ``{"problems": {field: why}}``."""
    dynamic: dict[str, Any] = {}
    for key, text_value in (("prompts", values["prompt"]), ("negatives", values["negative_prompt"])):
        if is_dynamic(text_value):
            field = "prompt" if key == "prompts" else "negative_prompt"
            try:
                dynamic[key] = tuple(prompts_for(text_value, ctx.wildcards, seeds, values["combinatorial"]))
            except TemplateError as e:
                return {"problems": {field: str(e)}}
            for made in dynamic[key]:  # what the wildcards brought in is bounded as a typed prompt is
                if bounds := _prompt_bounds(*((made, "") if key == "prompts" else ("", made))):
                    return {"problems": bounds}
    return dynamic


def embeddings_in(text_value: str, finder: FileFinder) -> tuple[EmbeddingRef, ...]:
    """The embeddings whose names appear in the prompts as whole words (AUTOMATIC1111's rule)."""
    import re

    text_value = extract_loras(text_value)[0]  # a <lora:name> tag names a LoRA, never an embedding
    found = []
    for name, path in finder.named().items():
        if name and re.search(rf"(?<![\w-]){re.escape(name)}(?![\w-])", text_value):
            found.append(EmbeddingRef(name, str(Path(path).resolve())))
    return tuple(sorted(found, key=lambda e: e.name))


def parse_outpaint(value: Any) -> tuple[int, int, int, int] | str:
    """ "L,T,R,B" (or a list of four) → four pixel counts; "" → none; else a sentence."""
    if isinstance(value, list | tuple):
        value = ",".join(str(v) for v in value)
    text_value = str(value or "").strip()
    if not text_value:
        return (0, 0, 0, 0)
    parts = [p.strip() for p in text_value.replace(" ", ",").split(",") if p.strip()]
    try:
        numbers = [int(p) for p in parts]
    except ValueError:
        numbers = []
    if len(numbers) != 4 or any(not 0 <= n <= MAX_SIZE for n in numbers):
        return f"Extend canvas takes four pixel counts, left,top,right,bottom, each 0–{MAX_SIZE} (e.g. 0,0,256,0)."
    return (numbers[0], numbers[1], numbers[2], numbers[3])


def image_problem(path: str, what: str) -> str:
    """'' when ``path`` is a picture Studio can open (its header is read, not its pixels); else a sentence."""
    from PIL import Image

    p = Path(path)
    if not exists(p):
        return f"The {what} {path[:200]} does not exist."
    if problem := regular_file_problem(p):
        return f"The {what}: {problem}."
    try:
        with Image.open(p) as im:
            im.size  # noqa: B018 - the header is parsed
    except Exception:  # noqa: BLE001 - any failure means "not a picture"
        return f"{p.name} is not an image Studio can read."
    return ""


def validate_spec(spec: GenerateSpec) -> dict[str, str]:
    """Problems with a frozen spec (from a queue file, a recipe file, or just frozen), keyed by field."""
    values = {
        f.name: getattr(spec, f.name)
        for f in IMAGE.fields
        if f.name not in ("loras", "seed", "outpaint", "controls", "references", "regions", "details")
    }
    problems = IMAGE.check(values)
    if not spec.model.strip():
        problems["model"] = "Choose a model first."
    if not 0 <= spec.seed <= MAX_SEED:
        problems["seed"] = f"Seed must be between 0 and {MAX_SEED}."
    if spec.sampler in SAMPLERS and spec.schedule not in SAMPLERS[spec.sampler].schedules:
        problems["schedule"] = f"{spec.sampler} has no {spec.schedule} schedule."
    if spec.hires_scale > 1.0:
        if spec.mode != "txt2img":
            problems["hires_scale"] = (
                "Hires fix is for text to image; for an init image, raise the size instead."
            )
        elif max(spec.hires_size) > MAX_SIZE:
            problems["hires_scale"] = (f"{spec.width}×{spec.height} upscaled by {spec.hires_scale:g} is "
                                       f"{spec.hires_size[0]}×{spec.hires_size[1]}, above {MAX_SIZE} px.")  # fmt: skip
        elif int((spec.hires_steps or spec.steps) * spec.hires_denoise) < 1:
            problems["hires_denoise"] = ("Hires steps × denoising is below one step: raise them (denoising "
                                         "0.3–0.7 is typical).")  # fmt: skip
        if spec.hires_upscaler not in BUILTIN_UPSCALERS and not is_file(spec.hires_upscaler):
            problems["hires_upscaler"] = f"The upscaler file {spec.hires_upscaler[:200]} does not exist."
    if any(spec.outpaint):
        if not spec.init_image:
            problems["outpaint"] = "Extending the canvas needs an init image to extend."
        elif spec.mask:
            problems["outpaint"] = "Extend the canvas or inpaint a mask, not both in one job."
        elif max(spec.outpaint_size) > MAX_SIZE:
            problems["outpaint"] = (
                f"The extended canvas would be {spec.outpaint_size[0]}×{spec.outpaint_size[1]}, above {MAX_SIZE} px."
            )
    if spec.variation_strength > 0 and spec.mode != "txt2img":
        problems["variation_strength"] = "Variations are made in text to image (without an init image)."
    if not 0 <= spec.variation_seed <= MAX_SEED:
        problems["variation_seed"] = f"Variation seed must be −1 (a new one) or between 0 and {MAX_SEED}."
    if spec.refiner:
        if not exists(spec.refiner):
            problems["refiner"] = f"The refiner {spec.refiner[:200]} does not exist."
        elif spec.mode != "txt2img" or spec.hires:
            problems["refiner"] = (
                "The refiner finishes a text-to-image picture; use it without an init image or hires fix."
            )
        elif spec.steps * (1 - spec.refiner_switch) < 0.5:
            problems["refiner_switch"] = (
                "No step is left for the refiner: lower the switch point or raise the steps."
            )
    for emb in spec.embeddings:
        if not is_file(emb.path):
            problems["prompt"] = f"The embedding file {emb.path[:200]} does not exist."
    if spec.vae and not (is_file(spec.vae) or is_dir(spec.vae)):
        problems["vae"] = f"The VAE {spec.vae[:200]} does not exist."
    problems.update(guidance_problems(spec.controls, spec.references, image_problem, remote=spec.remote))
    if any(u.preprocessor == "inpaint" for u in spec.controls) and spec.mode not in ("inpaint", "outpaint"):
        problems["controls"] = (
            "The inpaint preprocessor needs an init image with a painted mask (or an extended canvas)."
        )
    if why := region_problem(spec):
        problems["regions"] = why
    if bad := [d for d in map(parse_detail, spec.details) if isinstance(d, str)]:
        problems["details"] = bad[0]
    if spec.mask and not spec.init_image:
        problems["mask"] = "A mask needs an init image to paint into."
    if spec.init_image is not None:
        if "strength" not in problems and int(spec.steps * spec.strength) < 1:
            problems["strength"] = "Steps × strength is below one step: raise the steps or the strength."
        if why := image_problem(spec.init_image, "init image"):
            problems["init_image"] = why
    if spec.mask is not None and "mask" not in problems and (why := image_problem(spec.mask, "mask")):
        problems["mask"] = why
    for lo in spec.loras:
        if not -4.0 <= lo.weight <= 4.0:
            problems["loras"] = f"LoRA {lo.name}: the weight must be between -4 and 4."
        elif not is_file(lo.path) and not spec.remote:  # a server's LoRAs are the server's to check
            problems["loras"] = f"The LoRA file {lo.path} does not exist."
    return problems


def region_problem(spec: GenerateSpec) -> str:
    """What keeps a frozen spec's regions from running (from a queue or recipe file too)."""
    from studio.core.image.regions import MAX_REGIONS, parse_region

    if len(spec.regions) > MAX_REGIONS:
        return f"At most {MAX_REGIONS} regions in one picture."
    for i, region in enumerate(spec.regions):
        why = checked if isinstance(checked := parse_region(region), str) else ""
        if not why and region.mask:
            why = image_problem(region.mask, "region mask")
        if why:
            return f"Region {i + 1}: {why}" if len(spec.regions) > 1 else why
    return ""


def check_spec(spec: GenerateSpec) -> GenerateSpec:
    """``spec`` when it can run, else ``ValidationError`` naming each bad field (a spec from a queue file, a recipe
    file, another process)."""
    problems = validate_spec(spec)
    if problems:
        raise ValidationError(problems)
    return spec
