"""The training recipe: the fields of a LoRA run (the Fine-tune room, ``studio train``), its presets, the values
derived from others (alpha from the rank, the resolution from the base model, how often to sample and checkpoint),
and the road from a draft to a frozen ``TrainSpec``."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import fields as dc_fields
from typing import Any

from studio.core.jobs import JobKind
from studio.core.jobs.fields import Field, table_of
from studio.core.train.train_specs import (
    PRESETS,
    TrainSpec,
    validate_train,
)

PRESET = Field(
    "preset",
    str,
    "person",
    "Preset",
    "Sane values for about 20 pictures: person, object or style.",
    choices=tuple(PRESETS),
)  # a draft's: resolved into the spec's values
TRAIN = table_of(TrainSpec, JobKind.TRAIN, before=(PRESET,))  # declared once, on the spec


def sample_interval(steps: int) -> int:
    """Steps between sample pictures when the recipe does not say: a sixth of the run, at most 250."""
    return max(1, min(250, steps // 6))


def checkpoint_default(steps: int) -> int:
    """Steps between checkpoints when the recipe does not say: a tenth of the run, at most 250."""
    return max(1, min(250, steps // 10))


def default_alpha(preset: str, rank: int) -> float:
    """The preset's alpha at the preset's rank; at another rank, the rank (the LoRA's scale stays 1)."""
    p = PRESETS[preset]
    return float(p["alpha"]) if rank == p["rank"] else float(rank)


def complete(draft: dict[str, Any]) -> dict[str, Any]:
    """Defaults, then the preset's values, then the draft's own."""
    out = TRAIN.defaults()
    preset = draft.get("preset", out["preset"])
    values = PRESETS.get(preset, {}) if isinstance(preset, str) else {}
    out.update({k: v for k, v in values.items() if k in TRAIN and k != "alpha"})  # alpha follows the rank
    out.update({k: v for k, v in draft.items() if k in TRAIN})
    return out


def freeze_train(
    draft: dict[str, Any],
    *,
    dataset: str,
    out: str,
    run_dir: str,
    class_dir: str = "",
    native_resolution: Callable[[str], int] = lambda base: 512,
) -> TrainSpec | dict[str, str]:
    """The frozen run, or the problems by field. The dataset, output and run folder come from the caller."""
    problems: dict[str, str] = {}
    values = TRAIN.convert(complete(draft), problems)
    problems.update(TRAIN.check(values, [n for n in values if n not in problems]))
    if problems:
        return problems
    preset = PRESETS[values["preset"]]
    if values["alpha"] is None:
        values["alpha"] = (
            float(preset["alpha"]) if values["rank"] == preset["rank"] else float(values["rank"])
        )
    if values["resolution"] is None:
        values["resolution"] = native_resolution(values["base"])
    steps = values["steps"]
    if values["sample_every"] is None:
        values["sample_every"] = sample_interval(steps)
    if values["checkpoint_every"] is None:
        values["checkpoint_every"] = checkpoint_default(steps)
    names = {f.name for f in dc_fields(TrainSpec)}
    spec = TrainSpec(
        **{k: v for k, v in values.items() if k in names},
        dataset=dataset,
        out=out,
        run_dir=run_dir,
        class_dir=class_dir if (class_dir or values["class_images"]) else "",
        warmup_steps=min(int(preset["warmup_steps"]), max(0, steps // 10)),  # a short run warms up briefly
    )
    return validate_train(spec) or spec
