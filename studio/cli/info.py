"""``studio info``: the recipe inside images, whichever tool wrote it."""

from __future__ import annotations

import argparse
import json
from typing import Any

from studio.cli.common import EXIT_FAILED, EXIT_OK, home_option


def register(sub: Any) -> None:
    i = sub.add_parser(
        "info", help="show the recipe inside images (Studio, A1111/Forge, ComfyUI, InvokeAI, …)"
    )
    home_option(i)
    i.add_argument("images", nargs="+")
    i.add_argument("--json", action="store_true", help="one normalised JSON object per image")
    i.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from studio.core.image.recipe_readers import read_recipe

    code = EXIT_OK
    for name in args.images:
        r = read_recipe(name)
        if r.source == "none":
            code = EXIT_FAILED
        if args.json:
            print(json.dumps({"file": name, **r.to_json()}, ensure_ascii=False, default=str), flush=True)
            continue
        print(f"{name}  ({r.source})")
        if r.prompt:
            print(f"  Prompt: {r.prompt}")
        if r.negative_prompt:
            print(f"  Negative prompt: {r.negative_prompt}")
        facts = [
            ("Steps", r.steps),
            ("Sampler", " ".join(x for x in (r.sampler, r.schedule) if x)),
            ("CFG scale", r.cfg_scale),
            ("Seed", r.seed),
            ("Size", f"{r.width}x{r.height}" if r.width else ""),
            ("Model", r.model),
            ("LoRAs", ", ".join(r.loras)),
        ]
        line = ", ".join(f"{k}: {v}" for k, v in facts if v not in (None, ""))
        if line:
            print(f"  {line}")
        for problem in r.problems:
            print(f"  ! {problem}")
    return code
