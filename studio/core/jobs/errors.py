"""Typed errors: one sentence for the user, details one click away."""

from __future__ import annotations

from enum import StrEnum


class ErrorKind(StrEnum):
    INVALID_INPUT = "invalid_input"
    MODEL_NOT_FOUND = "model_not_found"
    MODEL_INVALID = "model_invalid"
    OUT_OF_MEMORY = "out_of_memory"
    IO = "io"
    BLOCKED = "blocked"  # the content filter held a picture back
    INTERNAL = "internal"


class StudioError(Exception):
    """An error the user can act on.

    ``user_message`` is one clear sentence saying what happened and what to do;
    ``details`` carries the technical text (traceback, library message).
    ``field`` names the input at fault, so a form can show the message beside it.
    """

    LONGEST = 400  # a sentence, not a library's page: the rest goes to the details

    def __init__(self, kind: ErrorKind, user_message: str, details: str = "", field: str | None = None):
        lines = user_message.strip().splitlines()
        short = lines[0].strip() if lines else user_message
        if len(short) > self.LONGEST:
            short = short[: self.LONGEST - 1].rstrip() + "…"
        if short != user_message.strip():  # a wrapped library error (e.g. a page of size mismatches)
            details = f"{user_message}\n\n{details}" if details else user_message
            user_message = short
        super().__init__(user_message)
        self.kind = kind
        self.user_message = user_message
        self.details = details
        self.field = field

    def __repr__(self) -> str:
        return f"StudioError({self.kind.value!r}, {self.user_message!r})"


class ValidationError(StudioError):
    """One or more invalid fields; ``problems`` maps field name → message."""

    def __init__(self, problems: dict[str, str]):
        first_field, first_msg = next(iter(problems.items()))
        super().__init__(ErrorKind.INVALID_INPUT, first_msg, field=first_field)
        self.problems = dict(problems)


class JobCancelled(Exception):
    """Raised inside a handler when its cancel token is set."""
