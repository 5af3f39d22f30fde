"""The jobs wing of core: what a job is (its kind), how it is stopped, what it reports, where it belongs.

``JobKind`` and the seed limits live here, below every feature wing, so that each wing names them without
importing another."""

from __future__ import annotations

from enum import StrEnum

MAX_SEED = 2**64 - 1
A1111_MAX_SEED = 2**32 - 1  # AUTOMATIC1111's range: seeds drawn here stay inside it, so recipes round-trip


class JobKind(StrEnum):
    """What a job is; every spec says it of itself (``spec.kind``)."""

    IMAGE = "image"
    TEXT = "text"
    TRAIN = "train"
    CAPTION = "caption"
    CONTEXT = "context"
    UPSCALE = "upscale"
    PLOT = "plot"
    ATTENTION = "attention"
    TEXT_ATTENTION = "text-attention"
    TEXT_TRAIN = "text-train"
    STEPS = "steps"
    SEGMENT = "segment"
    DETAIL = "detail"
    LIVE = "live"
    SOUND = "sound"
    SPEAK = "speak"


RANDOM_SEED = -1  # in a draft: draw a new seed when the job is frozen


def random_seed() -> int:
    """A fresh seed inside AUTOMATIC1111's 32-bit range, so recipes round-trip through other tools."""
    import random

    return random.SystemRandom().randint(0, A1111_MAX_SEED)
