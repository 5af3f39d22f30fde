"""Reading a safetensors header safely (no weights loaded), with checks against malformed files."""

from __future__ import annotations

import json
import struct
from pathlib import Path
from typing import Any

MAX_HEADER = 100 * 1024 * 1024


class HeaderError(ValueError):
    pass


def read_header(path: Path) -> dict[str, Any]:
    """The JSON header of a safetensors file: ``{tensor name: {dtype, shape, data_offsets}, "__metadata__": …}``."""
    size = path.stat().st_size
    with open(path, "rb") as f:
        raw = f.read(8)
        if len(raw) != 8:
            raise HeaderError(f"{path.name} is too short to be a safetensors file.")
        (n,) = struct.unpack("<Q", raw)
        if n > MAX_HEADER or 8 + n > size:
            raise HeaderError(
                f"{path.name} has a bad header length ({n} bytes); the file is damaged or not safetensors."
            )
        try:
            header = json.loads(f.read(n))
        except ValueError as e:
            raise HeaderError(f"{path.name} has an unreadable header: {e}.") from e
    if not isinstance(header, dict):
        raise HeaderError(f"{path.name} has a header that is not a JSON object.")
    data_size = size - 8 - n
    for name, info in header.items():
        if name == "__metadata__":
            continue
        try:
            start, end = info["data_offsets"]
            shape = info["shape"]
        except (KeyError, TypeError, ValueError) as e:
            raise HeaderError(f"{path.name}: tensor {name!r} has no valid offsets or shape.") from e
        if not (0 <= start <= end <= data_size) or any((not isinstance(d, int)) or d < 0 for d in shape):
            raise HeaderError(f"{path.name}: tensor {name!r} points outside the file or has an absurd shape.")
    return header


def tensor_names(path: Path) -> list[str]:
    return [k for k in read_header(path) if k != "__metadata__"]
