"""How much memory a model needs, and which savings ("auto", or the user's choice) make it fit.

Rough, deliberately simple figures (diffusers' own guidance, scaled by pixels and batch; PyTorch's SDPA
attention): weights are parameters × bytes per parameter; generating needs UNet working memory and a VAE decode
that both grow with the picture; attention slicing halves the first, VAE tiling caps the second, model CPU
offload keeps only the component at work on the GPU.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

GB = 1024**3
# parameters of the whole pipeline (UNet + VAE + text encoders) and of its largest component (the UNet)
FAMILY_PARAMS = {
    "sd1": (1.066e9, 0.860e9),
    "sd2": (1.290e9, 0.866e9),
    "sdxl": (3.470e9, 2.567e9),
    "sdxl-refiner": (2.390e9, 2.300e9),
    "sd3": (7.690e9, 2.030e9),
    "flux": (16.9e9, 11.9e9),
}
NATIVE_SIZE = {"sd1": 512, "sd2": 768, "sdxl": 1024, "sdxl-refiner": 1024, "sd3": 1024, "flux": 1024}
UNET_GB_PER_MP = 1.6  # per megapixel per image, half precision, classifier-free guidance included
VAE_GB_PER_MP = 3.2  # the full-size VAE decode of one image, half precision
VAE_TILED_GB = 0.6
OVERHEAD_GB = 0.4  # CUDA context, allocator slack
CHOICES = ("auto", "on", "off")


@dataclass(frozen=True)
class DeviceInfo:
    device: str  # "cuda" | "mps" | "cpu"
    name: str  # in words: "CUDA (NVIDIA H200)", "CPU"
    total: int
    free: int | None
    dtype: str  # what "auto" (or the setting) chose: "float16", "float32", …

    @property
    def dtype_bytes(self) -> int:
        return 2 if self.dtype in ("float16", "bfloat16") else 4


@dataclass(frozen=True)
class MemoryEstimate:
    weights: int  # bytes
    unet_work: int
    vae_decode: int
    largest_component: int

    @property
    def total(self) -> int:
        return self.weights + self.unet_work + self.vae_decode + int(OVERHEAD_GB * GB)


@dataclass(frozen=True)
class MemoryOptions:
    attention_slicing: bool = False
    vae_tiling: bool = False
    cpu_offload: bool = False
    needed: int = 0  # bytes, with these options
    free: int | None = None  # bytes free on the device when planned
    fits: bool = True

    def describe(self) -> str:
        used = [
            name
            for name, on in (
                ("attention slicing", self.attention_slicing),
                ("VAE tiling", self.vae_tiling),
                ("model CPU offload", self.cpu_offload),
            )
            if on
        ]
        text = f"needs about {gb(self.needed)}"
        if self.free is not None:
            text += f" of {gb(self.free)} free"
        text += "; " + (", ".join(used) if used else "no memory savings needed")
        return text if self.fits else text + " — it may not fit: lower the size or batch, or choose fp16"


def will_not_fit(family: str, device: str, dtype_bytes: int, total: int, weights_on_disk: int) -> str:
    """'' when a model can be tried on this device; else why it cannot fit even with every saving, and what would.
    Only for the big families (SD 3.x, FLUX.1), whose weights alone can exceed a whole machine — trying would
    swap the computer to a halt or be killed, not fail with a message."""
    if family not in ("sd3", "flux") or total <= 0:
        return ""
    params, largest = FAMILY_PARAMS[family]
    weights = params * dtype_bytes if weights_on_disk > params * dtype_bytes / 8 else weights_on_disk
    label = {"sd3": "SD 3.x", "flux": "FLUX.1"}[family]
    if device == "cuda":
        need = min(weights, largest * dtype_bytes) + 2 * GB  # model CPU offload: the transformer at a time
        where = f"{gb(total)} of GPU memory"
        better = (f"a GPU with at least {gb(need)} (model CPU offload moves the rest to RAM), or an 8-bit/GGUF "
                  f"version of the transformer")  # fmt: skip
    else:
        need = weights + 2 * GB
        where = f"{gb(total)} of {'unified memory' if device == 'mps' else 'RAM'}"
        better = f"a machine with at least {gb(need)}, or a GPU"
    if need <= total:
        return ""
    other = "SD 3.5 Medium or SDXL" if family == "flux" else "SDXL"
    return (
        f"{label} will not fit here: its weights alone are about {gb(weights)} and it needs about {gb(need)}, "
        f"but this device has {where}. What would: {better}; or a smaller family ({other})."
    )


def gb(n: float) -> str:
    """A size in GB — or in MB below half a gigabyte (a 12 MB model is not "0.0 GB")."""
    return f"{n / GB:.1f} GB" if n >= GB / 2 else f"{max(1, round(n / 1024**2))} MB"


def estimate(
    family: str,
    dtype_bytes: int = 2,
    width: int | None = None,
    height: int | None = None,
    batch: int = 1,
    weights_bytes: int | None = None,
) -> MemoryEstimate:
    params, largest = FAMILY_PARAMS.get(family, (0.0, 0.0))
    native = NATIVE_SIZE.get(family, 512)
    mp = (width or native) * (height or native) / 1e6
    scale = dtype_bytes / 2
    weights = weights_bytes if weights_bytes is not None and not params else int(params * dtype_bytes)
    share = largest / params if params else 0.75
    return MemoryEstimate(
        weights,
        int(UNET_GB_PER_MP * mp * batch * scale * GB),
        int(VAE_GB_PER_MP * mp * batch * scale * GB),
        int(weights * share),
    )


def estimate_for_files(
    family: str,
    dtype_bytes: int,
    size_on_disk: int,
    width: int | None = None,
    height: int | None = None,
    batch: int = 1,
) -> MemoryEstimate:
    """The estimate for a model on disk: by its family's published size, unless the files show a much smaller
    model in that layout (a demo or test model), which is then measured by its files."""
    est = estimate(family, dtype_bytes, width, height, batch)
    if not est.weights or size_on_disk < est.weights // 8:
        scale = max(size_on_disk, 1) / 1e9
        est = estimate("", dtype_bytes, width, height, batch, weights_bytes=size_on_disk)
        est = MemoryEstimate(
            est.weights,
            int(est.unet_work * min(1.0, scale)),
            int(est.vae_decode * min(1.0, scale)),
            est.largest_component,
        )
    return est


def _needed(est: MemoryEstimate, slicing: bool, tiling: bool, offload: bool) -> int:
    unet = est.unet_work // 2 if slicing else est.unet_work
    vae = min(est.vae_decode, int(VAE_TILED_GB * GB)) if tiling else est.vae_decode
    if offload:  # one component on the GPU at a time: the UNet while denoising, the VAE while decoding
        return max(est.largest_component + unet, int(0.2 * GB) + vae) + int(OVERHEAD_GB * GB)
    return est.weights + unet + vae + int(OVERHEAD_GB * GB)


def choose(
    est: MemoryEstimate,
    device: str,
    free: int | None,
    *,
    attention_slicing: str = "auto",
    vae_tiling: str = "auto",
    cpu_offload: str = "auto",
) -> MemoryOptions:
    """The options to use: the user's "on"/"off" where given; for "auto", the fewest savings that fit ``free``."""
    forced = {"slicing": attention_slicing, "tiling": vae_tiling, "offload": cpu_offload}
    if device != "cuda":
        forced["offload"] = "off"  # accelerate's model offload moves modules to and from a CUDA device
    ladder = [(False, False, False), (False, True, False), (True, True, False), (True, True, True)]
    candidates = []
    for slicing, tiling, offload in ladder:
        want = {"slicing": slicing, "tiling": tiling, "offload": offload}
        chosen = {k: (forced[k] == "on") if forced[k] in ("on", "off") else want[k] for k in want}
        candidates.append((chosen["slicing"], chosen["tiling"], chosen["offload"]))
    for slicing, tiling, offload in candidates:
        needed = _needed(est, slicing, tiling, offload)
        if free is None or needed * 1.1 <= free:
            return MemoryOptions(slicing, tiling, offload, needed, free, True)
    slicing, tiling, offload = candidates[-1]
    return MemoryOptions(slicing, tiling, offload, _needed(est, slicing, tiling, offload), free, False)


def system_memory() -> tuple[int, int]:
    """(total, available) bytes of RAM, without third-party packages; (0, 0) when unknown."""
    try:
        info = {}
        for line in Path("/proc/meminfo").read_text().splitlines():
            key, _, rest = line.partition(":")
            info[key] = int(rest.split()[0]) * 1024
        return info["MemTotal"], info.get("MemAvailable", info.get("MemFree", 0))
    except (OSError, KeyError, ValueError, IndexError):
        pass
    try:
        pages, size = os.sysconf("SC_PHYS_PAGES"), os.sysconf("SC_PAGE_SIZE")
        avail = os.sysconf("SC_AVPHYS_PAGES") if "SC_AVPHYS_PAGES" in os.sysconf_names else pages
        return pages * size, avail * size
    except (ValueError, OSError, AttributeError):
        return 0, 0
