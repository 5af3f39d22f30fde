"""``studio plot``: AUTOMATIC1111's X/Y/Z plot — the same recipe over up to three axes (any recipe field, a LoRA's
weight, a prompt search/replace); every cell is a normal image, the grid with labelled axes one more."""

from __future__ import annotations

import argparse
import json
from typing import Any

from studio.cli.common import (
    EXIT_OK,
    EXIT_USAGE,
    UsageError,
    explain,
    fail,
    open_runtime,
    run_job,
)
from studio.core.image.recipe import IMAGE


def register(sub: Any) -> None:
    from studio.cli.generate import image_job_options

    p = sub.add_parser("plot", help="compare: the same recipe over X/Y/Z axes, as one labelled grid")
    image_job_options(p)
    for letter in "xyz":
        p.add_argument(f"--{letter}", metavar="NAME=VALUES", help=f"the {letter.upper()} axis: seed=1,2,3 · "
                       "cfg=3,7 · steps=10-30:3 · sampler=Euler,DPM++ 2M · lora:NAME=0,0.5,1 · prompt=SR:red,blue")  # fmt: skip
    p.add_argument("--json", action="store_true", help='{"grid": PATH, "cells": [{"path", "x", "y", "z"}]}')
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from studio.cli.generate import build_draft, image_context, library
    from studio.core.image.plot import freeze_plot
    from studio.core.jobs.events import ItemSaved

    axes = [a for a in (args.x, args.y, args.z) if a]
    if not axes:
        return fail("give at least --x NAME=VALUES (and --y, --z).", EXIT_USAGE)
    rt = open_runtime(args, gallery_dir=Path(args.out).expanduser() if args.out else None)
    try:
        entries = library(rt)

        def find_model(name: str) -> str | None:
            return next((str(e.path) for e in entries() if e.kind == "checkpoint" and e.name == name), None)

        draft = build_draft(args, rt, find_model)
        frozen = freeze_plot(draft, axes, image_context(rt, entries))
        if isinstance(frozen, dict):
            raise UsageError(frozen["axes"] if "axes" in frozen else explain(frozen, IMAGE))
    except UsageError as e:
        rt.close()
        return fail(str(e), EXIT_USAGE)
    made: list[str] = []
    code = run_job(rt, frozen, lambda e: isinstance(e, ItemSaved) and made.append(str(e.item.path)))
    if code != EXIT_OK:
        return code
    cells = [
        {"path": p, **dict(zip("xyz", labels, strict=False))}
        for p, labels in zip(made, frozen.labels, strict=False)
    ]
    if args.json:
        print(json.dumps({"grid": made[-1], "cells": cells}, ensure_ascii=False))
    else:
        print(made[-1])
    return EXIT_OK
