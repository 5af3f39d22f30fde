"""``studio detail IMAGE --target face``: the detailer's pass (ADetailer's way) over a picture that already exists,
with the model and prompts of its own recipe (or given), saved in the gallery as its child (or ``--out``)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from studio.cli.common import EXIT_USAGE, UsageError, explain, fail, home_option, open_runtime, run_job


def register(sub: Any) -> None:
    d = sub.add_parser("detail", help="find faces, hands or anything named and redraw them (ADetailer)")
    home_option(d)
    d.add_argument("image", help="the picture")
    d.add_argument("--target", action="append", required=True, metavar="WORDS",
                   help="what to find and redraw (face, hand, or any words); repeatable")  # fmt: skip
    d.add_argument("--prompt", default="", help="what to redraw it as (default: the picture's prompt)")
    d.add_argument(
        "--strength", type=float, default=0.4, help="how much to change it (0–1; 0.3–0.5 is typical)"
    )
    d.add_argument("--confidence", type=float, default=0.3, help="how sure the detector must be (0–1)")
    d.add_argument("--model", help="the image model (default: the picture's own, found in the library)")
    d.add_argument("--steps", type=int, help="denoising steps (default: the picture's)")
    d.add_argument("--seed", type=int, help="the seed (default: the picture's)")
    d.add_argument("--out", help="write the result to this folder instead of the gallery")
    d.add_argument("--json", action="store_true", help="print a JSON object for the result")
    d.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from studio.core.image.detail_job import DetailSpec
    from studio.core.jobs.events import ItemSaved, Loading, Note

    out = Path(args.out).expanduser() if args.out else None
    rt = open_runtime(args, gallery_dir=out)
    try:
        details = [{"target": t, "prompt": args.prompt, "strength": args.strength, "confidence": args.confidence}
                   for t in args.target]  # fmt: skip
        frozen = picture_recipe(args, rt, {"details": details})
    except UsageError as e:
        rt.close()
        return fail(str(e), EXIT_USAGE)

    def on_event(e: Any) -> None:
        if isinstance(e, Loading):
            print(e.what, file=sys.stderr)
        elif isinstance(e, Note):
            print(f"studio: {e.text}", file=sys.stderr)
        elif isinstance(e, ItemSaved):
            item = e.item
            print(json.dumps({"path": str(item.path), "source": str(Path(args.image).resolve()),
                              "details": [u.target for u in frozen.details]}) if args.json else item.path,
                  flush=True)  # fmt: skip

    return run_job(rt, DetailSpec(str(Path(args.image).expanduser().resolve()), frozen), on_event)


def picture_recipe(args: argparse.Namespace, rt: Any, extra: dict[str, Any]) -> Any:
    """The frozen recipe a picture is worked on with: its own recipe (when it has one: the model found in the
    library), ``args``' --model, --prompt, --steps and --seed over it, ``extra`` fields; ``UsageError`` else."""
    from studio.cli.generate import default_model, image_context, library
    from studio.core.image.recipe import IMAGE, freeze_image

    entries = library(rt)
    draft = _draft(args, lambda name: next((str(e.path) for e in entries()
                                            if e.kind == "checkpoint" and e.name == name), None))  # fmt: skip
    draft.update(extra)
    draft["model"] = args.model or draft.get("model") or default_model(rt)
    frozen = freeze_image(draft, image_context(rt, entries))
    if isinstance(frozen, dict):
        raise UsageError(explain(frozen, IMAGE))
    return frozen


def _draft(args: argparse.Namespace, find_model: Any) -> dict[str, Any]:
    """The picture's recipe (when it has one), its size, the command line's targets and overrides."""
    from PIL import Image, UnidentifiedImageError

    from studio.core.image.from_image import draft_from_image
    from studio.core.io.pictures import open_picture
    from studio.core.io.untrusted import Unreadable

    path = Path(args.image).expanduser()
    if not path.is_file():
        raise UsageError(f"IMAGE: {args.image} does not exist.")
    try:
        with open_picture(str(path)) as im:
            size = im.size
    except (UnidentifiedImageError, OSError, Image.DecompressionBombError):
        raise UsageError(f"IMAGE: {path.name} is not an image Studio can read.") from None
    found = draft_from_image(path, find_model)
    draft: dict[str, Any] = {} if isinstance(found, Unreadable) else dict(found[0])
    for key in ("init_image", "mask", "parent_image", "regions", "controls", "references"):
        draft.pop(key, None)  # the picture is made: only its model, prompts and sampler are used
    draft.setdefault("prompt", args.prompt)
    draft.update(width=max(64, min(4096, size[0] // 8 * 8)), height=max(64, min(4096, size[1] // 8 * 8)),
                 hires_scale=1.0, refiner="", batch_size=1, batch_count=1)  # fmt: skip
    draft.update({k: v for k, v in (("steps", args.steps), ("seed", args.seed)) if v is not None})
    return draft
