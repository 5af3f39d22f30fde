"""Events as JSON lines, for jobs that run in another process (training): the same typed events either way."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

from studio.core.jobs import events as ev
from studio.core.jobs.errors import ErrorKind, StudioError
from studio.core.train import train_specs as ts

KNOWN: dict[str, type[ev.Event]] = {
    cls.__name__: cls
    for cls in (
        ev.Started,
        ev.Loading,
        ev.Progress,
        ev.Note,
        ev.Finished,
        ev.Failed,
        ev.Cancelled,
        ts.TrainStep,
        ts.ValidationLoss,
        ts.SamplesSaved,
        ts.CheckpointSaved,
        ts.TrainDone,
    )
}


def encode(event: ev.Event) -> str:
    data: dict[str, Any] = {"type": type(event).__name__}
    for f in dataclasses.fields(event):
        value = getattr(event, f.name)
        if isinstance(value, StudioError):
            value = {
                "kind": value.kind.value,
                "message": value.user_message,
                "details": value.details,
                "field": value.field,
            }
        data[f.name] = list(value) if isinstance(value, tuple) else value
    return json.dumps(data, default=str)


def decode(line: str) -> ev.Event | None:
    """The event on one line, or None for a line that is not one (a library printing to stdout)."""
    try:
        data = json.loads(line)
        cls = KNOWN[data.pop("type")]
    except (ValueError, KeyError, TypeError, AttributeError):
        return None
    names = {f.name: f for f in dataclasses.fields(cls)}
    kwargs = {}
    for k, v in data.items():
        if k not in names:
            continue
        if k == "error" and isinstance(v, dict):
            v = StudioError(
                ErrorKind(v.get("kind", "internal")),
                v.get("message", ""),
                v.get("details", ""),
                v.get("field"),
            )
        kwargs[k] = tuple(v) if isinstance(v, list) else v
    return cls(**kwargs)  # type: ignore[arg-type]
