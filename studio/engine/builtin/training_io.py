"""Checkpoints and logs of the built-in models' training runs: written atomically, so a run killed at any moment
resumes from its last whole checkpoint."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from studio.core.atomic import atomic_write


def save_atomic(obj: Any, path: Path) -> None:
    import torch

    atomic_write(path, lambda f: torch.save(obj, f))


def log(work: Path, record: dict[str, Any], echo: bool = True) -> None:
    with open(work / "log.jsonl", "a") as f:
        f.write(json.dumps(record) + "\n")
    if echo:
        print(json.dumps(record), flush=True)
