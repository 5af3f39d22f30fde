"""Reading data that comes from outside (files, folders, servers): every reader here is total — it returns a
value or an ``Unreadable`` that says why, never raises — with bounded size, nesting and time.

The rule for callers: parse with these, then check the *shape* with ``obj``/``lst``/``text``/``integer``/
``number`` (each returns a safe default for a value of the wrong type), so that valid JSON of the wrong shape
costs one row ("unreadable: why"), not a crash.
"""

from __future__ import annotations

import json
import math
import os
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Any

MAX_JSON_BYTES = 16 * 1024 * 1024  # settings, queues, configs and metadata are kilobytes; nothing needs more
MAX_DEPTH = 64  # real files nest a handful of levels; 10 000 nested lists are an attack on the parser
MAX_NODES = 2_000_000  # values in one document


@dataclass(frozen=True)
class Unreadable:
    """Why something could not be read. Falsy, so ``if not (x := read_json(...))`` reads naturally."""

    why: str

    def __bool__(self) -> bool:
        return False

    def __str__(self) -> str:
        return self.why


def _too_deep(value: Any, max_depth: int) -> str:
    """'' when ``value`` nests at most ``max_depth`` levels and holds at most MAX_NODES values (iterative walk)."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    nodes = 1
    while stack:
        v, depth = stack.pop()
        if isinstance(v, dict | list):
            if depth > max_depth:
                return f"it nests more than {max_depth} levels deep"
            nodes += len(v)
            if nodes > MAX_NODES:
                return f"it holds more than {MAX_NODES:,} values"
            children = v.values() if isinstance(v, dict) else v
            stack.extend((c, depth + 1) for c in children if isinstance(c, dict | list))
    return ""


def _no_constants(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def parse_json(data: str | bytes, *, max_bytes: int = MAX_JSON_BYTES, max_depth: int = MAX_DEPTH) -> Any:
    """The JSON value in ``data``, or ``Unreadable``. The NaN/Infinity literals are refused; a number that overflows
    to infinity (``1e999``) stays a float, which the shape checks below refuse where a number is expected."""
    if not isinstance(data, str | bytes | bytearray):
        return Unreadable(f"expected text, got {type(data).__name__}")
    if len(data) > max_bytes:
        return Unreadable(f"it is {len(data):,} bytes, over the {max_bytes:,}-byte limit")
    try:
        value = json.loads(data, parse_constant=_no_constants)
    except RecursionError:
        return Unreadable("it nests too deeply")
    except (ValueError, UnicodeDecodeError) as e:
        return Unreadable(f"it is not valid JSON ({e})")
    if problem := _too_deep(value, max_depth):
        return Unreadable(problem)
    return value


def regular_file_problem(path: Path) -> str:
    """'' for a regular file; otherwise why it must not be opened (a FIFO would block a reader for ever)."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return f"{path.name[:80]} does not exist"
    except (OSError, ValueError) as e:
        return f"{path.name[:80]} cannot be read ({getattr(e, 'strerror', None) or e})"
    if stat.S_ISDIR(st.st_mode):
        return f"{path.name} is a folder, not a file"
    if not stat.S_ISREG(st.st_mode):
        return f"{path.name} is not a regular file (a pipe, socket or device)"
    return ""


def exists(path: str | Path) -> bool:
    """Whether a path from outside names something, without raising (a name too long, a NUL byte: no)."""
    try:
        return os.path.lexists(path) and Path(path).exists()
    except (OSError, ValueError):
        return False


def is_file(path: str | Path) -> bool:
    try:
        return Path(path).is_file()
    except (OSError, ValueError):
        return False


def is_dir(path: str | Path) -> bool:
    try:
        return Path(path).is_dir()
    except (OSError, ValueError):
        return False


def is_regular_file(path: Path) -> bool:
    return not regular_file_problem(path)


def read_bytes(path: Path, max_bytes: int) -> bytes | Unreadable:
    """A whole regular file of at most ``max_bytes``, or ``Unreadable``."""
    if problem := regular_file_problem(path):
        return Unreadable(problem)
    try:
        with open(path, "rb") as f:
            data = f.read(max_bytes + 1)
    except OSError as e:
        return Unreadable(f"{path.name} cannot be read ({e.strerror or e})")
    if len(data) > max_bytes:
        return Unreadable(f"{path.name} is over the {max_bytes:,}-byte limit")
    return data


def read_json(path: Path, *, max_bytes: int = MAX_JSON_BYTES, max_depth: int = MAX_DEPTH) -> Any:
    """The JSON in a file, or ``Unreadable`` (missing, not a regular file, too big, not JSON, too deep)."""
    data = read_bytes(Path(path), max_bytes)
    if isinstance(data, Unreadable):
        return data
    value = parse_json(data, max_bytes=max_bytes, max_depth=max_depth)
    if isinstance(value, Unreadable):
        return Unreadable(f"{Path(path).name}: {value.why}")
    return value


# -- shape checks: a value of the wrong type becomes the default ----------------------------------------------
def obj(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def lst(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def text(value: Any, default: str = "", max_len: int = 1_000_000) -> str:
    """A string as it is; a number as its text; anything else (lists, objects, null) the default."""
    if isinstance(value, str):
        return value[:max_len]
    if isinstance(value, bool) or value is None:
        return default
    if isinstance(value, int | float) and math.isfinite(value):
        return str(value)
    return default


def integer(value: Any, default: int | None = None) -> int | None:
    """An int from an int, an integral float or a numeric string; else the default (never bool, inf or NaN)."""
    if isinstance(value, bool):
        return default
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return int(value) if math.isfinite(value) and value == int(value) else default
    if isinstance(value, str) and len(value) < 40:
        try:
            return int(value.strip())
        except ValueError:
            return default
    return default


def number(value: Any, default: float | None = None) -> float | None:
    """A finite float from a number or a numeric string; else the default."""
    if isinstance(value, bool):
        return default
    if isinstance(value, int | float | str) and not (isinstance(value, str) and len(value) > 60):
        try:
            f = float(value)
        except (ValueError, OverflowError):
            return default
        return f if math.isfinite(f) else default
    return default
