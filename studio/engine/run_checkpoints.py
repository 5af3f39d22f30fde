"""A LoRA run's checkpoints: its whole state written so that a resumed run goes on bit-identically — the weights (and
their moving average), the optimizer, the schedule, every random state — and read back (``train_checkpoint`` holds
the file format: no pickles)."""

from __future__ import annotations

import random
import shutil
from pathlib import Path
from typing import TYPE_CHECKING

from studio.core.io.atomic import fsync_dir, temp_path
from studio.core.jobs.errors import ErrorKind, StudioError
from studio.core.train.train_specs import checkpoints

if TYPE_CHECKING:
    from studio.engine.lora_train import Trainer


def save_run_checkpoint(t: Trainer, step: int) -> Path:
    """Write the run's whole state at ``step`` (renamed into place when complete) and drop the oldest beyond the
    number kept."""
    import torch

    from studio.engine import train_checkpoint

    final = t.run / f"checkpoint-{step}"
    tmp = temp_path(final)
    try:
        tmp.mkdir()
        train_checkpoint.save(
            tmp,
            step=step,
            lora={**t.lora_state(), **({"ema": t.ema.state()} if t.ema is not None else {})},
            optimizer=t.optimizer.state_dict(),
            schedule=t.schedule.state_dict(),
            rng={
                "noise_gen": t.noise_gen.get_state(),
                "torch": torch.get_rng_state(),
                "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
                "python": random.getstate(),
            },
            spec_json=t.spec.to_json(),
        )
        shutil.rmtree(final, ignore_errors=True)
        tmp.rename(final)
        fsync_dir(t.run)
    except OSError as e:
        shutil.rmtree(tmp, ignore_errors=True)
        raise StudioError(
            ErrorKind.IO,
            f"Could not write the checkpoint at step {step} ({e.strerror or e}); "
            "the earlier checkpoints are intact. Free some disk space and resume.",
            repr(e),
        ) from e
    kept = checkpoints(t.run)
    for old in kept[: -max(2, t.spec.keep_checkpoints)]:
        shutil.rmtree(old, ignore_errors=True)
    return final


def load_run_checkpoint(t: Trainer, folder: Path) -> int:
    """Put the run back as it was at a checkpoint (weights, EMA, optimizer, schedule, random states); its step."""
    import torch

    from studio.engine import train_checkpoint

    state = train_checkpoint.load(folder)
    t.set_lora_state(state["lora"])
    if t.ema is not None and "ema" in state["lora"]:
        t.ema.load(state["lora"]["ema"])
    t.optimizer.load_state_dict(state["optimizer"])
    t.schedule.load_state_dict(state["schedule"])
    rng = state["rng"]
    t.noise_gen.set_state(rng["noise_gen"])
    torch.set_rng_state(rng["torch"])
    random.setstate(rng["python"])
    if rng["cuda"] and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(rng["cuda"])
    return int(state["step"])
