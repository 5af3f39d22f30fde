"""Building a frozen dataclass (a job spec, a saved setting) from a dict read from outside, by its type hints.

Every field is checked against its annotation: a value of the wrong type is refused with the field's name,
unknown keys are ignored (newer versions), missing ones take their defaults. Numbers are accepted as ints or
floats where the annotation allows; nothing is ``eval``-ed or imported.
"""

from __future__ import annotations

import dataclasses
import math
import types
import typing
from functools import cache
from typing import Any, Union


class ShapeError(ValueError):
    """The data does not have the shape of the dataclass; the message names the field."""


def _is_union(tp: Any) -> bool:
    return typing.get_origin(tp) in (Union, types.UnionType)


def convert(value: Any, tp: Any, where: str) -> Any:
    """``value`` as type ``tp`` (a type hint), or ``ShapeError`` naming ``where``."""
    if tp is Any:
        return value
    if _is_union(tp):
        args = typing.get_args(tp)
        if value is None and type(None) in args:
            return None
        errors = []
        for arg in args:
            if arg is type(None):
                continue
            try:
                return convert(value, arg, where)
            except ShapeError as e:
                errors.append(str(e))
        raise ShapeError(errors[0] if errors else f"{where}: unexpected value")
    origin = typing.get_origin(tp)
    if origin is tuple:
        args = typing.get_args(tp)
        if not isinstance(value, list | tuple):
            raise ShapeError(f"{where}: expected a list, got {type(value).__name__}")
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(convert(v, args[0], f"{where}[{i}]") for i, v in enumerate(value))
        if len(value) != len(args):
            raise ShapeError(f"{where}: expected {len(args)} values, got {len(value)}")
        return tuple(convert(v, a, f"{where}[{i}]") for i, (v, a) in enumerate(zip(value, args, strict=True)))
    if origin in (list, dict):
        args = typing.get_args(tp)
        if origin is list:
            if not isinstance(value, list | tuple):
                raise ShapeError(f"{where}: expected a list, got {type(value).__name__}")
            return [convert(v, args[0], f"{where}[{i}]") if args else v for i, v in enumerate(value)]
        if not isinstance(value, dict):
            raise ShapeError(f"{where}: expected an object, got {type(value).__name__}")
        if not args:
            return dict(value)
        return {convert(k, args[0], where): convert(v, args[1], f"{where}.{k}") for k, v in value.items()}
    if tp is bool:
        if isinstance(value, bool):
            return value
        raise ShapeError(f"{where}: expected true or false, got {type(value).__name__}")
    if tp is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, float) and math.isfinite(value) and value == int(value):
            return int(value)
        raise ShapeError(f"{where}: expected a whole number, got {type(value).__name__}")
    if tp is float:
        if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
            return float(value)
        raise ShapeError(f"{where}: expected a number, got {type(value).__name__}")
    if tp is str:
        if isinstance(value, str):
            return value
        raise ShapeError(f"{where}: expected text, got {type(value).__name__}")
    if dataclasses.is_dataclass(tp) and isinstance(tp, type):
        if not isinstance(value, dict):
            raise ShapeError(f"{where}: expected an object, got {type(value).__name__}")
        return from_dict(tp, value, where)
    if isinstance(tp, type) and isinstance(value, tp):
        return value
    raise ShapeError(f"{where}: unexpected value of type {type(value).__name__}")


@cache
def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def from_dict(cls: type, data: dict[str, Any], where: str = "") -> Any:
    """An instance of dataclass ``cls`` from ``data``; ``ShapeError`` names the first field of the wrong type."""
    if not isinstance(data, dict):
        raise ShapeError(f"{where or cls.__name__}: expected an object")
    hints = _hints(cls)
    kwargs = {}
    for f in dataclasses.fields(cls):
        if not f.init or f.name not in data:
            continue
        kwargs[f.name] = convert(data[f.name], hints[f.name], f"{where}.{f.name}" if where else f.name)
    try:
        return cls(**kwargs)
    except TypeError as e:  # a required field is missing
        raise ShapeError(f"{where or cls.__name__}: {e}") from e
