"""ControlNet models and IP-Adapters for a loaded Stable Diffusion model: loaded from the user's files (diffusers
folders, or single safetensors files in AUTOMATIC1111's or diffusers' layout, configured from the model's own
UNet), run in the UNet's precision, and the control maps a job's units give (the model preprocessors too)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from PIL import Image

from studio.core.image.control import PREPROCESSORS, unit_map
from studio.core.image.specs import ControlUnit, ReferenceUnit
from studio.core.jobs.errors import ErrorKind, StudioError
from studio.core.jobs.events import Event, Preview
from studio.engine.pipelines import LoadedModel
from studio.engine.precision import _module_dtype, door


def _bad(message: str, field: str = "controls") -> StudioError:
    return StudioError(ErrorKind.MODEL_INVALID, message, field=field)


def _config_from_unet(unet: Any) -> dict[str, Any]:
    """A ControlNet configuration mirroring the model's UNet (what ``ControlNetModel.from_unet`` builds)."""
    import inspect

    from diffusers import ControlNetModel

    known = set(inspect.signature(ControlNetModel.__init__).parameters) - {"self"}
    return {k: v for k, v in dict(unet.config).items() if k in known}


def load_controlnet(path: str, model: LoadedModel) -> Any:
    """A ControlNet for ``model``: a diffusers folder, or a single file (A1111's ``control_model.*`` layout or
    diffusers' keys) whose shapes must fit a ControlNet of the model's UNet. In the UNet's dtype, with a door."""
    import torch
    from diffusers import ControlNetModel

    p = Path(path)
    components = model.placement.components
    try:
        if p.is_dir():
            net = ControlNetModel.from_pretrained(str(p), local_files_only=True, torch_dtype=components.unet)
        else:
            from safetensors.torch import load_file

            weights = load_file(str(p))
            config = _config_from_unet(model.base.unet)
            if any("input_hint_block." in k for k in weights):
                from diffusers.loaders.single_file_utils import convert_controlnet_checkpoint

                weights = convert_controlnet_checkpoint(weights, config)
            config["conditioning_embedding_out_channels"] = _embedding_channels(weights)
            net = ControlNetModel.from_config(config)
            missing, unexpected = net.load_state_dict(weights, strict=False)
            if missing or unexpected:
                raise _bad(f"{p.name} does not fit this model's UNet ({len(missing)} weights missing, "
                           f"{len(unexpected)} unknown); use the ControlNet's diffusers folder.")  # fmt: skip
            net.to(components.unet)
    except StudioError:
        raise
    except (OSError, ValueError, KeyError, RuntimeError) as e:
        raise _bad(f"Could not load the ControlNet {p.name}: {e}") from e
    net.eval().requires_grad_(False)
    if components.channels_last:
        net.to(memory_format=torch.channels_last)
    net._studio_channels_last = components.channels_last
    if _module_dtype(net) != components.text or components.channels_last:
        door(net, components.text)
    return net.to(model.placement.device)


def _embedding_channels(weights: dict[str, Any]) -> tuple[int, ...]:
    """The widths of the condition embedding's convolutions (conv_in, then every second block), read from the
    weights: (16, 32, 96, 256) for SD's 8× downsampling."""
    prefix = "controlnet_cond_embedding."
    widths = (
        [int(weights[prefix + "conv_in.weight"].shape[0])] if prefix + "conv_in.weight" in weights else []
    )
    blocks = sorted({int(k.split(".")[2]) for k in weights if k.startswith(prefix + "blocks.")})
    widths += [int(weights[f"{prefix}blocks.{i}.weight"].shape[0]) for i in blocks if i % 2 == 1]
    return tuple(widths) or (16, 32, 96, 256)


def check_fits(net: Any, model: LoadedModel, path: str) -> None:
    """A ControlNet made for another family is refused with its name (before any step runs)."""
    mine = model.base.unet.config.cross_attention_dim
    theirs = net.config.cross_attention_dim
    if mine != theirs:
        raise _bad(f"{Path(path).name} is a ControlNet for a model with {theirs}-wide text features; "
                   f"{Path(model.path).name} has {mine}. Choose a ControlNet made for this model's family.")  # fmt: skip


class GuidanceCache:
    """The ControlNets used lately (kept: the next job usually uses them again) and the IP-Adapters loaded into
    the current model's UNet."""

    def __init__(self, keep: int = 3):
        self._nets: dict[tuple[str, str], Any] = {}
        self._keep = keep
        self._encoders: dict[str, tuple[Any, Any]] = {}
        self.adapters: tuple[str, ...] = ()  # IP-Adapters now in the UNet
        self._adapter_model: LoadedModel | None = None

    def clear(self) -> None:
        self._nets.clear()
        self._encoders.clear()
        self.adapters = ()
        self._adapter_model = None

    def controlnet(self, path: str, model: LoadedModel) -> Any:
        key = (path, model.path)
        if key not in self._nets:
            for old in list(self._nets)[: max(0, len(self._nets) - self._keep + 1)]:
                del self._nets[old]
            net = load_controlnet(path, model)
            check_fits(net, model, path)
            self._nets[key] = net
        return self._nets[key]

    # -- IP-Adapter ------------------------------------------------------------------------------------------
    def use_adapters(self, model: LoadedModel, pipe: Any, references: tuple[ReferenceUnit, ...]) -> None:
        """Load the references' IP-Adapters into the model's UNet (one per reference, so each has its weight), or
        take them out when the job has none."""
        wanted = tuple(r.model for r in references)
        if wanted == self.adapters and self._adapter_model is model:
            return
        if self.adapters and self._adapter_model is model:
            pipe.unload_ip_adapter()
        self.adapters, self._adapter_model = (), None
        if not wanted:
            return
        dicts = [_adapter_weights(path) for path in wanted]
        try:
            pipe.load_ip_adapter(dicts, subfolder="", weight_name="", image_encoder_folder=None)
        except (ValueError, KeyError, RuntimeError) as e:
            raise _bad(
                f"The IP-Adapter {Path(wanted[0]).name} does not fit this model: {e}", "references"
            ) from e
        self.adapters, self._adapter_model = wanted, model

    def image_embeds(
        self, model: LoadedModel, references: tuple[ReferenceUnit, ...], batch: int
    ) -> list[Any]:
        """Each reference's image embedding with its unconditional twin first, as diffusers' pipelines take them
        (``ip_adapter_image_embeds``): plus models take the encoder's penultimate hidden states."""
        import torch

        out = []
        dtype = _module_dtype(model.base.unet)
        device = model.placement.device
        for ref in references:
            encoder, processor = self._encoder(ref.encoder, device)
            plus = _is_plus(ref.model)
            image = fit_reference(ref.image)
            with torch.no_grad():
                pixels = processor(images=image, return_tensors="pt").pixel_values.to(
                    device, _module_dtype(encoder)
                )
                if plus:
                    pos = encoder(pixels, output_hidden_states=True).hidden_states[-2]
                    neg = encoder(torch.zeros_like(pixels), output_hidden_states=True).hidden_states[-2]
                else:
                    pos = encoder(pixels).image_embeds
                    neg = torch.zeros_like(pos)
            out.append(torch.stack([neg, pos]).to(dtype))
        return out

    def _encoder(self, folder: str, device: str) -> tuple[Any, Any]:
        if folder not in self._encoders:
            from transformers import CLIPImageProcessor, CLIPVisionModelWithProjection

            try:
                encoder = CLIPVisionModelWithProjection.from_pretrained(folder, local_files_only=True,
                                                                        use_safetensors=True)  # fmt: skip
            except (OSError, ValueError) as e:
                raise _bad(f"Could not load the image encoder {Path(folder).name}: {e}", "references") from e
            if (Path(folder) / "preprocessor_config.json").is_file():
                processor = CLIPImageProcessor.from_pretrained(folder, local_files_only=True)
            else:
                side: Any = encoder.config.image_size
                processor = CLIPImageProcessor(
                    size={"shortest_edge": side}, crop_size={"height": side, "width": side}
                )
            self._encoders = {folder: (encoder.eval().to(device), processor)}  # one at a time
        return self._encoders[folder]


def _adapter_weights(path: str) -> dict[str, dict[str, Any]]:
    """An IP-Adapter file as diffusers takes it: {"image_proj": …, "ip_adapter": …}."""
    from safetensors.torch import load_file

    try:
        flat = load_file(path)
    except (OSError, ValueError, RuntimeError) as e:
        raise _bad(f"Could not read the IP-Adapter {Path(path).name}: {e}", "references") from e
    out: dict[str, dict[str, Any]] = {"image_proj": {}, "ip_adapter": {}}
    for key, value in flat.items():
        head, _, rest = key.partition(".")
        if head in out:
            out[head][rest] = value
    if not out["image_proj"] or not out["ip_adapter"]:
        raise _bad(
            f"{Path(path).name} is not an IP-Adapter (no image_proj / ip_adapter weights).", "references"
        )
    return out


def _is_plus(path: str) -> bool:
    from safetensors import safe_open

    with safe_open(path, "pt") as f:
        return "image_proj.latents" in f.keys()  # noqa: SIM118 - safe_open has no __contains__


def fit_reference(path: str) -> Image.Image:
    from studio.engine.image_io import open_picture

    return open_picture(path, "references")


def adapter_scales(references: tuple[ReferenceUnit, ...], fraction: float) -> list[float]:
    """Each reference's weight at this point of the run (0 outside its start–end)."""
    return [
        r.weight if r.start <= fraction < r.end or (fraction >= 1 and r.end >= 1) else 0.0 for r in references
    ]


# -- control maps ------------------------------------------------------------------------------------------------
def control_map(unit: ControlUnit, size: tuple[int, int]) -> Image.Image:
    """The unit's control image at the job's size (scaled to cover, centre-cropped), preprocessed."""
    from studio.engine.image_io import load_input_image

    image = load_input_image(unit.image, size, "controls")
    if unit.preprocessor in PREPROCESSORS and PREPROCESSORS[unit.preprocessor].run is not None:
        return unit_map(unit, image)
    return model_preprocess(unit.preprocessor, image)


_AUX = {"depth": "MidasDetector", "pose": "OpenposeDetector"}


def model_preprocess(name: str, image: Image.Image) -> Image.Image:
    """Depth and pose through controlnet-aux's detectors with the annotator weights the user has
    (lllyasviel/Annotators in the Hugging Face cache); what to get when either is missing."""
    try:
        import controlnet_aux  # type: ignore[import-not-found]
    except ImportError:
        raise StudioError(ErrorKind.INVALID_INPUT, f"The {name} preprocessor needs the controlnet-aux package: "
                          "pip install controlnet-aux, and its annotator weights (lllyasviel/Annotators, in the "
                          "Models room's download box). Or give a ready-made map with the preprocessor none.",
                          field="controls") from None  # fmt: skip
    import torch

    major, minor = (int(x) for x in torch.__version__.split(".")[:2])
    if (major, minor) < (2, 6):  # older torch.load runs a pickle's code unless told otherwise
        raise StudioError(ErrorKind.INVALID_INPUT, f"The {name} preprocessor reads its annotator's pickled weights, "
                          "which only torch 2.6 or newer loads safely (weights only); update torch, or give a "
                          "ready-made map with the preprocessor none.", field="controls")  # fmt: skip
    try:
        detector = getattr(controlnet_aux, _AUX[name]).from_pretrained(
            "lllyasviel/Annotators", local_files_only=True
        )
        result = detector(image, output_type="pil")
    except Exception as e:  # noqa: BLE001 - a third-party detector: any failure is the user's to read
        raise StudioError(ErrorKind.INVALID_INPUT, f"The {name} preprocessor could not run: {e}. It needs "
                          "lllyasviel/Annotators downloaded (Models room).", field="controls") from e  # fmt: skip
    return result.convert("RGB").resize(image.size, Image.Resampling.BICUBIC)


def inpaint_control(init: Image.Image, mask: Image.Image) -> Any:
    """The inpaint ControlNet's condition: the picture in [0, 1] with the masked pixels at −1."""
    import numpy as np
    import torch

    pixels = np.asarray(init.convert("RGB"), dtype=np.float32) / 255.0
    hole = np.asarray(mask.convert("L").resize(init.size), dtype=np.float32) > 127
    pixels[hole] = -1.0
    return torch.from_numpy(pixels).permute(2, 0, 1)[None]


def control_call(
    controls: tuple[ControlUnit, ...],
    size: tuple[int, int],
    mode: str,
    init: Image.Image | None,
    mask: Image.Image | None,
    emit: Callable[[Event], None],
) -> dict[str, Any]:
    """The control maps (each shown as it is made) and the units' weights and start/end, as the ControlNet
    pipelines take them."""
    maps: list[Any] = []
    for unit in controls:
        if unit.preprocessor == "inpaint" and init is not None and mask is not None:
            shown = Image.composite(Image.new("RGB", init.size), init.convert("RGB"), mask.convert("L"))
            maps.append(inpaint_control(init, mask))
        else:
            shown = control_map(unit, size)
            maps.append(shown)
        emit(Preview(image=shown, step=0, item=0))
    one = len(maps) == 1
    return {
        "image" if mode == "txt2img" else "control_image": maps[0] if one else maps,
        "controlnet_conditioning_scale": controls[0].weight if one else [u.weight for u in controls],
        "control_guidance_start": controls[0].start if one else [u.start for u in controls],
        "control_guidance_end": controls[0].end if one else [u.end for u in controls],
    }
