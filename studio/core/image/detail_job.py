"""``studio detail``'s job: the detailer's pass over a picture that already exists, with the image model and
prompts of its own recipe (or given), saved beside it in the gallery as its child."""

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
