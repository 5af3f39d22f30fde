"""``studio segment`` (a mask of what points, boxes or words select) and ``studio remove-background`` (the picture
with its background transparent), with Segment Anything, an open-vocabulary detector and a matting model from the
models folder (or given by path)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from studio.cli.common import EXIT_USAGE, fail, home_option, open_runtime, run_job

OPTION_OF = {"points": "--point", "exclude": "--exclude", "boxes": "--box", "text": "--text", "threshold":
             "--threshold", "image": "IMAGE", "out": "--out", "segmenter": "--segmenter", "detector": "--detector",
             "matting": "--matting"}  # fmt: skip


def register(sub: Any) -> None:
    s = sub.add_parser("segment", help="select a part of a picture (Segment Anything): a mask PNG")
    _common(s, "the mask to write (.png: white is selected)")
    s.set_defaults(run=lambda args: run(args, cutout=False))
    r = sub.add_parser("remove-background", help="the picture with its background transparent (a PNG)")
    _common(r, "the cut-out to write (.png with transparency)")
    r.add_argument(
        "--matting", metavar="FOLDER", help="a ViTMatte model for fine edges (default: the library's)"
    )
    r.set_defaults(run=lambda args: run(args, cutout=True))


def _common(p: argparse.ArgumentParser, out_help: str) -> None:
    home_option(p)
    p.add_argument("image", help="the picture")
    p.add_argument("--out", required=True, help=out_help)
    p.add_argument("--point", action="append", default=[], metavar="X,Y", help="a point on the thing (pixels); "
                   "repeatable: several points, one thing")  # fmt: skip
    p.add_argument(
        "--exclude", action="append", default=[], metavar="X,Y", help="a point that is not the thing"
    )
    p.add_argument("--box", action="append", default=[], metavar="X0,Y0,X1,Y1", help="the thing inside this box "
                   "(pixels); repeatable")  # fmt: skip
    p.add_argument("--text", default="", metavar="WORDS", help="what to select, in words (comma-separated for "
                   "several: a face, hands); needs a detector")  # fmt: skip
    p.add_argument(
        "--threshold", type=float, default=0.1, help="the detector's score a thing must reach (0–1)"
    )
    p.add_argument("--segmenter", metavar="FOLDER", help="a Segment Anything model (default: the library's)")
    p.add_argument("--detector", metavar="FOLDER", help="an OWLv2 / OWL-ViT model (default: the library's)")
    p.add_argument("--json", action="store_true", help="print a JSON object for the result")


def run(args: argparse.Namespace, cutout: bool) -> int:
    from studio.cli.generate import library
    from studio.core.image.selection import (
        DETECTOR,
        MATTING,
        SEGMENTER,
        SelectionDraft,
        SelectionMade,
        freeze_selection,
    )
    from studio.core.jobs.events import Loading, Note

    if Path(args.out).suffix.lower() != ".png":
        return fail(f"--out: write a .png file (given {args.out}).", EXIT_USAGE)
    rt = open_runtime(args)
    entries = library(rt)
    by_kind = {k: [e.path for e in entries() if e.kind == k] for k in (SEGMENTER, DETECTOR, MATTING)}
    given = {
        SEGMENTER: args.segmenter or "",
        DETECTOR: args.detector or "",
        MATTING: getattr(args, "matting", "") or "",
    }
    draft = SelectionDraft(args.image, args.out, args.point, args.exclude, args.box, args.text, args.threshold,
                           cutout, {k: v for k, v in given.items() if v})  # fmt: skip
    frozen = freeze_selection(draft, by_kind, _size_of)
    if isinstance(frozen, dict):
        rt.close()
        key, message = next(iter(frozen.items()))
        return fail(f"{OPTION_OF.get(key, '--' + key)}: {message}", EXIT_USAGE)

    def on_event(e: Any) -> None:
        if isinstance(e, Loading | Note):
            print(getattr(e, "what", "") or getattr(e, "text", ""), file=sys.stderr)
        elif isinstance(e, SelectionMade):
            if args.json:
                print(json.dumps({"path": e.path, "share": round(e.share, 4), "matted": e.matted,
                                  "found": [{"box": [round(v, 1) for v in f[:4]], "score": round(f[4], 3)}
                                            for f in e.found]}), flush=True)  # fmt: skip
            else:
                print(e.path, flush=True)

    return run_job(rt, frozen, on_event)


def _size_of(path: str) -> tuple[int, int] | str:
    from PIL import Image, ImageOps, UnidentifiedImageError

    from studio.core.io.pictures import open_picture

    if not Path(path).expanduser().is_file():
        return f"{path} does not exist."
    try:
        with open_picture(str(Path(path).expanduser())) as im:
            return ImageOps.exif_transpose(im).size
    except (UnidentifiedImageError, OSError, Image.DecompressionBombError):
        return f"{Path(path).name} is not an image Studio can read."
