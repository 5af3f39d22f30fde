"""What the Writer shows of a language model at work, beyond its text: which earlier tokens a token attended to,
and the same start written with different settings side by side."""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any, ClassVar

from studio.core.jobs import A1111_MAX_SEED, RANDOM_SEED, JobKind
from studio.core.text.text_specs import WriteSpec
from studio.core.text.writer_context import StoryContext

COMPARE_FIELDS = ("temperature", "top_p", "top_k", "min_p", "typical_p", "repetition_penalty")
COMPARE_DEFAULTS = {"temperature": "0.2, 0.8, 1.5", "top_p": "0.5, 0.9, 1", "top_k": "1, 10, 0",
                    "min_p": "0, 0.05, 0.2", "typical_p": "0.2, 0.6, 1",
                    "repetition_penalty": "1, 1.2, 1.5"}  # fmt: skip
MAX_COMPARED = 6


@dataclass(frozen=True)
class TextAttentionSpec:
    """Read ``text`` with the model and record, for the token that covers character ``target``, how much it
    attended to each earlier token (averaged over heads and layers)."""

    kind: ClassVar[JobKind] = JobKind.TEXT_ATTENTION
    model: str
    text: str
    target: int  # a character offset in ``text``
    quantize: str = "auto"


@dataclass(frozen=True)
class TextAttention:
    target: tuple[int, int]  # the token's characters in the text
    token: str
    spans: tuple[
        tuple[int, int, float], ...
    ]  # each earlier token: its characters and its share (they sum to 1)
    layers: int
    heads: int
    sink: float = 0.0  # the raw share of the first position (a "sink" most models park attention on)

    def strongest(self, n: int = 8) -> list[tuple[int, int, float]]:
        return sorted(self.spans, key=lambda s: -s[2])[:n]


def compare_values(field: str, text: str) -> tuple[list[Any], str]:
    """The values to compare for ``field`` from "0.2, 0.8, 1.5": (values, '') or ([], the problem)."""
    from studio.core.text.recipe import TEXT

    if field not in COMPARE_FIELDS:
        return [], f"{field} cannot be compared; choose one of {', '.join(COMPARE_FIELDS)}."
    parts = [p.strip() for p in text.replace(";", ",").split(",") if p.strip()]
    if not 2 <= len(parts) <= MAX_COMPARED:
        return [], f"Give 2 to {MAX_COMPARED} values, separated by commas."
    f, values = TEXT[field], []
    for p in parts:
        try:
            v = f.convert(p)
        except ValueError as e:
            return [], f"{p!r}: {e}"
        if problem := f.check(v):
            return [], f"{p}: {problem}"
        values.append(v)
    return values, ""


def compare_specs(
    draft: dict[str, Any],
    story: str,
    field: str,
    values: list[Any],
    context: StoryContext | None = None,
    seed: int | None = None,
) -> list[WriteSpec] | str:
    """One job per value, the same start and — whatever the draft says — the same seed, so the setting is the
    only difference; or the problem."""
    from studio.core.text.recipe import freeze_text

    fixed = draft.get("seed", RANDOM_SEED)
    if seed is None:
        seed = fixed if isinstance(fixed, int) and fixed != RANDOM_SEED else random.randint(0, A1111_MAX_SEED)
    specs = []
    for v in values:
        frozen = freeze_text({**draft, field: v, "seed": seed}, story, context=context)
        if isinstance(frozen, dict):
            return " ".join(frozen.values())
        specs.append(frozen)
    return specs
