"""Which engine runs a job's UNet on the CPU — torch or OpenVINO — and loading a model for OpenVINO.

``auto`` picks OpenVINO for SD 1.x/2.x and SDXL jobs on the CPU when it is installed: measured faster per step on
every CPU kind this project has had (docs/dev/TESTING.md). A job OpenVINO cannot run (ControlNet, reference images,
attention maps, torch.compile) runs on torch; when the user asked for OpenVINO by name, a note says why. The engine
is part of the loaded model: changing it (or, on OpenVINO, the LoRAs, which are merged into the converted UNet)
loads the model again."""

from __future__ import annotations

import dataclasses
import gc
import importlib.util
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from studio.core.image.specs import GenerateSpec
from studio.core.io.settings import LoadOptions
from studio.engine.devices import Placement
from studio.engine.openvino_cache import DamagedCache, Emit, Variant, convert, openvino_missing
from studio.engine.pipelines import LoadedModel, load_pipeline
from studio.engine.precision import Precision, cpu_caps

OPENVINO_FAMILIES = ("sd1", "sd2", "sdxl")
INT8 = "openvino-int8"  # OpenVINO with int8 convolutions (openvino_int8)
# SD's UNet halves the latent three times; at other sizes its upsampling sizes differ from those the conversion fixed
SIZE_STEP = 64


def torch_only(spec: GenerateSpec, family: str, options: LoadOptions) -> str:
    """Why this job needs the torch engine ("" when OpenVINO can run it)."""
    if family not in OPENVINO_FAMILIES:
        return f"OpenVINO runs SD 1.x/2.x and SDXL here, not {family.upper()}"
    if any(u.weight > 0 for u in spec.controls):
        return "ControlNet needs the torch engine"
    if spec.references:
        return "Reference images (IP-Adapter) need the torch engine"
    if spec.regions:
        return "Regional prompts need the torch engine"
    if options.compile:
        return "Maximum speed (torch.compile) is a torch setting"
    sizes = {(spec.width, spec.height), spec.output_size}
    if any(w % SIZE_STEP or h % SIZE_STEP for w, h in sizes):
        return (
            f"OpenVINO takes sizes in multiples of {SIZE_STEP} px (the UNet's skip connections are fixed when it "
            "is converted)"
        )
    return ""


@dataclass(frozen=True)
class EngineChoice:
    engine: str  # "torch" | "openvino" | "openvino-int8" (the recipe's words for it)
    note: str = ""  # for the user, when the engine they named is not the one used


def choose_engine(
    spec: GenerateSpec, device: str, family: str, options: LoadOptions, needs_torch: str = ""
) -> EngineChoice:
    """The engine of this job's UNet (``needs_torch``: the caller's own reason, e.g. attention maps)."""
    asked = spec.cpu_engine
    if asked == "torch":
        return EngineChoice("torch")
    named = asked.startswith("openvino")
    if device != "cpu":
        note = f"OpenVINO is Studio's CPU engine; this machine runs on {device}." if named else ""
        return EngineChoice("torch", note)
    why = needs_torch or torch_only(spec, family, options) or openvino_missing()
    if why:
        return EngineChoice("torch", f"{why}: this picture was made with torch." if named else "")
    # int8 convolutions: asked for, or auto's choice where the CPU computes in f32 (measured faster there only)
    int8 = asked == INT8 or (asked == "auto" and not cpu_caps().bf16)
    if int8 and importlib.util.find_spec("nncf") is None:
        note = "int8 convolutions need nncf (pip install nncf): this picture was made with OpenVINO's fp16 weights."
        return EngineChoice("openvino", note if asked == INT8 else "")
    return EngineChoice(INT8 if int8 else "openvino")


def engine_for(
    spec: GenerateSpec, emit: Emit, options: LoadOptions, device: str, cache: Path, needs_torch: str = ""
) -> OpenVinoLoad | None:
    """How to load the job's model: None for torch, else for OpenVINO (with ``cache``: where converted UNets live);
    a note when the engine the user named is not the one used."""
    from studio.engine.pipelines import check_model_path, family_of

    path = check_model_path(spec.model, options.allow_pickle)
    choice = choose_engine(spec, device, family_of(path, options), options, needs_torch)
    if choice.note:
        emit(_note(choice.note))
    if choice.engine == "torch":
        return None
    return OpenVinoLoad(Variant(cache, path, spec.loras, "int8" if choice.engine == INT8 else "f16"), emit)


def recipe_of_engine(own: GenerateSpec, model: LoadedModel) -> GenerateSpec:
    """A saved picture's recipe names the CPU engine that made it: made again, it makes the same pixels."""
    return own.replace(cpu_engine=model.engine) if model.placement.device == "cpu" else own


@dataclass
class OpenVinoLoad:
    """Loads a model with its UNet on OpenVINO: from the cache when it is there (the torch UNet of a diffusers
    folder or a single file is then never built), else converted once — with the job's LoRAs merged — and cached."""

    variant: Variant
    emit: Emit

    @property
    def key(self) -> tuple[str, ...]:
        """Changes with the variant, and when its cache is gone (removed as unreadable): the model loads again."""
        folder = self.variant.folder
        return ("openvino", folder.name, "cached" if folder.is_dir() else "to convert")

    def cached(self, variant: Variant | None = None) -> dict[str, Any] | None:
        variant = variant or self.variant
        try:
            return variant.manifest()
        except DamagedCache:
            self.emit(_note(f"The OpenVINO cache of {variant.model.name} was damaged; it is made again."))
            return None

    def load(self, path: Path, placement: Placement, options: LoadOptions, plan: Any) -> LoadedModel:
        manifest = self.cached()
        if manifest is None and self.variant.weights == "int8":
            return self._make_int8(path, placement, options, plan)
        return self._load(self.variant, manifest, path, placement, options, plan)

    def _load(
        self, variant: Variant, manifest: dict[str, Any] | None, path: Path, placement: Placement,
        options: LoadOptions, plan: Any,
    ) -> LoadedModel:  # fmt: skip
        from studio.engine.model_additions import apply_loras

        loras = variant.loras
        ready = manifest is not None and not loras
        # conversion reads float32 weights; the OpenVINO UNet takes and gives the latents' dtype (the text's)
        fp32 = _float32_unet(placement)
        loaded = load_pipeline(
            path, fp32, options, plan, unet=unet_from(manifest, variant) if ready else None
        )
        if not ready:
            torch_unet = loaded.base.unet
            if loras:
                apply_loras(loaded, loras)
                loaded.base.fuse_lora(
                    components=["unet"], adapter_names=[loaded.adapters[lo.path] for lo in loras]
                )
            if manifest is None:
                manifest = convert(torch_unet, variant, self.emit, _label(path, loras))
            loaded.base.unet = unet_from(manifest, variant)
            loaded.weight_bytes -= sum(p.numel() * p.element_size() for p in torch_unet.parameters())
            del torch_unet
            gc.collect()
        loaded.engine = INT8 if variant.weights == "int8" else "openvino"
        loaded.placement = placement
        return loaded

    def _make_int8(self, path: Path, placement: Placement, options: LoadOptions, plan: Any) -> LoadedModel:
        """The int8 variant made from the fp16 one (converted first when it is not cached yet), which runs the
        calibration; a UNet that cannot be calibrated (or too little memory free) stays on the fp16 weights, said in
        a note."""
        from studio.engine.openvino_int8 import Int8Refused, f16_of, make_int8

        f16 = f16_of(self.variant)
        loaded = self._load(f16, self.cached(f16), path, placement, options, plan)
        try:
            manifest = make_int8(loaded.base, f16, self.variant, self.emit, _label(path, self.variant.loras))
        except Int8Refused as e:
            self.emit(_note(f"{e}: this picture was made with OpenVINO's fp16 weights."))
            return loaded
        loaded.base.unet = unet_from(manifest, self.variant)
        loaded.engine = INT8
        gc.collect()
        return loaded


def _label(path: Path, loras: tuple[Any, ...]) -> str:
    return path.name + (f" with {len(loras)} LoRA{'s' if len(loras) > 1 else ''}" if loras else "")


def _note(text: str) -> Any:
    from studio.core.jobs.events import Note

    return Note(text=text)


def _float32_unet(placement: Placement) -> Placement:
    import torch

    p = placement.components
    return dataclasses.replace(placement, precision=Precision(torch.float32, p.vae, p.text, p.channels_last))


def unet_from(manifest: dict[str, Any] | None, variant: Variant) -> Any:
    from studio.engine.openvino_unet import OpenVinoUNet, inference_hint

    if manifest is None:
        return None
    caps = cpu_caps()
    return OpenVinoUNet(manifest["config"], variant.xml, inference_hint(caps.bf16), caps.physical_cores)


def engine_name(model: LoadedModel) -> str:
    """How the image's record names the engine that made it: "torch", or "OpenVINO 2026.4.1 (bf16)"."""
    unet = getattr(model.base, "unet", None)
    if getattr(model, "engine", "torch") == "torch" or unet is None:
        return "torch"
    from studio.engine.openvino_unet import openvino_version

    weights = ", int8 convolutions" if model.engine == INT8 else ""
    return f"OpenVINO {openvino_version()} ({unet.hint}{weights})"
