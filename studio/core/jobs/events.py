"""Typed events a job reports, from the worker to whoever listens (the CLI, the GUI bridge)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from studio.core.jobs.errors import StudioError


@dataclass(frozen=True)
class Event:
    job_id: str = ""


@dataclass(frozen=True)
class Queued(Event):
    spec: Any = None
    position: int = 0


@dataclass(frozen=True)
class Started(Event):
    pass


@dataclass(frozen=True)
class Loading(Event):
    what: str = ""
    fraction: float = 0.0  # how far, where the work can say (a conversion); 0 otherwise


@dataclass(frozen=True)
class Progress(Event):
    """``step`` of ``total`` for image ``item`` (0-based) of ``items``."""

    step: int = 0
    total: int = 0
    item: int = 0
    items: int = 1


@dataclass(frozen=True)
class Preview(Event):
    image: Any = None  # a PIL image
    step: int = 0
    item: int = 0


@dataclass(frozen=True)
class ItemSaved(Event):
    """One result is safely on disk (a batch saves several before ``Finished``)."""

    item: Any = None


@dataclass(frozen=True)
class Token(Event):
    text: str = ""
    tokens: int = 0  # how many tokens are written so far, when the engine knows (a piece may be several)


@dataclass(frozen=True)
class Note(Event):
    """Something the user should know about the running job that is not an error (e.g. a trimmed prompt)."""

    text: str = ""


@dataclass(frozen=True)
class Finished(Event):
    items: tuple[Any, ...] = field(default_factory=tuple)
    seconds: float = 0.0


@dataclass(frozen=True)
class Failed(Event):
    error: StudioError | None = None


@dataclass(frozen=True)
class Cancelled(Event):
    pass


TERMINAL = (Finished, Failed, Cancelled)
