"""What a job adds to a loaded model: textual-inversion embeddings, another VAE, LoRAs — each applied once and
switched per job, in every pipeline derived from the model."""

from __future__ import annotations

import contextlib
import hashlib
import re
from pathlib import Path
from typing import Any

from studio.core.image.specs import EmbeddingRef, LoraRef
from studio.core.jobs.errors import ErrorKind, StudioError
from studio.engine.adapter_kinds import apply_lycoris, is_lycoris
from studio.engine.pipelines import PICKLE_SUFFIXES, LoadedModel, load_pickled_weights


def _embedding_vectors(path: Path, allow_pickle: bool) -> dict[str, Any]:
    """{"clip_l": vectors[, "clip_g": vectors]} of a textual-inversion file (A1111's, diffusers', SDXL's)."""
    import torch

    if path.suffix.lower() in PICKLE_SUFFIXES:
        if not allow_pickle:
            raise StudioError(ErrorKind.MODEL_INVALID, f"The embedding {path.name} is a pickled file, which can run "
                              "code when loaded; use a .safetensors version (or allow pickled files in the Models "
                              "room).", field="prompt")  # fmt: skip
        raw: dict[str, Any] = load_pickled_weights(path)
    else:
        from safetensors.torch import load_file

        raw = load_file(str(path))
    if "clip_l" in raw or "clip_g" in raw:
        return {k: raw[k] for k in ("clip_l", "clip_g") if isinstance(raw.get(k), torch.Tensor)}
    params = raw.get("string_to_param")
    if isinstance(params, dict) and params:
        return {"clip_l": next(iter(params.values()))}
    tensors = [v for v in raw.values() if isinstance(v, torch.Tensor)]
    if "emb_params" in raw or len(tensors) == 1:
        return {"clip_l": raw.get("emb_params", tensors[0] if tensors else None)}
    raise StudioError(ErrorKind.MODEL_INVALID, f"{path.name} is not a textual-inversion embedding Studio can "
                      "read.", field="prompt")  # fmt: skip


def apply_embeddings(model: LoadedModel, embeddings: tuple[EmbeddingRef, ...]) -> None:
    """Load the textual inversions a job's prompts name (SD 1.x/2.x: one text encoder; SDXL: both), unloading
    those it does not use. A vector of the wrong width (another family) is refused by name."""
    wanted = {e.name: e.path for e in embeddings}
    if wanted == model.embeddings:
        return
    pipe = model.base
    pairs = [("clip_l", pipe.tokenizer, pipe.text_encoder)]
    if getattr(pipe, "text_encoder_2", None) is not None:
        pairs.append(("clip_g", pipe.tokenizer_2, pipe.text_encoder_2))
    if model.embeddings:
        for _, tokenizer, encoder in pairs:
            pipe.unload_textual_inversion(tokenizer=tokenizer, text_encoder=encoder)
        model.embeddings = {}
    for name, path in wanted.items():
        vectors = _embedding_vectors(Path(path), model.options.allow_pickle)
        for key, tokenizer, encoder in pairs:
            vec = vectors.get(key)
            width = encoder.get_input_embeddings().weight.shape[-1]
            if vec is None or vec.shape[-1] != width:
                got = "no vectors for it" if vec is None else f"{vec.shape[-1]}-wide vectors"
                raise StudioError(ErrorKind.INVALID_INPUT, f"The embedding {name} has {got}; this model's text "
                                  f"encoder takes {width} (an embedding for another family).", field="prompt")  # fmt: skip
            pipe.load_textual_inversion(
                vec.reshape(-1, width), token=name, tokenizer=tokenizer, text_encoder=encoder
            )
        model.embeddings[name] = path


def use_vae(model: LoadedModel, path: str) -> None:
    """Decode this model's jobs with the VAE at ``path`` ("" its own), in every pipeline derived from it."""
    if model.vae_path == path:
        return
    from studio.engine.vae import load_vae

    own = model.own_vae if model.own_vae is not None else model.base.vae
    vae = own if not path else load_vae(Path(path), own, allow_pickle=model.options.allow_pickle)
    for pipe in {id(p): p for p in (model.base, *model.by_mode.values())}.values():
        pipe.vae = vae
    model.own_vae = None if not path else own
    model.vae_path = path
    model.vae_upcast = False
    model.small_vae = sum(p.numel() for p in vae.parameters()) < 5_000_000


def _does_not_fit(path: Path, family: str, e: Exception) -> str:
    """Why a LoRA would not load, in one sentence: layers of other sizes mean another base model (named when the
    file says which); anything else, the loader's first line (the whole error stays in the details)."""
    from studio.core.io.safetensors_header import read_header

    size = r"torch\.Size\(\[([\d, ]+)\]\)"
    shapes = re.search(rf"shape {size} from checkpoint.*?current model is {size}", str(e))
    if shapes:
        try:
            meta = read_header(path).get("__metadata__") or {}
        except Exception:  # noqa: BLE001 - the name is a courtesy; the sentence stands without it
            meta = {}
        base = str(meta.get("studio_base_model") or meta.get("ss_sd_model_name") or "")[:80]
        made_for = f" ({base})" if base else ""
        theirs, ours = ("×".join(s.split(", ")) for s in shapes.groups())
        return (f"The LoRA {path.name} was made for another base model{made_for}: its layers do not match this "
                f"{family.upper()} model's ({theirs} in the LoRA where this model has {ours}). "
                "Choose the model it was trained on, or leave the LoRA out.")  # fmt: skip
    first = (str(e).strip().splitlines() or [type(e).__name__])[0][:300]
    return f"The LoRA {path.name} could not be applied to this {family.upper()} model: {first}"


def apply_loras(model: LoadedModel, loras: tuple[LoraRef, ...]) -> None:
    """Load (once) and activate exactly these LoRAs at these weights; others are switched off. (On OpenVINO they
    are merged into the converted UNet, which the LoRA set chose.)"""
    if model.engine != "torch":
        return
    pipe = model.base
    for lo in loras:
        if lo.path in model.adapters:
            continue
        name = "lora_" + hashlib.sha1(lo.path.encode()).hexdigest()[:10]
        try:
            if is_lycoris(Path(lo.path)):  # LoHa, LoKr: a layout diffusers does not read
                apply_lycoris(Path(lo.path), pipe, name)
            else:
                pipe.load_lora_weights(lo.path, adapter_name=name)
        except Exception as e:  # noqa: BLE001 - any loader failure means "this LoRA does not fit"
            with contextlib.suppress(Exception):  # remove whatever was half-loaded
                pipe.delete_adapters(name)
            raise StudioError(
                ErrorKind.MODEL_INVALID, _does_not_fit(Path(lo.path), model.family, e), repr(e), field="loras"
            ) from e
        model.adapters[lo.path] = name
    if not model.adapters:
        return
    if loras:
        pipe.enable_lora()
        pipe.set_adapters(
            [model.adapters[lo.path] for lo in loras], adapter_weights=[lo.weight for lo in loras]
        )
    else:
        pipe.disable_lora()
