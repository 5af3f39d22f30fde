"""``studio upscale``: a larger copy of a picture (Lanczos, or an upscaler model run in tiles), saved as the
picture's child in the gallery (or ``--out``) — the same job as the gallery's *Upscale…*."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from studio.cli.common import (
    EXIT_USAGE,
    add_fields,
    draft_of,
    explain,
    fail,
    home_option,
    open_runtime,
    run_job,
)
from studio.core.image.upscale_recipe import UPSCALE


def register(sub: Any) -> None:
    u = sub.add_parser("upscale", help="upscale a picture (Lanczos, or an ESRGAN-family model in tiles)")
    home_option(u)
    u.add_argument("image", help="the picture to upscale")
    add_fields(u, UPSCALE, skip=("image",))
    u.add_argument("--out", help="write the result to this folder instead of the gallery")
    u.add_argument("--json", action="store_true", help="print a JSON object for the result")
    u.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from studio.cli.generate import library
    from studio.core.image.finders import upscaler_finder
    from studio.core.image.upscale_recipe import freeze_upscale
    from studio.core.jobs.events import ItemSaved, Loading, Progress

    out = Path(args.out).expanduser() if args.out else None
    rt = open_runtime(args, gallery_dir=out)
    entries = library(rt)
    folders = [rt.paths.models_dir, *(Path(p) for p in rt.settings.model_folders)]
    finder = upscaler_finder(
        folders, lambda: [(e.path.stem, e.path) for e in entries() if e.kind == "upscaler"]
    )
    frozen = freeze_upscale({**draft_of(args, UPSCALE), "image": args.image}, finder)
    if isinstance(frozen, dict):
        rt.close()
        return fail(explain(frozen, UPSCALE), EXIT_USAGE)
    spec = frozen
    tty = sys.stderr.isatty()

    def on_event(e: Any) -> None:
        if isinstance(e, Loading):
            print(e.what, file=sys.stderr)
        elif isinstance(e, Progress) and tty:
            print(f"\rtile {e.step}/{e.total}", end="", file=sys.stderr, flush=True)
        elif isinstance(e, ItemSaved):
            if tty:
                print("\r\033[K", end="", file=sys.stderr)
            item = e.item
            if args.json:
                print(json.dumps({"path": str(item.path), "width": item.width, "height": item.height,
                                  "scale": spec.scale, "upscaler": spec.upscaler_name, "source": spec.image}),
                      flush=True)  # fmt: skip
            else:
                print(item.path, flush=True)

    return run_job(rt, spec, on_event)
