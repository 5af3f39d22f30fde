"""Reading a GGUF file's header (llama.cpp's format) without loading it: the architecture, name and tensor count,
for the Models room. The header is untrusted: lengths and counts are bounded, and anything malformed raises
``GGUFError`` with a sentence."""

from __future__ import annotations

import struct
from pathlib import Path
from typing import Any, BinaryIO

MAX_KV = 100_000
MAX_STRING = 1 << 20
MAX_ARRAY = 1 << 24
MAX_HEADER_BYTES = 256 * 1024 * 1024  # a real header (a 150 k-token vocabulary with merges) is tens of MB
MAX_HEADER_ITEMS = 4_000_000  # values in all (each vocabulary token, score, merge is one)
# value types: uint8 int8 uint16 int16 uint32 int32 float32 bool string array uint64 int64 float64
_SCALAR = {
    0: "<B",
    1: "<b",
    2: "<H",
    3: "<h",
    4: "<I",
    5: "<i",
    6: "<f",
    7: "<?",
    10: "<Q",
    11: "<q",
    12: "<d",
}
STRING, ARRAY = 8, 9
FILE_TYPES = {0: "F32", 1: "F16", 2: "Q4_0", 3: "Q4_1", 7: "Q8_0", 8: "Q5_0", 9: "Q5_1", 10: "Q2_K", 11: "Q3_K_S",
              12: "Q3_K_M", 13: "Q3_K_L", 14: "Q4_K_S", 15: "Q4_K_M", 16: "Q5_K_S", 17: "Q5_K_M", 18: "Q6_K",
              32: "BF16"}  # fmt: skip


class GGUFError(ValueError):
    pass


def _read(f: BinaryIO, fmt: str) -> Any:
    size = struct.calcsize(fmt)
    raw = f.read(size)
    if len(raw) != size:
        raise GGUFError("the header ends early")
    return struct.unpack(fmt, raw)[0]


class _Budget:
    """A header's size in bytes and values, bounded: a crafted one (100 000 keys of 1 MB, string arrays of
    16 M entries) is refused in a moment instead of read for hours."""

    def __init__(self) -> None:
        self.bytes = self.items = 0

    def spend(self, nbytes: int, items: int = 1) -> None:
        self.bytes += nbytes
        self.items += items
        if self.bytes > MAX_HEADER_BYTES:
            raise GGUFError(
                f"its header is larger than {MAX_HEADER_BYTES // 2**20} MB, more than Studio reads"
            )
        if self.items > MAX_HEADER_ITEMS:
            raise GGUFError(f"its header holds more than {MAX_HEADER_ITEMS:,} values, more than Studio reads")


def _string(f: BinaryIO, budget: _Budget, keep: bool = True) -> str:
    n = _read(f, "<Q")
    if n > MAX_STRING:
        raise GGUFError("a header string is absurdly long")
    budget.spend(n + 8)
    if not keep:
        f.seek(n, 1)
        return ""
    raw = f.read(n)
    if len(raw) != n:
        raise GGUFError("the header ends early")
    return raw.decode("utf-8", errors="replace")


def _value(f: BinaryIO, kind: int, keep: bool, budget: _Budget) -> Any:
    if kind in _SCALAR:
        budget.spend(struct.calcsize(_SCALAR[kind]))
        return _read(f, _SCALAR[kind])
    if kind == STRING:
        return _string(f, budget)
    if kind == ARRAY:
        inner, n = _read(f, "<I"), _read(f, "<Q")
        if n > MAX_ARRAY or inner == ARRAY:
            raise GGUFError("a header array is absurd")
        if inner in _SCALAR and not keep:
            size = struct.calcsize(_SCALAR[inner]) * n
            budget.spend(size, n)
            f.seek(size, 1)
            return None
        if inner == STRING and not keep:
            budget.spend(0, n)  # each string is read past (its length first): bounded before the loop
            for _ in range(n):
                _string(f, budget, keep=False)
            return None
        budget.spend(0, n)
        values = [_value(f, inner, keep, budget) for _ in range(n)]
        return values if keep else None
    raise GGUFError(f"unknown value type {kind}")


def read_gguf_header(path: Path) -> dict[str, Any]:
    """``{"version", "tensors", "metadata": {key: scalar or string}}`` (arrays are skipped)."""
    try:
        with open(path, "rb") as f:
            if f.read(4) != b"GGUF":
                raise GGUFError(f"{path.name} is not a GGUF file")
            version = _read(f, "<I")
            if version not in (2, 3):
                raise GGUFError(f"{path.name} is GGUF version {version}, which Studio does not know")
            tensors, count = _read(f, "<Q"), _read(f, "<Q")
            if count > MAX_KV:
                raise GGUFError(f"{path.name} claims {count} header entries")
            meta: dict[str, Any] = {}
            budget = _Budget()
            for _ in range(count):
                key = _string(f, budget)
                kind = _read(f, "<I")
                value = _value(f, kind, False, budget)
                if value is not None:
                    meta[key] = value
    except OSError as e:
        raise GGUFError(f"{path.name} cannot be read ({e.strerror or e})") from e
    except GGUFError as e:
        raise GGUFError(f"{path.name}: {e}" if not str(e).startswith(path.name) else str(e)) from None
    return {"version": version, "tensors": tensors, "metadata": meta}
