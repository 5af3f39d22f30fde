"""Turning library failures into ``StudioError``s with one sentence the user can act on."""

from __future__ import annotations

import traceback

from studio.core.jobs.errors import ErrorKind, StudioError


def is_out_of_memory(e: BaseException) -> bool:
    text = f"{type(e).__name__}: {e}".lower()
    return (
        "out of memory" in text
        or "outofmemory" in text
        or "can't allocate memory" in text
        or (isinstance(e, MemoryError))
    )


def translate(e: BaseException, *, width: int = 0, height: int = 0, batch: int = 1) -> StudioError:
    if isinstance(e, StudioError):
        return e
    details = traceback.format_exc()
    if is_out_of_memory(e):
        hints = []
        if batch > 1:
            hints.append(f"the batch size ({batch})")
        if width * height > 512 * 512:
            hints.append(f"the size ({width}×{height})")
        advice = " or ".join(hints) if hints else "the size or batch size"
        return StudioError(
            ErrorKind.OUT_OF_MEMORY,
            f"Out of memory on the device. Lower {advice}, close other GPU programs, or switch on CPU offload.",
            details,
        )
    if isinstance(e, FileNotFoundError):
        return StudioError(
            ErrorKind.MODEL_NOT_FOUND, f"A file the model needs is missing: {e.filename or e}.", details
        )
    return StudioError(ErrorKind.INTERNAL, f"Generation failed: {type(e).__name__}: {e}", details)
