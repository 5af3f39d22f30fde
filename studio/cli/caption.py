"""``studio caption DIR``: captions for a folder of pictures from a local captioning model (BLIP, GIT, Florence-2),
written as kohya's ``.txt`` files beside them — or into a Studio dataset folder's captions — as sentences or tags,
led by a trigger word when asked."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from studio.cli.common import EXIT_OK, EXIT_USAGE, fail, home_option, open_runtime, run_job


def register(sub: Any) -> None:
    c = sub.add_parser("caption", help="caption a folder of pictures for training (.txt beside each)")
    home_option(c)
    c.add_argument("folder", help="a folder of pictures, or a Studio dataset folder")
    c.add_argument("--model", metavar="FOLDER", help="a captioning model (default: the library's first)")
    c.add_argument("--style", choices=("sentences", "tags"), default="sentences", help="a sentence per picture, "
                   "or tags (the sentence's phrases, comma-separated) (default: sentences)")  # fmt: skip
    c.add_argument("--prefix", default="", metavar="TRIGGER", help="put this word first in every caption")
    c.add_argument(
        "--overwrite", action="store_true", help="caption pictures that already have a caption too"
    )
    c.add_argument("--json", action="store_true", help="a JSON line per picture")
    c.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from studio.cli.generate import library
    from studio.core.train.dataset import IMAGE_SUFFIXES, Dataset
    from studio.core.train.train_specs import CaptionsMade, CaptionSpec

    folder = Path(args.folder).expanduser().resolve()
    if not folder.is_dir():
        return fail(f"{args.folder} is not a folder.", EXIT_USAGE)
    is_dataset = (folder / "dataset.json").is_file()
    pictures = [] if is_dataset else sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    if not is_dataset and not pictures:
        return fail(f"{folder} holds no pictures (.png, .jpg, .webp, …).", EXIT_USAGE)
    todo = tuple(str(p) for p in pictures if args.overwrite or not p.with_suffix(".txt").exists())
    rt = open_runtime(args)
    model = args.model or next((str(e.path) for e in library(rt)() if e.kind == "captioner"), "")
    if not model:
        rt.close()
        return fail("No captioning model is installed: get “Florence-2 (base)” or “BLIP image captioning (base)” "
                    "with studio models download, or give one with --model FOLDER.", EXIT_USAGE)  # fmt: skip
    if not is_dataset and not todo:
        rt.close()
        print(
            "studio: every picture already has a caption (--overwrite captions them again)", file=sys.stderr
        )
        return EXIT_OK
    spec = CaptionSpec(dataset=str(folder) if is_dataset else "", model=str(Path(model).expanduser()),
                       overwrite=args.overwrite, images=todo, style=args.style)  # fmt: skip
    written: list[tuple[str, str]] = []

    def on_event(e: Any) -> None:
        if isinstance(e, CaptionsMade):
            written.extend(e.captions)

    code = run_job(rt, spec, on_event)
    if code != EXIT_OK:
        return code
    from studio.core.train.caption_tags import with_prefix
    from studio.core.train.dataset import text_writer

    if is_dataset:
        ds = Dataset.open(folder)
        by_file = {img.file: img for img in ds.images}
        for file, caption in written:
            if file in by_file:
                by_file[file].caption = with_prefix(caption, args.prefix)
        ds.save()
    else:
        from studio.core.io.atomic import atomic_write

        for path, caption in written:
            atomic_write(Path(path).with_suffix(".txt"), text_writer(with_prefix(caption, args.prefix)))
    for path, caption in written:
        shown = with_prefix(caption, args.prefix)
        print(json.dumps({"picture": path, "caption": shown}) if args.json else f"{Path(path).name}: {shown}")
    return EXIT_OK
