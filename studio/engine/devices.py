"""Choosing the device — CUDA first, then Apple MPS, then the CPU — and, through the precision policy
(``engine.precision``), the dtype of each component on it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from studio.core.models.memory_plan import DeviceInfo
from studio.engine.precision import Precision, choose_precision, choose_text_dtype


@dataclass(frozen=True)
class Placement:
    device: str
    dtype: Any  # torch.dtype: the main compute dtype (the UNet's; a text model's)
    precision: Precision | None = None  # each component's dtype; None: ``dtype`` everywhere

    @property
    def components(self) -> Precision:
        return self.precision or Precision(self.dtype, self.dtype, self.dtype)

    @property
    def dtype_name(self) -> str:
        """What an image's record says: one dtype, or each component's."""
        return self.components.name


def choose_device(device: str = "auto") -> str:
    import torch

    if device != "auto":
        return device
    if torch.cuda.is_available():
        return "cuda"
    if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
        return "mps"
    return "cpu"


def choose_placement(device: str = "auto", dtype: str = "auto") -> Placement:
    """The device and the precision policy's dtypes for it (``dtype``: the user's setting, "auto" or forced)."""
    device = choose_device(device)
    precision = choose_precision(device, dtype)
    return Placement(device, precision.unet, precision)


def choose_text_placement(device: str = "auto", dtype: str = "auto") -> Placement:
    """The device and dtype for a language model (the Writer, captioners)."""
    device = choose_device(device)
    return Placement(device, choose_text_dtype(device, dtype))


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

    from studio.core.models.memory_plan import system_memory

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
    if device == "cpu":
        from studio.engine.openvino_cache import openvino_missing
        from studio.engine.precision import cpu_caps

        if openvino_missing():
            return f"CPU ({cpu_caps().describe()})"
        from studio.engine.openvino_unet import openvino_version

        return f"CPU ({cpu_caps().describe()}; image models on OpenVINO {openvino_version()})"
    return {"mps": "Apple MPS"}.get(device, device)


def device_info(device: str = "auto", dtype: str = "auto") -> DeviceInfo:
    """The chosen device in words, its memory and the dtype Studio will use on it."""
    placement = choose_placement(device, dtype)
    total, free = device_memory(placement.device)
    return DeviceInfo(placement.device, describe_device(placement.device), total, free, placement.dtype_name)
