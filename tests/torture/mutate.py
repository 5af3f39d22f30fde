"""Seeded mutation of JSON documents and bytes: valid JSON of the wrong shape (a number where a string belongs, a
list where an object belongs, a missing key), hostile values (huge numbers, deep nesting, long strings, control
characters), and raw byte damage — what a hostile or broken file can hold."""

from __future__ import annotations

import copy
import json
import random
from typing import Any

WEIRD: list[Any] = [
    None, True, False, 0, -1, 5, 2**63, -(2**64), 1e308, 1e-308, 3.5, "", "x" * 5000, "\x00\x01\u202e",
    "../../etc/passwd", "/abs/path", "C:\\win", "1e999", "NaN", [], {}, [[[]]], {"a": {"b": {}}}, [1, "2", None],
    {"inputs": 5}, {"class_type": 3}, ["1", 0], [None, 0],
]  # fmt: skip


def _weird(rng: random.Random) -> Any:
    return copy.deepcopy(rng.choice(WEIRD))  # a fresh object: shared ones could end up inside themselves


def deep(depth: int) -> Any:
    value: Any = 1
    for i in range(depth):
        value = [value] if i % 2 else {"k": value}
    return value


def _paths(value: Any, prefix: tuple = ()) -> list[tuple]:
    out = [prefix]
    if len(prefix) > 40:  # far enough: deeper parts are reached by nesting, not by walking
        return out
    if isinstance(value, dict):
        for k, v in list(value.items())[:50]:
            out += _paths(v, (*prefix, k))
    elif isinstance(value, list):
        for i, v in enumerate(value[:50]):
            out += _paths(v, (*prefix, i))
    return out


def _get(value: Any, path: tuple) -> Any:
    for p in path:
        value = value[p]
    return value


def _set(root: Any, path: tuple, new: Any) -> Any:
    if not path:
        return new
    parent = _get(root, path[:-1])
    parent[path[-1]] = new
    return root


def mutate_json(value: Any, rng: random.Random) -> Any:
    """One to three structural mutations of a JSON value (a deep copy is changed)."""
    value = json.loads(json.dumps(value))
    for _ in range(rng.randint(1, 3)):
        paths = _paths(value)
        path = rng.choice(paths)
        target = _get(value, path)
        roll = rng.random()
        if roll < 0.45:
            value = _set(value, path, _weird(rng))
        elif roll < 0.55:
            value = _set(value, path, deep(rng.choice([20, 70, 150])))
        elif roll < 0.7 and isinstance(target, dict) and target:
            del target[rng.choice(list(target))]
        elif roll < 0.8 and isinstance(target, dict):
            target[
                rng.choice(["inputs", "class_type", "spec", "loras", "prompt", "shape", "__metadata__", "x"])
            ] = _weird(rng)
        elif roll < 0.9 and isinstance(target, list):
            target.append(_weird(rng))
        else:
            value = _set(value, path, [target] if rng.random() < 0.5 else {"wrapped": target})
    return value


def mutate_bytes(data: bytes, rng: random.Random) -> bytes:
    """Flip, drop, insert or truncate bytes."""
    b = bytearray(data)
    for _ in range(rng.randint(1, 4)):
        if not b:
            break
        roll = rng.random()
        i = rng.randrange(len(b))
        if roll < 0.4:
            b[i] = rng.randrange(256)
        elif roll < 0.6:
            del b[i : i + rng.randint(1, 16)]
        elif roll < 0.8:
            b[i:i] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 16)))
        else:
            del b[i:]
    return bytes(b)


def mutate_text(text: str, rng: random.Random) -> str:
    """A JSON text mutated structurally when it parses, byte-wise otherwise (or sometimes anyway)."""
    if rng.random() < 0.03:  # nesting far past any parser's recursion limit
        n = rng.choice([2_000, 100_000])
        return rng.choice(["[" * n + "]" * n, '{"a":' * n + "1" + "}" * n, "[" * n])
    if rng.random() < 0.75:
        try:
            return json.dumps(mutate_json(json.loads(text), rng))
        except (ValueError, RecursionError):
            pass
    return mutate_bytes(text.encode(), rng).decode("utf-8", errors="replace")
