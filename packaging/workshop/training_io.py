"""Checkpoints and logs of the built-in models' training runs, without pickles: a nested state (model and optimiser
state dicts, random states, step counters) is kept as its tensors in a safetensors file plus the rest in JSON.

``NAME.json`` is written last and names the tensor file of the same generation (``NAME.<id>.safetensors``), so a
run killed at any moment leaves the previous whole checkpoint readable; older tensor files are removed after.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

from studio.core.io.atomic import atomic_write, atomic_write_text


def _encode(value: Any, tensors: dict[str, Any], key: str) -> Any:
    import torch

    if isinstance(value, torch.Tensor):
        tensors[key] = value.detach().cpu().contiguous()
        return {"__tensor__": key}
    if isinstance(value, dict):
        return {"__dict__": [[k, _encode(v, tensors, f"{key}.{k}")] for k, v in value.items()]}
    if isinstance(value, tuple):
        return {"__tuple__": [_encode(v, tensors, f"{key}.{i}") for i, v in enumerate(value)]}
    if isinstance(value, list):
        return [_encode(v, tensors, f"{key}.{i}") for i, v in enumerate(value)]
    if value is None or isinstance(value, bool | int | float | str):
        return value
    raise TypeError(f"{key}: a {type(value).__name__} cannot be kept without a pickle")


def _decode(value: Any, tensors: dict[str, Any]) -> Any:
    if isinstance(value, list):
        return [_decode(v, tensors) for v in value]
    if isinstance(value, dict):
        if "__tensor__" in value:
            return tensors[value["__tensor__"]]
        if "__tuple__" in value:
            return tuple(_decode(v, tensors) for v in value["__tuple__"])
        if "__dict__" in value:
            return {k: _decode(v, tensors) for k, v in value["__dict__"]}
    return value


def save_state(state: dict[str, Any], path: Path) -> None:
    """Keep ``state`` as ``path`` (``…/unet.json``) and its tensors beside it."""
    from safetensors.torch import save

    tensors: dict[str, Any] = {}
    tree = _encode(state, tensors, "s")
    generation = uuid.uuid4().hex[:12]
    data_file = path.with_name(f"{path.stem}.{generation}.safetensors")
    atomic_write(data_file, lambda f: f.write(save(tensors)))
    atomic_write_text(path, json.dumps({"format": 1, "tensors": data_file.name, "state": tree}))
    for old in path.parent.glob(f"{path.stem}.*.safetensors"):
        if old.name != data_file.name:
            old.unlink(missing_ok=True)


def load_state(path: Path) -> dict[str, Any]:
    """What ``save_state`` kept (tensors on the CPU). Reads safetensors and JSON only."""
    from safetensors.torch import load_file

    meta = json.loads(path.read_text("utf-8"))
    data_file = path.parent / Path(meta["tensors"]).name
    return dict(_decode(meta["state"], load_file(data_file)))


def log(work: Path, record: dict[str, Any], echo: bool = True) -> None:
    with open(work / "log.jsonl", "a") as f:
        f.write(json.dumps(record) + "\n")
    if echo:
        print(json.dumps(record), flush=True)
