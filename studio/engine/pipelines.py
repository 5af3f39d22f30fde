"""Loading diffusion pipelines, caching the loaded one, deriving img2img/inpaint pipelines and applying LoRAs."""

from __future__ import annotations

import contextlib
import gc
import hashlib
import json
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from studio.core.errors import ErrorKind, StudioError
from studio.core.paths import resource
from studio.core.safetensors_header import HeaderError, tensor_names
from studio.core.samplers import scheduler_recipe
from studio.core.specs import LoraRef
from studio.engine.devices import Placement, free_device_memory

SUPPORTED = {
    "StableDiffusionPipeline": "sd",
    "StableDiffusionImg2ImgPipeline": "sd",
    "StableDiffusionInpaintPipeline": "sd",
    "StableDiffusionXLPipeline": "sdxl",
    "StableDiffusionXLImg2ImgPipeline": "sdxl",
    "StableDiffusionXLInpaintPipeline": "sdxl",
}
PICKLE_SUFFIXES = {".ckpt", ".pt", ".pth", ".bin"}
# diffusers resolves its classes lazily; two threads doing that at once can see half-initialised modules.
# Studio has one runner thread per device, but embedders (tests, scripts) may have more: serialise.
_LIBRARY_LOCK = threading.RLock()


@dataclass
class LoadedModel:
    path: str
    family: str  # "sd1" | "sd2" | "sdxl"
    placement: Placement
    base: Any
    by_mode: dict[str, Any] = field(default_factory=dict)
    adapters: dict[str, str] = field(default_factory=dict)  # lora path -> adapter name
    scheduler_config: Any = None
    vae_upcast: bool = False
    small_vae: bool = False  # decoding is cheap enough for exact live previews


def _bad(kind: ErrorKind, message: str, details: str = "") -> StudioError:
    return StudioError(kind, message, details, field="model")


def detect_single_file_family(path: Path) -> str:
    try:
        names = tensor_names(path)
    except HeaderError as e:
        raise _bad(ErrorKind.MODEL_INVALID, str(e)) from e
    keys = set(names)
    if any(k.startswith("conditioner.embedders.1.") for k in keys):
        return "sdxl"
    if any(k.startswith("cond_stage_model.model.transformer.") for k in keys):
        return "sd2"
    if any(k.startswith("cond_stage_model.transformer.") for k in keys):
        return "sd1"
    raise _bad(ErrorKind.MODEL_INVALID,
               f"{path.name} is not a Stable Diffusion checkpoint Studio recognises (no known text-encoder keys).")


def single_file_config(family: str) -> Path:
    """The shipped folder of configs + tokenizer that loads a ``family`` single-file checkpoint offline."""
    return resource("model_configs", family)


def check_model_path(model: str) -> Path:
    """Validate a model location before loading, with a message the user can act on."""
    if not model:
        raise _bad(ErrorKind.MODEL_NOT_FOUND, "No image model is chosen: pick a diffusers folder or a .safetensors file.")
    path = Path(model).expanduser()
    if not path.exists():
        raise _bad(ErrorKind.MODEL_NOT_FOUND, f"The model {path} does not exist. Pick a diffusers folder or a .safetensors checkpoint.")
    if path.is_dir():
        index = path / "model_index.json"
        if not index.is_file():
            raise _bad(ErrorKind.MODEL_INVALID,
                       f"{path} is not a diffusers pipeline folder (it has no model_index.json).")
        try:
            cls = json.loads(index.read_text("utf-8")).get("_class_name", "")
        except (OSError, ValueError) as e:
            raise _bad(ErrorKind.MODEL_INVALID, f"{index} is unreadable: {e}.") from e
        if cls not in SUPPORTED:
            raise _bad(ErrorKind.MODEL_INVALID,
                       f"{path.name} is a {cls or 'unknown'} model; Studio runs Stable Diffusion 1.x/2.x and SDXL pipelines.")
        return path
    if path.suffix.lower() in PICKLE_SUFFIXES:
        raise _bad(ErrorKind.MODEL_INVALID,
                   f"{path.name} is a pickled checkpoint, which can run arbitrary code when loaded. "
                   "Use a .safetensors version of this model instead.")
    if path.suffix.lower() != ".safetensors":
        raise _bad(ErrorKind.MODEL_INVALID, f"{path.name} is not a model file Studio can load (.safetensors or a diffusers folder).")
    return path


class PipelineCache:
    """Holds one loaded model (the GPU has room for one); a different model frees the previous one first."""

    def __init__(self, placement: Callable[[], Placement], make_room: Callable[[], None] = lambda: None):
        self._placement = placement
        self._make_room = make_room  # frees other engines' models (a text model) before a load
        self._loaded: LoadedModel | None = None
        self._lock = threading.Lock()

    @property
    def loaded(self) -> LoadedModel | None:
        return self._loaded

    def clear(self) -> None:
        with self._lock:
            if self._loaded is not None:
                device = self._loaded.placement.device
                self._loaded = None
                free_device_memory(device)

    def get(self, model: str, on_loading: Callable[[str], None] | None = None) -> LoadedModel:
        path = check_model_path(model)
        placement = self._placement()
        with self._lock:
            cur = self._loaded
            if cur is not None and cur.path == str(path) and cur.placement == placement:
                return cur
            if cur is not None:
                self._loaded = None
                del cur
                free_device_memory(placement.device)
            self._make_room()
            if on_loading:
                on_loading(path.name)
            with _LIBRARY_LOCK:
                self._loaded = _load(path, placement)
            return self._loaded


def warm_up() -> None:
    """Import everything a first image job needs (torch, diffusers' SD/SDXL pipelines, CLIP, peft), so
    that the first Generate starts at once. Run it on the runner thread: diffusers' lazy modules must not
    be initialised by two threads at the same time."""
    with _LIBRARY_LOCK:
        _warm_up()


def _warm_up() -> None:
    import diffusers
    import peft  # noqa: F401
    import torch  # noqa: F401
    from diffusers import (  # noqa: F401
        AutoPipelineForImage2Image,
        AutoPipelineForInpainting,
        AutoPipelineForText2Image,
        StableDiffusionPipeline,
        StableDiffusionXLPipeline,
    )
    from transformers import CLIPTextModel, CLIPTextModelWithProjection, CLIPTokenizer  # noqa: F401

    for name in ("StableDiffusionImg2ImgPipeline", "StableDiffusionInpaintPipeline", "UNet2DConditionModel",
                 "AutoencoderKL", "EulerDiscreteScheduler", "DPMSolverMultistepScheduler"):
        getattr(diffusers, name)
    _quiet_libraries()
    # Hundreds of thousands of long-lived objects were just created; move them out of the cyclic
    # collector's reach so that later full collections (which hold the GIL) stay short for the GUI.
    gc.collect()
    gc.freeze()


def _quiet_libraries() -> None:
    import diffusers
    import transformers

    diffusers.utils.logging.disable_progress_bar()
    transformers.utils.logging.disable_progress_bar()


def _load(path: Path, placement: Placement) -> LoadedModel:
    import diffusers

    _quiet_libraries()

    try:
        if path.is_dir():
            cls_name = json.loads((path / "model_index.json").read_text("utf-8"))["_class_name"]
            cls = getattr(diffusers, cls_name)
            extra = {"safety_checker": None, "requires_safety_checker": False} if SUPPORTED[cls_name] == "sd" else {}
            pipe = cls.from_pretrained(str(path), dtype=placement.dtype, local_files_only=True, **extra)
        else:
            family = detect_single_file_family(path)
            config = single_file_config(family)
            if not (config / "model_index.json").is_file():
                raise _bad(ErrorKind.MODEL_INVALID,
                           f"{path.name} is an {family.upper()} single-file checkpoint, but this install has no offline "
                           f"{family.upper()} configuration to load it with. Use the model's diffusers folder instead.")
            cls = diffusers.StableDiffusionXLPipeline if family == "sdxl" else diffusers.StableDiffusionPipeline
            pipe = cls.from_single_file(str(path), config=str(config), local_files_only=True, dtype=placement.dtype)
    except StudioError:
        raise
    except (OSError, ValueError, KeyError, RuntimeError) as e:
        from studio.engine.errors import is_out_of_memory, translate

        if is_out_of_memory(e):
            raise translate(e) from e
        raise _bad(ErrorKind.MODEL_INVALID, f"Could not load {path.name}: {e}", repr(e)) from e
    pipe.to(placement.device)
    pipe.set_progress_bar_config(disable=True)
    family = "sdxl" if "XL" in type(pipe).__name__ else ("sd2" if pipe.unet.config.cross_attention_dim == 1024 else "sd1")
    small_vae = sum(p.numel() for p in pipe.vae.parameters()) < 5_000_000
    return LoadedModel(str(path), family, placement, pipe, {"base": pipe}, scheduler_config=pipe.scheduler.config,
                       small_vae=small_vae)


def pipeline_for(model: LoadedModel, mode: str) -> Any:
    """The pipeline for txt2img / img2img / inpaint, sharing the loaded components (no copy, no reload)."""
    if mode in model.by_mode:
        return model.by_mode[mode]
    with _LIBRARY_LOCK:
        return _derive(model, mode)


def _derive(model: LoadedModel, mode: str) -> Any:
    from diffusers import AutoPipelineForImage2Image, AutoPipelineForInpainting, AutoPipelineForText2Image

    in_channels = model.base.unet.config.in_channels
    if in_channels == 9 and mode != "inpaint":
        raise _bad(ErrorKind.INVALID_INPUT, "This is an inpainting model: give it an init image and paint a mask.")
    auto = {"txt2img": AutoPipelineForText2Image, "img2img": AutoPipelineForImage2Image,
            "inpaint": AutoPipelineForInpainting}[mode]
    pipe = auto.from_pipe(model.base)
    pipe.set_progress_bar_config(disable=True)
    model.by_mode[mode] = pipe
    return pipe


def set_scheduler(model: LoadedModel, pipe: Any, sampler: str, schedule: str) -> None:
    import diffusers

    cls_name, options = scheduler_recipe(sampler, schedule)
    with _LIBRARY_LOCK:
        cls = getattr(diffusers, cls_name)
    pipe.scheduler = cls.from_config(model.scheduler_config, **options)


def apply_loras(model: LoadedModel, loras: tuple[LoraRef, ...]) -> None:
    """Load (once) and activate exactly these LoRAs at these weights; others are switched off."""
    pipe = model.base
    for lo in loras:
        if lo.path in model.adapters:
            continue
        name = "lora_" + hashlib.sha1(lo.path.encode()).hexdigest()[:10]
        try:
            pipe.load_lora_weights(lo.path, adapter_name=name)
        except Exception as e:  # noqa: BLE001 - any loader failure means "this LoRA does not fit"
            with contextlib.suppress(Exception):  # remove whatever was half-loaded
                pipe.delete_adapters(name)
            raise StudioError(
                ErrorKind.MODEL_INVALID,
                f"The LoRA {Path(lo.path).name} could not be applied to this {model.family.upper()} model: {e}",
                repr(e), field="loras",
            ) from e
        model.adapters[lo.path] = name
    if not model.adapters:
        return
    if loras:
        pipe.enable_lora()
        pipe.set_adapters([model.adapters[lo.path] for lo in loras], adapter_weights=[lo.weight for lo in loras])
    else:
        pipe.disable_lora()
