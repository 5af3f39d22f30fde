"""How much memory a language model needs at each precision, and which quantization ("auto" or the writer's
choice) makes it fit: weights are parameters × bytes per parameter (int8 and int4 weight-only keep a scale per
channel or group; embeddings and norms stay in the compute precision), plus the KV cache and working memory."""

from __future__ import annotations

from dataclasses import dataclass
from math import prod
from pathlib import Path

from studio.core.io.safetensors_header import HeaderError, read_header
from studio.core.models.memory_plan import GB

QUANTIZE = ("auto", "none", "int8", "int4")
# bytes per parameter of a quantized linear layer, scales included (int4: a bf16 scale and zero per 32 weights)
QUANT_BYTES = {"int8": 1.0 + 4 / 1024, "int4": 0.5 + 4 / 32}
LINEAR_SHARE = (
    0.85  # of a transformer LM's parameters, in the linear layers that are quantized (the rest: embeddings)
)
WORK_GB = 0.5  # KV cache of a few thousand tokens, activations, the tokenizer, allocator slack
FIT = 0.85  # use at most this share of the memory that is free


def parameters_of(folder: Path) -> int:
    """The parameter count of a model folder, from its safetensors headers (no weights read); 0 when unknown."""
    total = 0
    for f in sorted(folder.glob("*.safetensors")):
        try:
            header = read_header(f)
        except HeaderError:
            return 0
        total += sum(prod(info["shape"]) for name, info in header.items() if name != "__metadata__")
    return total


def weights_bytes(params: int, mode: str, dtype_bytes: int) -> int:
    if mode not in QUANT_BYTES:
        return params * dtype_bytes
    return int(params * (LINEAR_SHARE * QUANT_BYTES[mode] + (1 - LINEAR_SHARE) * dtype_bytes))


@dataclass(frozen=True)
class QuantPlan:
    mode: str  # "none", "int8" or "int4"
    weights: int  # bytes the weights will take
    full: int  # bytes at full precision
    reason: str  # a sentence for the Loading line ("" when nothing needs saying)
    fits: bool = True


def plan(
    requested: str, params: int, dtype_bytes: int, available: int, can_quantize: bool = True
) -> QuantPlan:
    """The quantization to use: the writer's choice, or for "auto" the least that fits in ``available`` bytes."""
    full = weights_bytes(params, "none", dtype_bytes)
    budget = max(1, int(available * FIT - WORK_GB * GB)) if available else 0  # 0: unknown

    def make(mode: str, reason: str) -> QuantPlan:
        need = weights_bytes(params, mode, dtype_bytes)
        return QuantPlan(mode, need, full, reason, fits=not budget or need <= budget)

    if requested in ("none", "int8", "int4"):
        if requested != "none" and not can_quantize:
            return make("none", f"{requested} is not available on this device; loading at full precision.")
        return make(requested, "" if requested == "none" else _saving(requested, params, dtype_bytes))
    if not params or not budget or full <= budget or not can_quantize:
        return make("none", "")
    for mode in ("int8", "int4"):
        if weights_bytes(params, mode, dtype_bytes) <= budget:
            return make(
                mode,
                f"{size_text(full)} at full precision would not fit in the {size_text(available)} free, so "
                f"{_saving(mode, params, dtype_bytes)}",
            )
    return make(
        "int4",
        f"{size_text(full)} at full precision, {size_text(weights_bytes(params, 'int4', dtype_bytes))} even as int4: more "
        f"than the {size_text(available)} free. Close other programs or pick a smaller model.",
    )


def _saving(mode: str, params: int, dtype_bytes: int) -> str:
    return (
        f"{mode} weight-only: {size_text(weights_bytes(params, mode, dtype_bytes))} instead of "
        f"{size_text(weights_bytes(params, 'none', dtype_bytes))}"
    )


def size_text(n: int) -> str:
    return f"{n / GB:.1f} GB" if n >= 0.1 * GB else f"{n / 1024**2:.0f} MB"
