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
    UsageError,
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
    r = u.add_argument_group("refine (a creative upscale: re-diffused tile by tile)")
    r.add_argument("--creativity", type=float, default=0.0, help="how much each tile may change (0: a plain "
                   "upscale; 0.2–0.5 adds detail)")  # fmt: skip
    r.add_argument(
        "--structure", type=float, default=0.6, help="how strongly a tile ControlNet holds each tile"
    )
    r.add_argument(
        "--refine-tile", type=int, default=512, help="the refine's tile, px (the model's working size)"
    )
    r.add_argument("--controlnet", metavar="NAME|PATH", help="the tile ControlNet (default: the library's tile "
                   "ControlNet for the model's family)")  # fmt: skip
    r.add_argument("--model", help="the image model (default: the picture's own)")
    r.add_argument("--prompt", default="", help="what the picture shows (default: its own prompt)")
    r.add_argument("--steps", type=int, help="denoising steps (default: the picture's)")
    r.add_argument("--seed", type=int, help="the seed (default: the picture's)")
    u.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from studio.cli.generate import library
    from studio.core.image.finders import upscaler_finder
    from studio.core.image.upscale_recipe import freeze_upscale
    from studio.core.jobs.events import ItemSaved, Loading, Note, Progress

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
    spec: Any = frozen
    if args.creativity:
        try:
            spec = _refine_spec(args, rt, frozen)
        except UsageError as e:
            rt.close()
            return fail(str(e), EXIT_USAGE)
    tty = sys.stderr.isatty()

    def on_event(e: Any) -> None:
        if isinstance(e, Loading):
            print(e.what, file=sys.stderr)
        elif isinstance(e, Note):
            print(f"studio: {e.text}", file=sys.stderr)
        elif isinstance(e, Progress) and tty:
            print(f"\rtile {e.step}/{e.total}", end="", file=sys.stderr, flush=True)
        elif isinstance(e, ItemSaved):
            if tty:
                print("\r\033[K", end="", file=sys.stderr)
            item = e.item
            if args.json:
                print(json.dumps({"path": str(item.path), "width": item.width, "height": item.height,
                                  "scale": frozen.scale, "upscaler": frozen.upscaler_name, "source": frozen.image,
                                  "creativity": args.creativity}),
                      flush=True)  # fmt: skip
            else:
                print(item.path, flush=True)

    return run_job(rt, spec, on_event)


def _refine_spec(args: argparse.Namespace, rt: Any, plain: Any) -> Any:
    """The creative upscale: the plain upscale's picture, scale and upscaler, refined with the picture's recipe."""
    from studio.cli.detail import picture_recipe
    from studio.cli.generate import library
    from studio.core.image.tiled_refine import RefineUpscaleSpec, is_tile_controlnet
    from studio.core.models.model_library import describe_path

    if not 0 < args.creativity <= 1 or not 0 <= args.structure <= 2:
        raise UsageError("--creativity is 0–1 (0.2–0.5 is typical) and --structure 0–2.")
    if args.refine_tile < 64 or args.refine_tile % 64:
        raise UsageError("--refine-tile: a multiple of 64 px, at least 64.")
    recipe = picture_recipe(args, rt, {"regions": [], "details": []})
    family = str(describe_path(Path(recipe.model)).get("family") or "")
    nets = [
        e.path for e in library(rt)() if e.kind == "controlnet" and e.family in (family, "")
    ]  # "": unknown
    if args.controlnet:
        named = [p for p in nets if p.stem == args.controlnet or str(p) == args.controlnet]
        path = Path(args.controlnet).expanduser()
        if not named and not path.exists():
            raise UsageError(f"--controlnet: no ControlNet {args.controlnet!r} for this model's family.")
        net = str(named[0] if named else path.resolve())
    else:
        net = next((str(p) for p in nets if is_tile_controlnet(p.name)), "")
    return RefineUpscaleSpec(plain.image, recipe, plain.scale, plain.upscaler, args.creativity, args.structure,
                             args.refine_tile, net)  # fmt: skip
