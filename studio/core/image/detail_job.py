"""Jobs that work on a picture with an image recipe but are not a plain generation: ``studio detail``'s (the
detailer's pass over a picture that already exists, saved beside it as its child) and the Canvas's live painting
(a frame for the box, shown and never saved)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from studio.core.image.specs import GenerateSpec
from studio.core.jobs import JobKind


@dataclass(frozen=True)
class DetailSpec:
    """Redraw what ``recipe.details`` name in ``image`` with ``recipe``'s model, prompts, sampler, steps and seed."""

    kind: ClassVar[JobKind] = JobKind.DETAIL

    image: str
    recipe: GenerateSpec


@dataclass(frozen=True)
class LiveSpec:
    """One frame of live painting: ``recipe`` (image to image of the box's picture at a low strength) made and
    shown as a preview; nothing is saved, and a newer frame makes an older one stale."""

    kind: ClassVar[JobKind] = JobKind.LIVE

    recipe: GenerateSpec
