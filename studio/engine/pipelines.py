"""Loading diffusion pipelines, caching the loaded one, planning its memory, deriving img2img/inpaint/ControlNet pipelines."""

from __future__ import annotations

import gc
import inspect
import json
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from studio.core.image.samplers import scheduler_recipe
from studio.core.io.paths import resource
from studio.core.io.safetensors_header import HeaderError, read_header
from studio.core.io.settings import LoadOptions
from studio.core.jobs.errors import ErrorKind, StudioError
from studio.core.models.memory_plan import MemoryOptions
from studio.engine.devices import Placement, free_device_memory
from studio.engine.precision import apply_precision, use_physical_cores

SUPPORTED = {
    "StableDiffusionPipeline": "sd",
    "StableDiffusionImg2ImgPipeline": "sd",
    "StableDiffusionInpaintPipeline": "sd",
    "StableDiffusionXLPipeline": "sdxl",
    "StableDiffusionXLImg2ImgPipeline": "sdxl",
    "StableDiffusionXLInpaintPipeline": "sdxl",
    "StableDiffusion3Pipeline": "sd3",
    "StableDiffusion3Img2ImgPipeline": "sd3",
    "StableDiffusion3InpaintPipeline": "sd3",
    "FluxPipeline": "flux",
    "FluxImg2ImgPipeline": "flux",
    "FluxInpaintPipeline": "flux",
}
FLOW_FAMILIES = ("sd3", "flux")  # flow-matching transformers: their own sampler, plain-text prompts
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
    by_mode: dict[Any, Any] = field(default_factory=dict)
    adapters: dict[str, str] = field(default_factory=dict)  # lora path -> adapter name
    scheduler_config: Any = None
    vae_upcast: bool = False
    small_vae: bool = False  # decoding is cheap enough for exact live previews
    options: LoadOptions = field(default_factory=LoadOptions)
    memory: MemoryOptions = field(default_factory=MemoryOptions)
    weight_bytes: int = 0  # of the UNet, VAE and text encoders as loaded
    tiny: tuple[str, Any] | None = None  # (folder, AutoencoderTiny) for previews and fast decodes
    embeddings: dict[str, str] = field(default_factory=dict)  # textual inversions loaded: name -> path
    own_vae: Any = None  # the model's own VAE while another one is in use
    vae_path: str = ""  # the VAE in use ("" the model's own)
    compiled_shapes: set[tuple[int, int, int]] | None = (
        None  # with torch.compile: the sizes already warmed up
    )
    engine: str = "torch"  # what runs the UNet: "torch" | "openvino" (cpu_engine)
    engine_key: tuple[str, ...] = ("torch",)  # the engine and, on OpenVINO, the converted variant


def _bad(kind: ErrorKind, message: str, details: str = "") -> StudioError:
    return StudioError(kind, message, details, field="model")


RUNNABLE = ("sd1", "sd2", "sdxl", "sd3", "flux")


def checkpoint_family(path: Path, options: LoadOptions | None = None) -> tuple[str, str]:
    """(family, variant) of a single-file checkpoint: the user's override, else what its header says."""
    from studio.core.models.model_identify import FAMILY_LABELS, identify

    override = options.family_for(str(path)) if options else None
    if override:
        return ("sd2", "v-prediction") if override == "sd2-v" else (override, "")
    if path.suffix.lower() in PICKLE_SUFFIXES:
        header = {k: {"shape": list(getattr(v, "shape", []))} for k, v in load_pickled_weights(path).items()}
    else:
        try:
            header = read_header(path)
        except HeaderError as e:
            raise _bad(ErrorKind.MODEL_INVALID, str(e)) from e
    who = identify(header)
    if who.kind == "unknown" and any(k.startswith("model.diffusion_model.") for k in header):
        # an original layout of unusual widths (a small custom model): its text-encoder keys name the family
        layouts = (
            ("conditioner.embedders.1.", "sdxl"),
            ("cond_stage_model.model.transformer.", "sd2"),
            ("cond_stage_model.transformer.", "sd1"),
        )
        for prefix, family in layouts:
            if any(k.startswith(prefix) for k in header):
                return family, ""
    if who.kind != "checkpoint":
        what = f"a {who.label}" if who.kind != "unknown" else "not a checkpoint Studio recognises"
        raise _bad(
            ErrorKind.MODEL_INVALID, f"{path.name} is {what}, not an image model. {who.reason}".strip()
        )
    if who.family not in RUNNABLE:
        raise _bad(
            ErrorKind.MODEL_INVALID,
            f"{path.name} is a {FAMILY_LABELS.get(who.family, who.family)} "
            "checkpoint; Studio runs Stable Diffusion 1.x, 2.x, SDXL, SD 3.x and FLUX.1 models.",
        )
    return who.family, who.variant


def load_pickled_weights(path: Path) -> dict[str, Any]:
    """A pickled checkpoint's tensors through ``torch.load(weights_only=True)``: plain tensors and containers
    only, so a file that tries to run code (or build any other object) is refused, never executed."""
    import pickle

    import torch

    try:
        data = torch.load(str(path), map_location="cpu", weights_only=True, mmap=False)
    except (pickle.UnpicklingError, RuntimeError, EOFError, ValueError, AttributeError) as e:
        raise _bad(
            ErrorKind.MODEL_INVALID,
            f"{path.name} holds more than weights (its pickle asks to create other "
            "objects or run code), so Studio refused to load it. Use a .safetensors version.",
            repr(e),
        ) from e
    while isinstance(data, dict) and isinstance(data.get("state_dict"), dict):
        data = data["state_dict"]
    if not isinstance(data, dict):
        raise _bad(ErrorKind.MODEL_INVALID, f"{path.name} does not hold a dictionary of weights.")
    return data


def single_file_config(family: str) -> Path:
    """The shipped folder of configs + tokenizer that loads a ``family`` single-file checkpoint offline."""
    return resource("model_configs", family)


def check_model_path(model: str, allow_pickle: bool = False) -> Path:
    """Validate a model location before loading, with a message the user can act on."""
    if not model:
        raise _bad(
            ErrorKind.MODEL_NOT_FOUND,
            "No image model is chosen: pick a diffusers folder or a .safetensors file.",
        )
    path = Path(model).expanduser()
    if not path.exists():
        raise _bad(
            ErrorKind.MODEL_NOT_FOUND,
            f"The model {path} does not exist. Pick a diffusers folder or a .safetensors checkpoint.",
        )
    if path.is_dir():
        index = path / "model_index.json"
        if not index.is_file():
            raise _bad(
                ErrorKind.MODEL_INVALID,
                f"{path} is not a diffusers pipeline folder (it has no model_index.json).",
            )
        try:
            cls = json.loads(index.read_text("utf-8")).get("_class_name", "")
        except (OSError, ValueError) as e:
            raise _bad(ErrorKind.MODEL_INVALID, f"{index} is unreadable: {e}.") from e
        if cls not in SUPPORTED:
            raise _bad(
                ErrorKind.MODEL_INVALID,
                f"{path.name} is a {cls or 'unknown'} model; Studio runs Stable Diffusion 1.x/2.x, SDXL, SD 3.x and "
                "FLUX.1 pipelines.",
            )
        return path
    if path.suffix.lower() in PICKLE_SUFFIXES:
        if allow_pickle:
            return path
        raise _bad(
            ErrorKind.MODEL_INVALID,
            f"{path.name} is a pickled checkpoint, which can run arbitrary code when loaded. "
            "Use a .safetensors version of this model, or allow pickled checkpoints in the Models room's "
            "settings (they are then read with torch.load(weights_only=True)).",
        )
    if path.suffix.lower() != ".safetensors":
        raise _bad(
            ErrorKind.MODEL_INVALID,
            f"{path.name} is not a model file Studio can load (.safetensors or a diffusers folder).",
        )
    return path


class PipelineCache:
    """Holds one loaded model (the GPU has room for one); a different model frees the previous one first."""

    def __init__(
        self,
        placement: Callable[[], Placement],
        make_room: Callable[[], None] = lambda: None,
        options: Callable[[], LoadOptions] = LoadOptions,
    ):
        self._placement = placement
        self._options = options
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

    def get(
        self, model: str, on_loading: Callable[[str], None] | None = None, engine: Any = None
    ) -> LoadedModel:
        """The loaded model (loading it when another one, or another engine for it, is loaded). ``engine``: how to
        load it when its UNet runs elsewhere than torch (``cpu_engine.OpenVinoLoad``): ``.key`` and ``.load``."""
        options = self._options()
        key = engine.key if engine is not None else ("torch",)
        path = check_model_path(model, options.allow_pickle)
        placement = self._placement()
        with self._lock:
            cur = self._loaded
            if (
                cur is not None
                and cur.path == str(path)
                and cur.placement == placement
                and _reload_key(cur.options, cur.path) == _reload_key(options, str(path))
                and cur.engine_key == key
            ):
                cur.options = options
                return cur
            if cur is not None:
                self._loaded = None
                del cur
                free_device_memory(placement.device)
            self._make_room()
            refuse_if_too_big(path, placement, options)
            plan = plan_load(path, placement, options)
            if on_loading:
                on_loading(f"{path.name} — {plan.describe()}")
            with _LIBRARY_LOCK:
                loaded = (engine.load if engine is not None else load_pipeline)(
                    path, placement, options, plan
                )
            loaded.engine_key = key
            self._loaded = loaded
            return loaded


def _reload_key(options: LoadOptions, path: str) -> tuple[str, str | None, bool]:
    """What needs a fresh load when it changes (slicing and tiling are switched on the loaded model)."""
    return options.cpu_offload, options.family_for(path), options.compile


def family_of(path: Path, options: LoadOptions) -> str:
    """The family for a memory estimate, from configs or the header only (a pickle is not read for it: its size
    on disk serves)."""
    if path.is_dir():
        from studio.core.models.model_library import pipeline_family

        try:
            cls = str(json.loads((path / "model_index.json").read_text("utf-8")).get("_class_name", ""))
        except (OSError, ValueError, AttributeError):
            return ""
        return pipeline_family(cls, path)
    if path.suffix.lower() in PICKLE_SUFFIXES:
        return options.family_for(str(path)) or ""
    try:
        return checkpoint_family(path, options)[0]
    except StudioError:
        return ""


def _weights_on_disk(path: Path) -> int:
    files = path.rglob("*.safetensors") if path.is_dir() else [path]
    return sum(f.stat().st_size for f in files if f.is_file())


def plan_load(path: Path, placement: Placement, options: LoadOptions) -> MemoryOptions:
    """The memory estimate and the savings to use, before loading (said to the user as the model loads)."""
    from studio.core.models.memory_plan import choose, estimate_for_files
    from studio.engine.devices import device_memory

    dtype_bytes = 2 if placement.dtype_name in ("float16", "bfloat16") else 4
    est = estimate_for_files(family_of(path, options), dtype_bytes, _weights_on_disk(path))
    return choose(
        est,
        placement.device,
        device_memory(placement.device)[1],
        attention_slicing=options.attention_slicing,
        vae_tiling=options.vae_tiling,
        cpu_offload=options.cpu_offload,
    )


def refuse_if_too_big(path: Path, placement: Placement, options: LoadOptions) -> None:
    """An SD 3.x or FLUX.1 model that cannot fit this device even with every saving is refused before loading,
    with what would fit."""
    from studio.core.models.memory_plan import will_not_fit
    from studio.engine.devices import device_memory

    family = family_of(path, options)
    dtype_bytes = 2 if placement.dtype_name in ("float16", "bfloat16") else 4
    why = will_not_fit(
        family, placement.device, dtype_bytes, device_memory(placement.device)[0], _weights_on_disk(path)
    )
    if why:
        raise _bad(ErrorKind.OUT_OF_MEMORY, why)


def tune_memory(model: LoadedModel, width: int, height: int, batch: int) -> MemoryOptions:
    """Switch attention slicing and VAE tiling for this job's size (model CPU offload stays as loaded)."""
    from studio.core.models.memory_plan import MemoryEstimate, choose, estimate_for_files
    from studio.engine.devices import device_memory

    pipe = model.base
    weights = model.weight_bytes
    dtype_bytes = 2 if model.placement.dtype_name in ("float16", "bfloat16") else 4
    rough = estimate_for_files(model.family, dtype_bytes, weights, width, height, batch)
    est = MemoryEstimate(weights, rough.unet_work, rough.vae_decode, rough.largest_component)
    free = device_memory(model.placement.device)[1]
    if free is not None and model.placement.device != "cpu" and not model.memory.cpu_offload:
        free += weights  # the loaded weights are already counted as used
    opts = model.options
    chosen = choose(
        est,
        model.placement.device,
        free,
        attention_slicing=opts.attention_slicing,
        vae_tiling=opts.vae_tiling,
        cpu_offload="on" if model.memory.cpu_offload else "off",
    )
    if chosen.attention_slicing != model.memory.attention_slicing:
        pipe.enable_attention_slicing() if chosen.attention_slicing else pipe.disable_attention_slicing()
    if chosen.vae_tiling != model.memory.vae_tiling:
        pipe.vae.enable_tiling() if chosen.vae_tiling else pipe.vae.disable_tiling()
    model.memory = chosen
    return chosen


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

    for name in (
        "StableDiffusionImg2ImgPipeline",
        "StableDiffusionInpaintPipeline",
        "UNet2DConditionModel",
        "AutoencoderKL",
        "EulerDiscreteScheduler",
        "DPMSolverMultistepScheduler",
    ):
        getattr(diffusers, name)
    quiet_libraries()
    # Hundreds of thousands of long-lived objects were just created; move them out of the cyclic
    # collector's reach so that later full collections (which hold the GIL) stay short for the GUI.
    gc.collect()
    gc.freeze()


def quiet_libraries() -> None:
    import diffusers
    import transformers

    diffusers.utils.logging.disable_progress_bar()
    transformers.utils.logging.disable_progress_bar()


def load_pipeline(
    path: Path,
    placement: Placement,
    options: LoadOptions | None = None,
    plan: MemoryOptions | None = None,
    unet: Any = None,
) -> LoadedModel:
    """Load a model; ``unet``: a UNet to use in place of the model's own (which is then not built)."""
    quiet_libraries()
    options = options or LoadOptions()
    try:
        if path.is_dir():
            pipe = _from_folder(path, placement, unet)
        else:
            family, variant = checkpoint_family(path, options)
            if family in FLOW_FAMILIES:
                pipe = _flow_single_file(path, family, placement)
            else:
                pipe = _sd_single_file(path, family, variant, placement, unet)
    except StudioError:
        raise
    except (OSError, ValueError, KeyError, RuntimeError) as e:
        from studio.engine.errors import is_out_of_memory, translate

        if is_out_of_memory(e):
            raise translate(e) from e
        raise _bad(ErrorKind.MODEL_INVALID, f"Could not load {path.name}: {e}", repr(e)) from e
    if not hasattr(pipe, "transformer"):
        apply_precision(pipe, placement.components)
    if placement.device == "cpu":
        use_physical_cores()
    plan = plan or MemoryOptions()
    if plan.cpu_offload and placement.device == "cuda":
        pipe.enable_model_cpu_offload(device=placement.device)
    else:
        pipe.to(placement.device)
    if plan.attention_slicing:
        pipe.enable_attention_slicing()
    if plan.vae_tiling:
        pipe.vae.enable_tiling()
    pipe.set_progress_bar_config(disable=True)
    compiled: set[tuple[int, int, int]] | None = None
    if options.compile:
        import torch

        if hasattr(pipe, "transformer"):
            pipe.transformer = torch.compile(pipe.transformer, fullgraph=False, dynamic=False)
        else:
            pipe.unet = torch.compile(pipe.unet, fullgraph=False, dynamic=False)
        compiled = set()
    name = type(pipe).__name__
    family = (
        "sdxl"
        if "XL" in name
        else "sd3"
        if "StableDiffusion3" in name
        else "flux"
        if "Flux" in name
        else ("sd2" if pipe.unet.config.cross_attention_dim == 1024 else "sd1")
    )
    small_vae = sum(p.numel() for p in pipe.vae.parameters()) < 5_000_000
    weights = sum(
        p.numel() * p.element_size()
        for part in ("unet", "transformer", "vae", "text_encoder", "text_encoder_2", "text_encoder_3")
        if (m := getattr(pipe, part, None)) is not None
        for p in m.parameters()
    )
    return LoadedModel(
        str(path),
        family,
        placement,
        pipe,
        {"base": pipe},
        scheduler_config=pipe.scheduler.config,
        small_vae=small_vae,
        options=options,
        memory=plan,
        weight_bytes=weights,
        compiled_shapes=compiled,
    )


def _sd_single_file(path: Path, family: str, variant: str, placement: Placement, unet: Any = None) -> Any:
    """An SD 1.x/2.x or SDXL single-file checkpoint's pipeline, with the configuration Studio ships for its family;
    ``unet`` in place of the file's own (which is then not built)."""
    import diffusers

    config = single_file_config(family)
    if not (config / "model_index.json").is_file():
        raise _bad(
            ErrorKind.MODEL_INVALID,
            f"{path.name} is an {family.upper()} single-file checkpoint, but this install has no "
            f"offline {family.upper()} configuration to load it with. Use the model's diffusers folder.",
        )
    cls = diffusers.StableDiffusionXLPipeline if family == "sdxl" else diffusers.StableDiffusionPipeline
    given = {"unet": unet} if unet is not None else {}
    pipe = cls.from_single_file(
        str(path), config=str(config), local_files_only=True, dtype=placement.components.text, **given
    )
    if variant == "v-prediction":
        pipe.scheduler = type(pipe.scheduler).from_config(
            pipe.scheduler.config, prediction_type="v_prediction"
        )
    return pipe


def _from_folder(path: Path, placement: Placement, unet: Any = None) -> Any:
    """A diffusers folder's pipeline, in the placement's dtypes (flow models: one dtype for all, bf16 where the
    machine has it); ``unet`` in place of the folder's own."""
    import diffusers

    cls_name = json.loads((path / "model_index.json").read_text("utf-8"))["_class_name"]
    cls = getattr(diffusers, cls_name)
    if SUPPORTED[cls_name] in FLOW_FAMILIES:
        return cls.from_pretrained(str(path), torch_dtype=placement.components.unet, local_files_only=True)
    extra: dict[str, Any] = {"unet": unet} if unet is not None else {}
    if SUPPORTED[cls_name] == "sd":
        extra.update(safety_checker=None, requires_safety_checker=False)
    return cls.from_pretrained(
        str(path), dtype=placement.components.as_dict(), local_files_only=True, **extra
    )


def _flow_single_file(path: Path, family: str, placement: Placement) -> Any:
    """An SD 3.x or FLUX.1 single file: its transformer from the file, the rest (configuration, text encoders,
    tokenizers, VAE) from a diffusers folder of the same family the user has — beside the file, in the models
    folder, or in the Hugging Face cache. (The file alone cannot be configured offline: the T5 tokenizer and the
    configurations are not in it.)"""
    import diffusers

    from studio.core.models.model_identify import FAMILY_LABELS
    from studio.core.models.model_library import companion_folder

    folder = companion_folder(path, family)
    label = FAMILY_LABELS.get(family, family)
    if folder is None:
        example = (
            "black-forest-labs/FLUX.1-schnell"
            if family == "flux"
            else "stabilityai/stable-diffusion-3.5-medium"
        )
        raise _bad(ErrorKind.MODEL_INVALID, f"{path.name} is a {label} single file; Studio loads it with the text "
                   f"encoders and VAE of a {label} diffusers folder (e.g. {example}), and none is beside it, in the "
                   "models folder or in the Hugging Face cache. Download one in the Models room, or use the "
                   "folder itself.")  # fmt: skip
    index = json.loads((folder / "model_index.json").read_text("utf-8"))
    transformer_cls = getattr(diffusers, index["transformer"][1])
    dtype = placement.components.unet
    transformer = transformer_cls.from_single_file(str(path), config=str(folder), subfolder="transformer",
                                                   torch_dtype=dtype, local_files_only=True)  # fmt: skip
    cls = getattr(diffusers, index["_class_name"])
    return cls.from_pretrained(str(folder), transformer=transformer, torch_dtype=dtype, local_files_only=True)


def pipeline_for(model: LoadedModel, mode: str, controlnet: Any = None) -> Any:
    """The pipeline for txt2img / img2img / inpaint, sharing the loaded components (no copy, no reload); with
    ``controlnet`` (one ControlNet or a list), its ControlNet variant."""
    key = mode if controlnet is None else (mode, tuple(map(id, controlnet)) if isinstance(controlnet, list)
                                           else id(controlnet))  # fmt: skip
    if key in model.by_mode:
        return model.by_mode[key]
    with _LIBRARY_LOCK:
        if controlnet is None:
            return _derive(model, mode)
        for old in [k for k in model.by_mode if isinstance(k, tuple)]:  # one ControlNet variant kept
            del model.by_mode[old]
        pipe = _derive(model, mode, controlnet)
        model.by_mode[key] = pipe
        return pipe


def _derive(model: LoadedModel, mode: str, controlnet: Any = None) -> Any:
    from diffusers import AutoPipelineForImage2Image, AutoPipelineForInpainting, AutoPipelineForText2Image

    denoiser = getattr(model.base, "unet", None)
    in_channels = denoiser.config.in_channels if denoiser is not None else 0
    if in_channels == 9 and mode != "inpaint":
        raise _bad(
            ErrorKind.INVALID_INPUT, "This is an inpainting model: give it an init image and paint a mask."
        )
    auto = {
        "txt2img": AutoPipelineForText2Image,
        "img2img": AutoPipelineForImage2Image,
        "inpaint": AutoPipelineForInpainting,
    }[mode]
    if controlnet is not None:
        pipe = auto.from_pipe(model.base, controlnet=controlnet)
        pipe.set_progress_bar_config(disable=True)
        return pipe
    pipe = auto.from_pipe(model.base)
    pipe.set_progress_bar_config(disable=True)
    model.by_mode[mode] = pipe
    return pipe


def set_scheduler(model: LoadedModel, pipe: Any, sampler: str, schedule: str) -> None:
    import diffusers

    if model.family in FLOW_FAMILIES:  # SD 3.x and FLUX.1: their own flow-matching scheduler, as configured
        pipe.scheduler = type(model.base.scheduler).from_config(model.scheduler_config)
        return
    cls_name, options = scheduler_recipe(sampler, schedule)
    with _LIBRARY_LOCK:
        cls = getattr(diffusers, cls_name)
    # only what this scheduler takes (a PNDM config's skip_prk_steps means nothing to LCM, and diffusers says so)
    known = set(inspect.signature(cls.__init__).parameters)
    config = {k: v for k, v in dict(model.scheduler_config).items() if k in known or k.startswith("_")}
    pipe.scheduler = cls.from_config(config, **options)
