"""The kinds of adapter Studio trains and loads — LoRA, DoRA, LoHa and LoKr — as peft makes them, and the LyCORIS
layout the other tools read (``lora_unet_<module>.hada_w1_a`` / ``.lokr_w1`` / ``.alpha``: the keys kohya's
sd-scripts, the LyCORIS library, AUTOMATIC1111/Forge and ComfyUI share).

LoRA and DoRA files are written as diffusers loads them (and, on request, a kohya copy); LoHa and LoKr files only in
the LyCORIS layout, which diffusers cannot load — Studio reads them itself (``apply_lycoris``), its own and other
tools' alike: each layer's tensors say its kind, rank and scale.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

ALGOS = ("lora", "dora", "loha", "lokr")
LYCORIS_ALGOS = ("loha", "lokr")
_LOHA = ("hada_w1_a", "hada_w1_b", "hada_w2_a", "hada_w2_b")
_LOKR = ("lokr_w1", "lokr_w1_a", "lokr_w1_b", "lokr_w2", "lokr_w2_a", "lokr_w2_b")
PARTS = {"unet": "lora_unet_", "text_encoder": "lora_te_", "text_encoder_2": "lora_te2_"}
_PREFIX = re.compile(r"^(lora_unet_|lora_te1_|lora_te2_|lora_te_)([A-Za-z0-9_]+)\.([a-z0-9_]+)$")


def adapter_config(algo: str, rank: int, alpha: float, targets: list[str]) -> Any:
    """The peft configuration of a new adapter of this kind (the trainer's)."""
    from peft import LoHaConfig, LoKrConfig, LoraConfig

    if algo == "loha":
        return LoHaConfig(r=rank, alpha=alpha, target_modules=targets, init_weights=True)  # type: ignore[arg-type]  # a float alpha works: peft divides it by r
    if algo == "lokr":  # the LyCORIS defaults: the most square factorization, the smaller factor kept whole
        return LoKrConfig(r=rank, alpha=alpha, target_modules=targets, init_weights=True)  # type: ignore[arg-type]
    return LoraConfig(r=rank, lora_alpha=int(alpha), init_lora_weights="gaussian", target_modules=targets,
                      use_dora=algo == "dora")  # fmt: skip


# -- writing: peft's state → the LyCORIS layout --------------------------------------------------------------------
def to_lycoris(state: dict[str, dict[str, Any]], algo: str, rank: int, alpha: float) -> dict[str, Any]:
    """The LyCORIS file's tensors for a trained LoHa/LoKr ({"unet": peft state, "text_encoder": …}). Every LyCORIS
    reader scales a layer by its alpha over its inner dimension (by 1 when a LoKr layer has no low-rank factor); the
    file bakes peft's scale (alpha / r) into the first factor and gives alpha = that dimension, so that every reader,
    Studio included, computes exactly what was trained."""
    import torch

    out: dict[str, Any] = {}
    for part, sd in state.items():
        layers: dict[str, dict[str, Any]] = {}
        for key, value in sd.items():
            module, _, name = key.rpartition(".")
            layers.setdefault(module, {})[name] = value
        for module, tensors in layers.items():
            base = PARTS[part] + module.replace(".", "_")
            scale = alpha / rank
            inner = _inner_dim(tensors)
            first = (
                "hada_w1_a" if algo == "loha" else next(n for n in ("lokr_w1", "lokr_w1_a") if n in tensors)
            )
            for name, value in tensors.items():
                v = value.detach().float().cpu()
                out[f"{base}.{name}"] = (v * scale if name == first else v).contiguous()
            out[f"{base}.alpha"] = torch.tensor(float(inner if inner else 1))
    return out


def _inner_dim(tensors: dict[str, Any]) -> int | None:
    """The rank a reader divides alpha by: LoHa's, or a LoKr's low-rank factor's (None: whole factors, scale 1)."""
    if "hada_w1_b" in tensors:
        return int(tensors["hada_w1_b"].shape[0])
    for name in ("lokr_w1_b", "lokr_w2_b"):
        if name in tensors:
            return int(tensors[name].shape[0])
    return None


# -- reading: a LyCORIS file → peft adapters on a pipeline ---------------------------------------------------------
def lycoris_kind(keys: Iterable[str]) -> str | None:
    """ "loha" or "lokr" when a file's tensors are LyCORIS ones of that kind (LoRA, DoRA and others: None)."""
    names = {k.rpartition(".")[2] for k in keys}
    if names & set(_LOHA):
        return "loha"
    if names & set(_LOKR):
        return "lokr"
    return None


def is_lycoris(path: Path) -> bool:
    """Whether a .safetensors adapter is a LoHa or LoKr (read from its header: no weights loaded)."""
    from studio.core.io.safetensors_header import HeaderError, read_header

    try:
        return lycoris_kind(k for k in read_header(path) if k != "__metadata__") is not None
    except (HeaderError, OSError):
        return False


class LycorisLayers:
    """A LyCORIS file's layers by pipeline part and module path: {part: {module: {tensor name: tensor}}}, its
    alphas, and the names it has that no module of this model carries."""

    def __init__(self, tensors: dict[str, Any], modules: dict[str, list[str]]):
        self.layers: dict[str, dict[str, dict[str, Any]]] = {}
        self.alphas: dict[str, dict[str, float]] = {}
        self.unmatched: list[str] = []
        lookup = {part: {m.replace(".", "_"): m for m in names} for part, names in modules.items()}
        for key, value in tensors.items():
            m = _PREFIX.match(key)
            if not m:
                self.unmatched.append(key)
                continue
            prefix, flat, name = m.groups()
            part = {"lora_unet_": "unet", "lora_te2_": "text_encoder_2"}.get(prefix, "text_encoder")
            module = lookup.get(part, {}).get(flat)
            if module is None:
                self.unmatched.append(key)
                continue
            if name == "alpha":
                self.alphas.setdefault(part, {})[module] = float(value)
            elif name in _LOHA or name in _LOKR:
                self.layers.setdefault(part, {}).setdefault(module, {})[name] = value
            else:
                self.unmatched.append(key)


def _layer_rank(kind: str, tensors: dict[str, Any]) -> int:
    inner = _inner_dim(tensors)
    if inner:
        return inner
    w1, w2 = tensors.get("lokr_w1"), tensors.get("lokr_w2")  # whole factors: a rank that keeps both whole
    return max(1, *(w1.shape if w1 is not None else ()), *(w2.shape if w2 is not None else ()))


def _w1_shape(tensors: dict[str, Any]) -> tuple[int, int]:
    w1 = tensors.get("lokr_w1")
    if w1 is not None:
        return int(w1.shape[0]), int(w1.shape[1])
    return int(tensors["lokr_w1_a"].shape[0]), int(tensors["lokr_w1_b"].shape[1])


def _w2_shape(tensors: dict[str, Any]) -> tuple[int, int]:
    w2 = tensors.get("lokr_w2")
    if w2 is not None:
        return int(w2.shape[0]), int(w2.shape[1])
    return int(tensors["lokr_w2_a"].shape[0]), int(tensors["lokr_w2_b"].shape[1])


def _factor(layers: dict[str, dict[str, Any]]) -> int:
    """peft's decompose_factor that splits every LoKr layer as the file does: -1 (the most square split, LyCORIS'
    default) when it does, else the one factor that does; ``ValueError`` when no single factor does."""
    from peft.tuners.lokr.layer import factorization

    shapes = [(_w1_shape(t), _w2_shape(t)) for t in layers.values()]
    for factor in (-1, *sorted({w1[0] for w1, _ in shapes})):
        if all(factorization(w1[0] * w2[0], factor)[0] == w1[0] and factorization(w1[1] * w2[1], factor)[0] == w1[1]
               for w1, w2 in shapes):  # fmt: skip
            return factor
    raise ValueError("its LoKr layers are split in ways no single factor gives")


def layer_config(kind: str, layers: dict[str, dict[str, Any]], alphas: dict[str, float]) -> Any:
    """A peft config that makes exactly the file's layers: the rank and alpha of each (rank_pattern, alpha_pattern),
    LoKr's factors as the file has them."""
    from peft import LoHaConfig, LoKrConfig

    ranks = {m: _layer_rank(kind, t) for m, t in layers.items()}
    alpha = {
        m: alphas.get(m, float(ranks[m])) if _inner_dim(t) else float(ranks[m]) for m, t in layers.items()
    }
    targets = [re.escape(m) for m in layers]
    first = next(iter(ranks))
    common: dict[str, Any] = dict(r=ranks[first], alpha=alpha[first], rank_pattern=ranks, alpha_pattern=alpha,
                                  target_modules="^(" + "|".join(targets) + ")$")  # fmt: skip
    if kind == "loha":
        return LoHaConfig(**common)
    return LoKrConfig(**common, decompose_both="lokr_w1_a" in layers[first], decompose_factor=_factor(layers))


def lycoris_modules(pipe: Any) -> dict[str, Any]:
    """The pipeline's parts a LyCORIS file can change, by part name."""
    return {p: getattr(pipe, p) for p in PARTS if getattr(pipe, p, None) is not None}


def read_lycoris(path: Path, pipe: Any) -> tuple[str, LycorisLayers]:
    """(kind, layers) of a LyCORIS file for this pipeline; ``ValueError`` (a sentence) when it cannot apply."""
    from safetensors.torch import load_file

    tensors = load_file(str(path))
    kind = lycoris_kind(tensors)
    if kind is None:
        raise ValueError("it holds no LoHa or LoKr layers")
    tensors = _sgm_names(tensors, pipe)
    parts = lycoris_modules(pipe)
    layers = LycorisLayers(tensors, {p: [n for n, _ in m.named_modules()] for p, m in parts.items()})
    if not layers.layers:
        raise ValueError(
            f"none of its {len(tensors)} layers match this model's (a file for another base model)"
        )
    if layers.unmatched:
        shown = ", ".join(layers.unmatched[:3])
        raise ValueError(f"{len(layers.unmatched)} of its tensors match no layer of this model ({shown}…)")
    return kind, layers


def _sgm_names(tensors: dict[str, Any], pipe: Any) -> dict[str, Any]:
    """SDXL files named after the original checkpoint's blocks (input_blocks_4_1…) renamed as diffusers' modules."""
    if not any(
        k.startswith("lora_unet_input_blocks") or k.startswith("lora_unet_middle_block") for k in tensors
    ):
        return tensors
    from diffusers.loaders.lora_conversion_utils import _maybe_map_sgm_blocks_to_diffusers

    return dict(_maybe_map_sgm_blocks_to_diffusers(tensors, pipe.unet.config))


def apply_lycoris(path: Path, pipe: Any, adapter_name: str) -> str:
    """Load a LoHa/LoKr file into the pipeline as the named adapter (peft layers, switched and weighted like every
    other LoRA by ``pipe.set_adapters``). Returns its kind; ``ValueError`` when it does not fit."""
    from peft.utils import set_peft_model_state_dict

    kind, found = read_lycoris(path, pipe)
    parts = lycoris_modules(pipe)
    for part, layers in found.layers.items():
        config = layer_config(kind, layers, found.alphas.get(part, {}))
        model = parts[part]
        if part == "unet":
            model.add_adapter(config, adapter_name=adapter_name)
        else:  # as diffusers loads a text encoder's LoRA: peft's own injection (transformers' wants a newer peft)
            from peft import inject_adapter_in_model

            inject_adapter_in_model(config, model, adapter_name=adapter_name)
        state = {f"{m}.{n}": t for m, tensors in layers.items() for n, t in tensors.items()}
        want = {k.replace(f".{adapter_name}", ""): v.shape for k, v in model.state_dict().items()
                if f".{adapter_name}" in k and any(p in k for p in (*_LOHA, *_LOKR))}  # fmt: skip
        wrong = [k for k, t in state.items() if k in want and tuple(want[k]) != tuple(t.shape)]
        missing = [k for k in state if k not in want]
        if wrong or missing:
            bad = (wrong or missing)[0]
            raise ValueError(f"its layer {bad} has a shape Studio's {kind} layers cannot take")
        dtype = next(model.parameters()).dtype
        set_peft_model_state_dict(
            model, {k: v.to(dtype) for k, v in state.items()}, adapter_name=adapter_name
        )
    return kind


def lycoris_metadata(algo: str) -> dict[str, str]:
    """The kohya keys that tell A1111/Forge and the LyCORIS library which network a file is."""
    import json

    if algo not in LYCORIS_ALGOS:
        return {}
    return {"ss_network_module": "lycoris.kohya", "ss_network_args": json.dumps({"algo": algo})}
