"""The base model a LoRA run trains on: loaded in fp32 (autocast does the rest), its family checked against what
the run asks (SD 1.x/2.x/SDXL: every kind of adapter, the text encoders too; SD 3.x and FLUX.1: LoRA and DoRA on the
transformer), everything frozen — and the modules the adapter goes into."""

from __future__ import annotations

from typing import TYPE_CHECKING

from studio.core.io.settings import LoadOptions
from studio.core.jobs.errors import ErrorKind, StudioError
from studio.core.jobs.events import Note
from studio.engine.adapter_kinds import LYCORIS_ALGOS
from studio.engine.flow_train import FLOW_TARGETS, FlowObjective

if TYPE_CHECKING:
    from studio.engine.lora_train import Trainer

UNET_TARGETS = ["to_q", "to_k", "to_v", "to_out.0"]
TEXT_TARGETS = ["q_proj", "k_proj", "v_proj", "out_proj"]
TRAINABLE = ("sd1", "sd2", "sdxl", "sd3", "flux")
FAMILY_NAMES = {"sd3": "SD 3.x", "flux": "FLUX.1"}


def _refuse(message: str, field: str) -> StudioError:
    return StudioError(
        ErrorKind.MODEL_INVALID if field == "base" else ErrorKind.INVALID_INPUT, message, field=field
    )


def load_base(t: Trainer) -> None:
    """Load the run's base model into the trainer: ``pipe``, ``family``, ``denoiser`` (the UNet, or the flow
    models' transformer), ``flow`` (None for the UNet families), the text ``encoders`` and ``tokenizers``."""
    from studio.engine.devices import choose_placement
    from studio.engine.pipelines import check_model_path, load_pipeline

    spec = t.spec
    placement = choose_placement(spec.device, "fp32")
    t.device = placement.device
    path = check_model_path(spec.base)
    t.emit(Note(text=f"Loading {path.name}…"))
    model = load_pipeline(path, placement, LoadOptions())
    family = model.family
    if family not in TRAINABLE:
        raise _refuse(f"{path.name} is a {family} model; Studio trains LoRAs for SD 1.x, 2.x, SDXL, SD 3.x and "
                      "FLUX.1.", "base")  # fmt: skip
    flow = family in ("sd3", "flux")
    if flow and spec.algo in LYCORIS_ALGOS:
        name = {"loha": "LoHa", "lokr": "LoKr"}[spec.algo]
        raise _refuse(f"{name} adapters are for SD 1.x, 2.x and SDXL; train a LoRA or a DoRA on {FAMILY_NAMES[family]}.",
                      "algo")  # fmt: skip
    if flow and spec.train_text_encoder:
        raise _refuse(f"On {FAMILY_NAMES[family]} Studio trains the transformer alone: turn off “Train the text "
                      "encoder too”.", "train_text_encoder")  # fmt: skip
    t.family, t.pipe = family, model.base
    pipe = t.pipe
    t.xl = family == "sdxl"
    t.flow = FlowObjective(pipe, family, t.device) if flow else None
    t.denoiser = pipe.transformer if flow else pipe.unet
    t.encoders = [] if flow else [pipe.text_encoder] + ([pipe.text_encoder_2] if t.xl else [])
    t.tokenizers = [] if flow else [pipe.tokenizer] + ([pipe.tokenizer_2] if t.xl else [])
    frozen = [t.denoiser, pipe.vae] + [getattr(pipe, n) for n in ("text_encoder", "text_encoder_2", "text_encoder_3")
                                       if getattr(pipe, n, None) is not None]  # fmt: skip
    for m in frozen:
        m.requires_grad_(False)


def targets(t: Trainer) -> list[str]:
    return FLOW_TARGETS if t.flow is not None else UNET_TARGETS


def denoiser_part(t: Trainer) -> str:
    """The adapter file's name for the trained network: "unet", or "transformer" for SD 3.x and FLUX.1."""
    return "transformer" if t.flow is not None else "unet"
