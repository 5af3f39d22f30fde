"""Before a text LoRA's run: a preset for the base model's size, and what it will cost — memory and a rough time —
or clear words when the base model is too large for this machine (it trains at full precision)."""

from __future__ import annotations

import os

PRESETS = {
    "small": {
        "steps": 300,
        "rank": 8,
        "lr": 2e-4,
        "seq_len": 256,
        "batch_size": 4,
    },  # up to ~1.5 B parameters
    "large": {"steps": 500, "rank": 16, "lr": 1e-4, "seq_len": 512, "batch_size": 1},
}
LARGE = 1_500_000_000
BYTES_PER_PARAM = 6.0  # fp32 weights (4) plus the activations and the LoRA's optimizer, about 2 more
CPU_FLOPS_PER_CORE = 2.5e10  # what a training step reaches on one core (measured order of magnitude)
GPU_FLOPS = 2.0e13


def preset_for(params: int) -> str:
    return "large" if params >= LARGE else "small"


def plan(
    params: int, steps: int, batch_size: int, seq_len: int, free_bytes: int, gpu: bool = False
) -> tuple[str, str]:
    """(the estimate in words, a refusal — "" when it fits)."""
    need = params * BYTES_PER_PARAM
    gb = 1024**3
    if params and free_bytes and need > free_bytes * 0.9:
        fits = free_bytes * 0.9 / BYTES_PER_PARAM
        return "", (f"This base model has {params / 1e9:.1f} B parameters: teaching it needs about {need / gb:.0f} GB "
                    f"of memory at full precision, and {free_bytes / gb:.0f} GB are free here. Choose a smaller base "
                    f"model (up to about {fits / 1e9:.1f} B parameters on this machine).")  # fmt: skip
    if params <= 0:  # not a model folder Studio can read (a server's model, a file it cannot count)
        return "Time and memory: not known until the base model's weights can be read.", ""
    flops = 6.0 * params * steps * batch_size * seq_len
    speed = GPU_FLOPS if gpu else CPU_FLOPS_PER_CORE * max(1, os.cpu_count() or 1)
    seconds = flops / speed
    when = (
        f"{seconds / 60:.0f} minutes" if seconds >= 90 else "a minute" if seconds >= 30 else "a few seconds"
    )
    size = f"{need / gb:.1f} GB" if need >= gb / 2 else f"{max(1, round(need / 1024**2))} MB"
    return f"About {when} and {size} of memory (a rough guess before the first run).", ""
