"""Weight-only quantization of a language model's linear layers, for models that would not fit otherwise (or
when the writer asks): int8 (a scale per output channel) and int4 (a scale and zero per group of 32 weights).

On the CPU the layers run on PyTorch's packed weight-only kernels — ``_weight_int8pack_mm`` and
``_weight_int4pack_mm_for_cpu``, the kernels torchao's CPU layouts dispatch to — with bf16 activations where the
processor has bf16 instructions (measured here on a 123 M-parameter Qwen2: int8 1.6×, int4 2.5× the tokens/s of
fp32). Without bf16 instructions int8 goes through torchao's dynamic int8 config (int8 matmuls; fp32 speed at a
quarter of the memory) and int4 through the int4 kernel, which casts to bf16 itself. On CUDA, bitsandbytes
quantizes while loading (``bnb_config``). The output embedding (lm_head) stays in the compute precision: it
decides every token's probability.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

GROUP = 32  # int4 weights per scale/zero pair


@dataclass(frozen=True)
class Quantized:
    mode: str
    layers: int  # linear layers quantized
    skipped: int  # linear layers left as they were (shapes the kernels do not take)
    bytes_before: int
    bytes_after: int


def _weight_of(module: Any) -> torch.Tensor | None:
    """The (out, in) weight of a linear layer: nn.Linear, or transformers' Conv1D (GPT-2), stored (in, out)."""
    if isinstance(module, torch.nn.Linear):
        return module.weight.detach()
    if type(module).__name__ == "Conv1D" and getattr(module, "weight", None) is not None:
        return module.weight.detach().t()
    return None


class Int8Linear(torch.nn.Module):
    """y = x · (q · scale)ᵀ + b with q int8 per output channel."""

    q: torch.Tensor
    scale: torch.Tensor

    def __init__(self, weight: torch.Tensor, bias: torch.Tensor | None, compute: torch.dtype):
        super().__init__()
        w = weight.float()
        scale = (w.abs().amax(dim=1) / 127).clamp(min=1e-10)
        self.register_buffer(
            "q", torch.round(w / scale[:, None]).clamp(-128, 127).to(torch.int8).contiguous()
        )
        self.register_buffer("scale", scale.to(compute))
        self.bias = (
            None if bias is None else torch.nn.Parameter(bias.detach().to(compute), requires_grad=False)
        )
        self.out_features = w.shape[0]
        self.compute = compute

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shape, dtype = x.shape, x.dtype
        flat = x.reshape(-1, shape[-1]).to(self.compute)
        y = torch._weight_int8pack_mm(flat, self.q, self.scale)
        if self.bias is not None:
            y = y + self.bias
        return y.reshape(*shape[:-1], self.out_features).to(dtype)


class Int4Linear(torch.nn.Module):
    """Asymmetric int4 in groups of 32 along the input, packed for the CPU kernel (bf16 activations)."""

    packed: torch.Tensor
    scale_zero: torch.Tensor

    def __init__(self, weight: torch.Tensor, bias: torch.Tensor | None, group: int = GROUP):
        super().__init__()
        w = weight.float()
        n, k = w.shape
        groups = w.reshape(n, k // group, group)
        low, high = groups.amin(-1), groups.amax(-1)
        scale = ((high - low) / 15).clamp(min=1e-10)
        q = (
            torch.round((groups - low[..., None]) / scale[..., None])
            .clamp(0, 15)
            .to(torch.int32)
            .reshape(n, k)
        )
        # the kernel computes (q - 8) · scale + zero, so zero is the group's value at q = 8
        zero = low + 8 * scale
        self.register_buffer("packed", torch._convert_weight_to_int4pack_for_cpu(q, 8))
        self.register_buffer(
            "scale_zero", torch.stack([scale, zero], dim=-1).transpose(0, 1).contiguous().to(torch.bfloat16)
        )
        self.bias = None if bias is None else torch.nn.Parameter(bias.detach().float(), requires_grad=False)
        self.out_features, self.group = n, group

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shape, dtype = x.shape, x.dtype
        flat = x.reshape(-1, shape[-1]).to(torch.bfloat16)
        y = torch._weight_int4pack_mm_for_cpu(flat, self.packed, self.group, self.scale_zero).to(dtype)
        if self.bias is not None:
            y = y + self.bias.to(dtype)
        return y.reshape(*shape[:-1], self.out_features)


def release_freed_memory() -> None:
    """Hand the memory of the replaced full-precision weights back to the system (glibc keeps freed blocks in
    its arenas otherwise: measured here, 1.3 GB resident for 0.4 GB of int8 model)."""
    import contextlib
    import ctypes
    import sys

    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):  # not glibc (musl): nothing to do
            ctypes.CDLL("libc.so.6").malloc_trim(0)


def cpu_kernels() -> dict[str, bool]:
    return {
        "int8": hasattr(torch, "_weight_int8pack_mm"),
        "int4": hasattr(torch, "_weight_int4pack_mm_for_cpu")
        and hasattr(torch, "_convert_weight_to_int4pack_for_cpu"),
    }


def can_quantize(device: str) -> bool:
    if device == "cuda":
        try:
            import bitsandbytes  # noqa: F401
        except ImportError:
            return False
        return True
    return device == "cpu" and any(cpu_kernels().values())


def _tensor_bytes(t: torch.Tensor) -> int:
    """What a tensor holds in memory: a quantized tensor subclass (torchao's) by its inner tensors."""
    flatten = getattr(type(t), "__tensor_flatten__", None)
    if flatten is not None:
        names, _ = t.__tensor_flatten__()  # type: ignore[attr-defined]
        return sum(_tensor_bytes(getattr(t, n)) for n in names)
    return t.numel() * t.element_size()


def model_bytes(model: torch.nn.Module) -> int:
    tensors = {id(t): t for t in (*model.parameters(), *model.buffers())}
    return sum(_tensor_bytes(t) for t in tensors.values())


def quantize_cpu(model: torch.nn.Module, mode: str, bf16: bool) -> Quantized:
    """Replace the linear layers (not the output embedding) in place. ``bf16``: the CPU has bf16 instructions."""
    before = model_bytes(model)
    get_output = getattr(model, "get_output_embeddings", None)
    output = get_output() if callable(get_output) else None
    if mode == "int8" and not bf16:
        try:
            return _torchao_dynamic_int8(model, output, before)
        except (
            ImportError
        ):  # torchao not installed: the packed kernel with fp32 activations (slower, same memory)
            pass
    if not cpu_kernels()[mode]:
        raise RuntimeError(f"this PyTorch ({torch.__version__}) has no {mode} weight-only CPU kernel")
    compute = torch.bfloat16 if bf16 else torch.float32
    done = skipped = 0
    # names, not modules: a list of the modules would keep every replaced layer's weights alive to the end
    names = [n for n, m in model.named_modules() if _weight_of(m) is not None and m is not output]
    for qualified in names:
        parent_name, _, name = qualified.rpartition(".")
        parent = model.get_submodule(parent_name)
        weight = _weight_of(getattr(parent, name))
        assert weight is not None
        n, k = weight.shape
        if mode == "int4" and (k % GROUP or n % 8):
            skipped += 1
            continue
        bias = getattr(getattr(parent, name), "bias", None)
        layer = Int8Linear(weight, bias, compute) if mode == "int8" else Int4Linear(weight, bias)
        del weight, bias
        setattr(parent, name, layer)  # the old layer (and its full-precision weight) goes now
        done += 1
    release_freed_memory()
    return Quantized(mode, done, skipped, before, model_bytes(model))


def _torchao_dynamic_int8(model: torch.nn.Module, output: Any, before: int) -> Quantized:
    from torchao.quantization import Int8DynamicActivationInt8WeightConfig, quantize_

    for qualified in [n for n, m in model.named_modules() if type(m).__name__ == "Conv1D"]:
        parent_name, _, name = qualified.rpartition(".")
        parent, conv = model.get_submodule(parent_name), model.get_submodule(qualified)
        weight = _weight_of(conv)
        assert weight is not None
        linear = torch.nn.Linear(
            weight.shape[1], weight.shape[0], bias=conv.bias is not None, dtype=weight.dtype
        )
        with torch.no_grad():
            linear.weight.copy_(weight)
            if isinstance(conv.bias, torch.Tensor):
                linear.bias.copy_(conv.bias)
        setattr(parent, name, linear)  # GPT-2's Conv1D as the Linear torchao quantizes
    count = [0]

    def wanted(module: torch.nn.Module, _fqn: str) -> bool:
        ok = isinstance(module, torch.nn.Linear) and module is not output
        count[0] += ok
        return ok

    quantize_(model, Int8DynamicActivationInt8WeightConfig(), filter_fn=wanted)
    return Quantized("int8", count[0], 0, before, model_bytes(model))


def bnb_config(mode: str, compute: torch.dtype) -> Any:
    """transformers' bitsandbytes config for loading on CUDA (8-bit LLM.int8, or 4-bit NF4)."""
    from transformers import BitsAndBytesConfig

    if mode == "int8":
        return BitsAndBytesConfig(load_in_8bit=True)
    return BitsAndBytesConfig(load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_compute_dtype=compute)
