"""A training checkpoint on disk without a single pickle: tensors in safetensors files, everything else in JSON.

``checkpoint-<step>/``
  ``lora.safetensors``       the LoRA weights, keyed ``<part>::<name>`` (part: unet, text_encoder, text_encoder_2)
  ``optimizer.safetensors``  the optimizer's tensors, keyed ``<param index>::<name>``
  ``rng.safetensors``        the noise generator's and torch's random states (and CUDA's, when there is one)
  ``state.json``             the step, the optimizer's groups and scalars, the schedule, Python's random state,
                             the spec — written last, so a folder with a ``state.json`` is a whole checkpoint

Loading reads only safetensors and JSON, so a crafted run folder cannot run code; a checkpoint written by an
earlier Studio as a pickle (``state.pt``) is refused with a sentence, never unpickled.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from studio.core.io.atomic import atomic_write
from studio.core.io.untrusted import Unreadable, read_json
from studio.core.jobs.errors import ErrorKind, StudioError

FORMAT = 1
SEP = "::"


def _scalar(value: Any) -> bool:
    return (
        value is None
        or isinstance(value, bool | int | str)
        or (isinstance(value, float) and math.isfinite(value))
    )


def _jsonable(value: Any) -> Any:
    if _scalar(value):
        return value
    if isinstance(value, tuple | list) and all(_scalar(v) for v in value):
        return list(value)
    raise TypeError(f"cannot keep {type(value).__name__} in a checkpoint without a pickle")


def save(folder: Path, *, step: int, lora: dict[str, dict[str, Any]], optimizer: dict[str, Any],
         schedule: dict[str, Any], rng: dict[str, Any], spec_json: str) -> None:  # fmt: skip
    """Write a checkpoint into ``folder`` (which the caller then renames into place)."""
    import torch
    from safetensors.torch import save as st_save

    tensors = {
        f"{part}{SEP}{k}": v.detach().cpu().contiguous() for part, sd in lora.items() for k, v in sd.items()
    }
    atomic_write(folder / "lora.safetensors", lambda f: f.write(st_save(tensors)))

    opt_tensors: dict[str, Any] = {}
    scalars: dict[str, dict[str, Any]] = {}
    for index, entry in optimizer["state"].items():
        for name, value in entry.items():
            if isinstance(value, torch.Tensor):
                opt_tensors[f"{index}{SEP}{name}"] = value.detach().cpu().contiguous()
            else:
                scalars.setdefault(str(index), {})[name] = _jsonable(value)
    atomic_write(folder / "optimizer.safetensors", lambda f: f.write(st_save(opt_tensors)))

    rng_tensors = {"noise_gen": rng["noise_gen"], "torch": rng["torch"]}
    for i, state in enumerate(rng.get("cuda") or []):
        rng_tensors[f"cuda{SEP}{i}"] = state
    atomic_write(folder / "rng.safetensors", lambda f: f.write(st_save(rng_tensors)))

    groups = [{k: _jsonable(v) for k, v in g.items()} for g in optimizer["param_groups"]]
    version, internal, gauss = rng["python"]
    state = {
        "format": FORMAT,
        "step": step,
        "optimizer": {"param_groups": groups, "scalars": scalars},
        "schedule": {k: _jsonable(v) for k, v in schedule.items()},
        "python_rng": [version, list(internal), gauss],
        "spec": json.loads(spec_json),
    }
    atomic_write(folder / "state.json", lambda f: f.write(json.dumps(state).encode()))


def _refuse(folder: Path, why: str) -> StudioError:
    return StudioError(
        ErrorKind.INVALID_INPUT,
        f"The checkpoint {folder.name} cannot be used: {why}. Start the run again (or resume from another run).",
        field="interrupted",
    )


def load(folder: Path) -> dict[str, Any]:
    """The checkpoint's parts: ``step``, ``lora`` ({part: {name: tensor}}), ``optimizer`` (a state dict),
    ``schedule``, ``rng`` ({noise_gen, torch, cuda, python}). Raises ``StudioError`` for anything else."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    if not (folder / "state.json").exists() and (folder / "state.pt").exists():
        raise _refuse(folder, "it was written by an earlier Studio as a pickle, which Studio no longer loads "
                              "(a pickle can run code)")  # fmt: skip
    state = read_json(folder / "state.json", max_depth=16)
    if isinstance(state, Unreadable) or not isinstance(state, dict) or state.get("format") != FORMAT:
        raise _refuse(
            folder, state.why if isinstance(state, Unreadable) else "its state.json is not one Studio wrote"
        )
    try:
        lora_flat = load_file(folder / "lora.safetensors")
        opt_flat = load_file(folder / "optimizer.safetensors")
        rng_flat = load_file(folder / "rng.safetensors")
        step = int(state["step"])
        groups = state["optimizer"]["param_groups"]
        scalars = state["optimizer"]["scalars"]
        schedule = dict(state["schedule"])
        version, internal, gauss = state["python_rng"]
        python_rng = (int(version), tuple(int(x) for x in internal), gauss)
    except (OSError, SafetensorError, KeyError, TypeError, ValueError) as e:
        raise _refuse(folder, f"it is incomplete or damaged ({type(e).__name__}: {e})") from e

    lora: dict[str, dict[str, Any]] = {}
    for key, tensor in lora_flat.items():
        part, _, name = key.partition(SEP)
        lora.setdefault(part, {})[name] = tensor
    opt_state: dict[int, dict[str, Any]] = {}
    for key, tensor in opt_flat.items():
        index, _, name = key.partition(SEP)
        opt_state.setdefault(int(index), {})[name] = tensor
    for index, values in scalars.items():
        opt_state.setdefault(int(index), {}).update(values)
    for g in groups:
        if isinstance(g.get("betas"), list):
            g["betas"] = tuple(g["betas"])
    cuda = [rng_flat[k] for k in sorted((k for k in rng_flat if k.startswith(f"cuda{SEP}")),
                                        key=lambda k: int(k.partition(SEP)[2]))]  # fmt: skip
    return {
        "step": step,
        "lora": lora,
        "optimizer": {"state": opt_state, "param_groups": groups},
        "schedule": schedule,
        "rng": {
            "noise_gen": rng_flat["noise_gen"],
            "torch": rng_flat["torch"],
            "cuda": cuda,
            "python": python_rng,
        },
    }


def load_lora(folder: Path) -> dict[str, dict[str, Any]]:
    """Only the LoRA weights of a checkpoint (for the A/B grids)."""
    from safetensors.torch import load_file

    lora: dict[str, dict[str, Any]] = {}
    for key, tensor in load_file(folder / "lora.safetensors").items():
        part, _, name = key.partition(SEP)
        lora.setdefault(part, {})[name] = tensor
    return lora


def nan_rollback(run: Path, step: int, load: Any, lr: float, also: str = "") -> StudioError:
    """A NaN loss at ``step``: back to the run's latest checkpoint (``load(folder)`` returns its step), and the
    sentence that says so and what to lower — the error to raise."""
    from studio.core.train.train_specs import latest_checkpoint, nan_message

    ck = latest_checkpoint(run)
    back = f"rolled back to the checkpoint at step {load(ck)}" if ck else "nothing was saved yet"
    return StudioError(ErrorKind.INTERNAL, nan_message(step, back, lr, also))
