"""Choosing the device and dtype: CUDA first, then Apple MPS, then CPU."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from studio.core.memory_plan import DeviceInfo


@dataclass(frozen=True)
class Placement:
    device: str
    dtype: Any  # torch.dtype

    @property
    def dtype_name(self) -> str:
        return str(self.dtype).removeprefix("torch.")


def choose_placement(device: str = "auto", dtype: str = "auto") -> Placement:
    import torch

    if device == "auto":
        if torch.cuda.is_available():
            device = "cuda"
        elif getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
            device = "mps"
        else:
            device = "cpu"
    names = {"fp16": torch.float16, "bf16": torch.bfloat16, "fp32": torch.float32}
    if dtype == "auto":
        # Half precision where the device computes it fast; the VAE is guarded against fp16 NaNs separately.
        chosen = torch.float16 if device in ("cuda", "mps") else torch.float32
    else:
        chosen = names[dtype]
    return Placement(device, chosen)


def free_device_memory(device: str) -> None:
    import gc

    import torch

    gc.collect()
    if device == "cuda" and torch.cuda.is_available():
        torch.cuda.empty_cache()
    elif device == "mps" and hasattr(torch, "mps"):
        torch.mps.empty_cache()


def device_memory(device: str) -> tuple[int, int | None]:
    """(total, free) bytes on ``device``: GPU memory on CUDA/MPS, RAM on the CPU; free is None when unknown."""
    import torch

    from studio.core.memory_plan import system_memory

    try:
        if device.startswith("cuda") and torch.cuda.is_available():
            free, total = torch.cuda.mem_get_info()
            return int(total), int(free)
        if device == "mps" and hasattr(torch, "mps"):
            total = int(torch.mps.recommended_max_memory())
            return total, max(0, total - int(torch.mps.driver_allocated_memory()))
    except (RuntimeError, AttributeError):
        return 0, None
    total, free = system_memory()
    return total, free or None


def describe_device(device: str) -> str:
    import torch

    if device.startswith("cuda") and torch.cuda.is_available():
        return f"CUDA ({torch.cuda.get_device_name(0)})"
    return {"mps": "Apple MPS", "cpu": "CPU"}.get(device, device)


def device_info(device: str = "auto", dtype: str = "auto") -> DeviceInfo:
    """The chosen device in words, its memory and the dtype Studio will use on it."""
    placement = choose_placement(device, dtype)
    total, free = device_memory(placement.device)
    return DeviceInfo(placement.device, describe_device(placement.device), total, free, placement.dtype_name)
