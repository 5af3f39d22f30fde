"""The precision policy, in one place: which dtype each component of a model runs in on the device at hand.

The processor is read at run time — machines of the same kind differ (some have AMX and AVX512-BF16, some only
AVX512-BF16, older ones neither) — and CUDA cards by their compute capability:

- CPU with bf16 instructions (AMX or AVX512-BF16): the UNet and the VAE in bf16 (measured here: a UNet step 2–3×
  faster, the VAE decode 2–4×), the text encoder in fp32 (it runs once per prompt, and prompt encodings are
  cached, so precision costs nothing). Latents and the sampler's arithmetic stay in fp32 — the UNet's inputs are
  cast at its door and its output cast back — so a bf16 model follows the fp32 one closely.
- CPU without them: fp32 everywhere (bf16 emulated in software is slower than fp32).
- CUDA from Ampere (compute capability 8) on: bf16; older cards: fp16 with the VAE's NaN guard. Apple MPS: fp16.
- Language models: fp32 on the CPU (decoding measured faster than bf16 here), bf16/fp16 on GPUs
  (``choose_text_dtype``).
- "Precision" in the Models room (or settings ``dtype``) forces one dtype everywhere: fp32, fp16 or bf16.

What was used is recorded with each image (``dtype`` in the ``studio`` chunk names every component).
"""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class CpuCaps:
    amx: bool
    avx512_bf16: bool
    physical_cores: int

    @property
    def bf16(self) -> bool:
        """bf16 matrix arithmetic in hardware (faster than fp32), not emulated."""
        return self.amx or self.avx512_bf16

    @property
    def kind(self) -> str:
        """ "amx", "avx512_bf16" or "f32" (no bf16 instructions): what Studio's choices on the CPU depend on."""
        return "amx" if self.amx else "avx512_bf16" if self.avx512_bf16 else "f32"

    def describe(self) -> str:
        kind = {"amx": "AMX", "avx512_bf16": "AVX512-BF16", "f32": "no bf16 instructions"}[self.kind]
        return f"{self.physical_cores} core{'s' if self.physical_cores != 1 else ''}, {kind}"


def _cpuinfo_flags() -> set[str]:
    try:
        text = Path("/proc/cpuinfo").read_text(errors="replace")
    except OSError:
        return set()
    for line in text.splitlines():
        if line.startswith("flags"):
            return set(line.split(":", 1)[1].split())
    return set()


def _physical_cores() -> int:
    """Cores this process may run on, hyper-threads counted once (Linux); else what the OS says."""
    try:
        allowed = os.sched_getaffinity(0)
    except AttributeError:
        return max(1, os.cpu_count() or 1)
    try:
        text = Path("/proc/cpuinfo").read_text(errors="replace")
    except OSError:
        return max(1, len(allowed))
    cores: set[tuple[str, str]] = set()
    processor = physical = core = ""
    for line in [*text.splitlines(), ""]:
        key, _, value = line.partition(":")
        key, value = key.strip(), value.strip()
        if key == "processor":
            processor = value
        elif key == "physical id":
            physical = value
        elif key == "core id":
            core = value
        elif not line.strip() and processor:
            if processor.isdigit() and int(processor) in allowed:
                cores.add((physical, core or processor))
            processor = physical = core = ""
    return max(1, len(cores) or len(allowed))


FORCE = "STUDIO_CPU_FEATURES"  # "avx2" (no bf16 instructions) or "avx512_bf16": measure a lesser path on a better CPU


@functools.cache
def cpu_caps() -> CpuCaps:
    """What this CPU can do, read at run time. ``STUDIO_CPU_FEATURES`` may take features away (never add them), so
    a benchmark can measure the path of a lesser CPU on this one."""
    import torch

    flags = _cpuinfo_flags()
    amx = "amx_bf16" in flags or "amx_tile" in flags
    avx512_bf16 = "avx512_bf16" in flags
    probe = getattr(torch, "cpu", None)
    if not flags and probe is not None:  # no /proc/cpuinfo (macOS, Windows): ask torch
        amx = bool(getattr(probe, "_is_amx_tile_supported", lambda: False)())
        avx512_bf16 = bool(getattr(probe, "_is_avx512_bf16_supported", lambda: False)())
    forced = os.environ.get(FORCE, "").strip().lower()
    if forced in ("avx2", "none"):
        amx = avx512_bf16 = False
    elif forced == "avx512_bf16":
        amx = False
    return CpuCaps(amx, avx512_bf16, _physical_cores())


@dataclass(frozen=True)
class Precision:
    """The dtype of each component (torch dtypes), and whether the UNet and VAE keep their tensors channels-last
    (NHWC: oneDNN's and cuDNN's fast layout for convolutions in half precision; measured here with bf16 on the
    CPU: a further 1.2× for the UNet, 2.3× for the VAE decode; no gain in fp32)."""

    unet: Any
    vae: Any
    text: Any
    channels_last: bool = False

    @property
    def name(self) -> str:
        """As the image's record says it: one dtype, or each component's."""
        names = {_name(self.unet), _name(self.vae), _name(self.text)}
        if len(names) == 1:
            return names.pop()
        return f"unet {_name(self.unet)}, vae {_name(self.vae)}, text encoder {_name(self.text)}"

    def as_dict(self) -> dict[str, Any]:
        """For ``from_pretrained(dtype=…)``: each component's dtype (the rest: the text encoders')."""
        return {"unet": self.unet, "vae": self.vae, "default": self.text}


def _name(dtype: Any) -> str:
    return str(dtype).removeprefix("torch.")


def choose_precision(device: str, setting: str = "auto") -> Precision:
    """The precision for ``device`` ("cpu", "cuda", "mps") under the user's setting ("auto", "fp32", …)."""
    import torch

    names = {"fp16": torch.float16, "bf16": torch.bfloat16, "fp32": torch.float32}
    if setting in names:
        d = names[setting]
        fast_layout = device == "cuda" or (device == "cpu" and d == torch.bfloat16 and cpu_caps().bf16)
        return Precision(d, d, d, channels_last=fast_layout)
    if device == "cuda":
        major = torch.cuda.get_device_capability()[0] if torch.cuda.is_available() else 0
        half = torch.bfloat16 if major >= 8 else torch.float16
        return Precision(half, half, half, channels_last=True)
    if device == "mps":
        return Precision(torch.float16, torch.float16, torch.float16)
    if cpu_caps().bf16:
        return Precision(torch.bfloat16, torch.bfloat16, torch.float32, channels_last=True)
    return Precision(torch.float32, torch.float32, torch.float32)


def choose_text_dtype(device: str, setting: str = "auto") -> Any:
    """The dtype of a language model. On the CPU fp32 even with bf16 instructions: token-by-token decoding is
    matrix-vector work, and bf16 was slower here (a 336 M-parameter GPT-2: 12.3 vs 15.9 tokens/s; the Storyteller:
    405 vs 538). On CUDA bf16 from Ampere on, else fp16; on MPS fp16."""
    import torch

    names = {"fp16": torch.float16, "bf16": torch.bfloat16, "fp32": torch.float32}
    if setting in names:
        return names[setting]
    if device == "cuda":
        major = torch.cuda.get_device_capability()[0] if torch.cuda.is_available() else 0
        return torch.bfloat16 if major >= 8 else torch.float16
    if device == "mps":
        return torch.float16
    return torch.float32


def use_physical_cores() -> int:
    """One compute thread per physical core (hyper-threads slow matrix work down)."""
    import torch

    n = cpu_caps().physical_cores
    if torch.get_num_threads() != n:
        torch.set_num_threads(n)
    return n


# -- a module whose weights are in another dtype than the tensors around it -----------------------------------
def _cast(value: Any, dtype: Any, channels_last: bool = False) -> Any:
    import torch

    if isinstance(value, torch.Tensor) and value.is_floating_point():
        if value.dtype != dtype:
            value = value.to(dtype)
        if channels_last and value.dim() == 4:
            value = value.contiguous(memory_format=torch.channels_last)
    return value


_KEEP = {"timestep", "timesteps", "time_ids", "timestep_cond"}  # kept in full precision: small, exact numbers


def _module_dtype(module: Any) -> Any:
    for p in module.parameters():
        return p.dtype
    return None


def door(module: Any, out: Any) -> None:
    """Let ``module`` run in its own dtype while the tensors around it are ``out``: its floating inputs are cast
    to the module's dtype on the way in (timesteps and SDXL's size conditioning excepted) and its output to
    ``out`` on the way out. The module's dtype is read at each call, so a later ``.to(float32)`` (the fp16 VAE
    guard) needs nothing more. Idempotent."""
    if getattr(module, "_studio_door", None) == out:
        return
    for handle in getattr(module, "_studio_handles", ()):
        handle.remove()

    def pre(m: Any, args: tuple, kwargs: dict) -> tuple[tuple, dict]:
        compute = _module_dtype(m)
        if compute is None:
            return args, kwargs
        nhwc = getattr(m, "_studio_channels_last", False)
        args = tuple(_cast(a, compute, nhwc) for a in args)
        new = {}
        for k, v in kwargs.items():
            if k in _KEEP:
                new[k] = v
            elif isinstance(v, dict):
                new[k] = {kk: (vv if kk in _KEEP else _cast(vv, compute)) for kk, vv in v.items()}
            elif isinstance(v, list | tuple):
                new[k] = type(v)(_cast(x, compute, nhwc) for x in v)
            else:
                new[k] = _cast(v, compute, nhwc)
        return args, new

    def post(_m: Any, _args: tuple, _kwargs: dict, output: Any) -> Any:
        if isinstance(output, tuple):
            return tuple(_cast(o, out) for o in output)
        if hasattr(output, "sample"):
            output.sample = _cast(output.sample, out)
            return output
        return _cast(output, out)

    module._studio_handles = (
        module.register_forward_pre_hook(pre, with_kwargs=True),
        module.register_forward_hook(post, with_kwargs=True),
    )
    module._studio_door = out


VAE_PARTS = ("encoder", "decoder", "quant_conv", "post_quant_conv")


def apply_precision(pipe: Any, precision: Precision) -> None:
    """Put each component of a pipeline in its dtype; where the UNet or VAE differ from the text encoder's dtype
    (which the prompt embeddings and so the latents follow), give them a door."""
    latents = precision.text
    for name in ("text_encoder", "text_encoder_2"):
        if (m := getattr(pipe, name, None)) is not None and _module_dtype(m) != precision.text:
            m.to(precision.text)
    if _module_dtype(pipe.unet) != precision.unet:
        pipe.unet.to(precision.unet)
    if _module_dtype(pipe.vae) != precision.vae:
        pipe.vae.to(precision.vae)
    if precision.channels_last:
        import torch

        for m in (pipe.unet, pipe.vae):
            m.to(memory_format=torch.channels_last)
    pipe.unet._studio_channels_last = precision.channels_last
    for part in VAE_PARTS:
        if (m := getattr(pipe.vae, part, None)) is not None:
            m._studio_channels_last = precision.channels_last
    if precision.unet != latents or precision.channels_last:
        door(pipe.unet, latents)
    if precision.vae != latents or precision.channels_last:
        for part in VAE_PARTS:
            if (m := getattr(pipe.vae, part, None)) is not None:
                door(m, latents)
