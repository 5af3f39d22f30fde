"""Reading a safetensors header safely (no weights loaded), with checks against malformed files.

The header is untrusted: its length, its JSON, every tensor entry's dtype, shape and offsets, and the metadata
are checked against the format (safetensors' own rules: metadata is a map of strings to strings) before anyone
reads a field, so a hostile or damaged file costs one row that says why.
"""

from __future__ import annotations

import struct
from pathlib import Path
from typing import Any

from studio.core.io.untrusted import Unreadable, parse_json, regular_file_problem

MAX_HEADER = 16 * 1024 * 1024  # the largest real headers (FLUX, thousands of tensors) are about 1 MB
MAX_DIMS = 8


class HeaderError(ValueError):
    pass


def _check_tensor(name: str, info: Any, data_size: int, file: str) -> None:
    if not isinstance(info, dict):
        raise HeaderError(
            f"{file}: tensor {name[:80]!r} is described by a {type(info).__name__}, not an object."
        )
    shape, offsets, dtype = info.get("shape"), info.get("data_offsets"), info.get("dtype")
    if not isinstance(dtype, str) or not 0 < len(dtype) <= 16:
        raise HeaderError(f"{file}: tensor {name[:80]!r} has no dtype.")
    if (
        not isinstance(shape, list)
        or len(shape) > MAX_DIMS
        or any(type(d) is not int or d < 0 for d in shape)
    ):
        raise HeaderError(f"{file}: tensor {name[:80]!r} has an absurd shape.")
    if (
        not isinstance(offsets, list)
        or len(offsets) != 2
        or any(type(o) is not int for o in offsets)
        or not 0 <= offsets[0] <= offsets[1] <= data_size
    ):
        raise HeaderError(f"{file}: tensor {name[:80]!r} points outside the file.")


def read_header(path: Path) -> dict[str, Any]:
    """The JSON header of a safetensors file: ``{tensor name: {dtype, shape, data_offsets}, "__metadata__": …}``.
    Raises ``HeaderError`` (with a sentence for the user) for anything that is not a well-formed header;
    ``__metadata__`` is always a dict of strings to strings (entries of other types are dropped)."""
    if problem := regular_file_problem(path):
        raise HeaderError(f"{problem}.")
    try:
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
            data = f.read(n)
    except OSError as e:
        raise HeaderError(f"{path.name} cannot be read ({e.strerror or e}).") from e
    header = parse_json(data, max_bytes=MAX_HEADER, max_depth=4)
    if isinstance(header, Unreadable):
        raise HeaderError(f"{path.name} has an unreadable header: {header.why}.")
    if not isinstance(header, dict):
        raise HeaderError(f"{path.name} has a header that is not a JSON object.")
    data_size = size - 8 - n
    for name, info in header.items():
        if name != "__metadata__":
            _check_tensor(name, info, data_size, path.name)
    meta = header.get("__metadata__")
    header["__metadata__"] = (
        {k: v for k, v in meta.items() if isinstance(v, str)} if isinstance(meta, dict) else {}
    )
    return header


def tensor_names(path: Path) -> list[str]:
    return [k for k in read_header(path) if k != "__metadata__"]
