"""``studio train``: a dataset from a folder of pictures, a LoRA trained on the same queue and trainer as the
window's Fine-tune room — frozen by the same training recipe — progress on stderr (or JSON lines), exit 0 with the
LoRA written. ``kill -USR1`` of this process saves a checkpoint after the current step."""

from __future__ import annotations

import argparse
import dataclasses
import json
import signal
import sys
import time
from pathlib import Path
from typing import Any

from studio.cli.common import (
    EXIT_OK,
    EXIT_USAGE,
    add_fields,
    draft_of,
    explain,
    fail,
    home_option,
    open_runtime,
    run_job,
)
from studio.core.train.recipe import TRAIN


def register(sub: Any) -> None:
    t = sub.add_parser("train", help="train a LoRA on your pictures")
    home_option(t)
    t.add_argument("--images", help="a folder of pictures (copied; the originals are never changed)")
    add_fields(t, TRAIN)
    t.add_argument("--class-dir", help="a folder of class pictures (default with --class-images: Studio's folder "
                   "for the class word, filled by the base model)")  # fmt: skip
    t.add_argument("--mask-dir", metavar="DIR", help="masks named like the pictures (photo1.png for photo1.jpg; white: "
                   "the subject): the loss counts the rest at --mask-floor")  # fmt: skip
    keep = t.add_mutually_exclusive_group()
    keep.add_argument("--keep-flagged", action="store_true", help="train on flagged pictures too (too small, very "
                      "blurry, near-duplicates), as ticking them in the room does")  # fmt: skip
    keep.add_argument("--drop-flagged", action="store_true", help="leave out every flagged picture")
    t.add_argument("--resume", metavar="RUN_DIR", help="continue an interrupted run from its last checkpoint")
    t.add_argument("--out", help="the LoRA to write (.safetensors)")
    t.add_argument("--export-run", metavar="DIR", help="prepare the run in DIR (dataset, recipe, command) to train "
                   "on another machine instead of here: studio train --resume DIR there")  # fmt: skip
    t.add_argument("--import-result", metavar="DIR", help="bring back a run trained elsewhere: its LoRA into the "
                   "library, its loss curve and samples among the runs")  # fmt: skip
    t.add_argument("--json", action="store_true", help="progress as JSON lines")
    t.set_defaults(run=run)


def _new_run(args: argparse.Namespace, rt: Any) -> Any:
    """(spec, dataset) for a new run, or an error sentence."""
    from studio.core.models.builtin_models import builtin_image_models
    from studio.core.train.dataset import Dataset
    from studio.core.train.recipe import freeze_train
    from studio.core.train.train_plan import base_profile

    missing = [name for name in ("images", "out") if not getattr(args, name)]
    if missing:
        return "missing " + ", ".join(f"--{m}" for m in missing) + "."
    draft = draft_of(args, TRAIN)
    draft.setdefault(
        "base", rt.settings.image_model or next((str(m.path) for m in builtin_image_models()), "")
    )
    out = Path(args.out).expanduser().resolve()
    run = rt.paths.training_dir / "runs" / f"{out.stem}-{time.strftime('%Y%m%d-%H%M%S')}"
    if args.export_run:  # the run folder is the export: dataset, recipe and command, to train elsewhere
        run = Path(args.export_run).expanduser().resolve()
        if run.exists() and any(run.iterdir()):
            return f"--export-run: {run} is not empty."
    class_dir = args.class_dir or ""
    if not class_dir and draft.get("class_images"):
        word = "".join(c if c.isalnum() else "-" for c in str(draft.get("class_word", "")).lower()) or "class"
        class_dir = str(rt.paths.training_dir / "class" / word)
    frozen = freeze_train(draft, dataset=str(run / "dataset"), out=str(out), run_dir=str(run),
                          class_dir=class_dir, native_resolution=lambda b: base_profile(b).resolution)  # fmt: skip
    if isinstance(frozen, dict):
        return explain(frozen, TRAIN)
    images = Path(args.images).expanduser()
    if not images.is_dir():
        return f"{images} is not a folder of pictures."
    ds = Dataset(run / "dataset", trigger=frozen.trigger, class_word=frozen.class_word,
                 resolution=frozen.resolution)  # fmt: skip
    ds.add_files([images])
    if args.keep_flagged or args.drop_flagged:
        ds.keep_flagged(args.keep_flagged)
        ds.save()
    if args.mask_dir:
        from studio.core.train.dataset_masks import import_masks

        masks = Path(args.mask_dir).expanduser()
        if not masks.is_dir():
            return f"--mask-dir: {masks} is not a folder."
        matched, problems = import_masks(ds, masks)
        for line in problems:
            print(f"studio: mask {line}", file=sys.stderr)
        if not matched:
            return f"--mask-dir: no mask in {masks} is named like a picture (photo1.png for photo1.jpg)."
        print(f"studio: {matched} pictures have a mask", file=sys.stderr)
    for line in ds.skipped:
        print(f"studio: {line}", file=sys.stderr)
    for img in ds.images:
        if flags := ds.flags(img):
            state = "used" if ds.is_used(img) else "left out"
            print(f"studio: {Path(img.source).name}: {', '.join(flags)} ({state})", file=sys.stderr)
    if problems := ds.problems():
        hint = "" if args.keep_flagged else " (--keep-flagged trains on flagged pictures too)"
        return problems[0] + hint
    print(f"{len(ds.used())} pictures; run folder {run} (resume with --resume {run})", file=sys.stderr)
    return frozen


def run(args: argparse.Namespace) -> int:
    from studio.core.io.untrusted import Unreadable
    from studio.core.train.train_specs import (
        read_run_spec,
    )

    rt = open_runtime(args)
    if args.import_result:
        return _import(args, rt)
    if args.resume:
        found = read_run_spec(Path(args.resume).expanduser().resolve())
        if isinstance(found, Unreadable):
            rt.close()
            return fail(f"{found.why}.", EXIT_USAGE)
        # what belongs to the machine may differ where the run goes on: the base model's place, accelerate
        machine = {k: getattr(args, k, None) for k in ("base", "accelerate", "accelerate_config")}
        spec = dataclasses.replace(found, **{k: v for k, v in machine.items() if v is not None})
    else:
        made = _new_run(args, rt)
        if isinstance(made, str):
            rt.close()
            return fail(made, EXIT_USAGE)
        spec = made
        if args.export_run:
            from studio.core.train.train_transfer import export_run

            how = export_run(spec, Path(spec.run_dir))
            rt.close()
            if args.json:
                print(json.dumps({"exported": spec.run_dir, "instructions": str(how)}))
            else:
                print(how.read_text("utf-8"))
            return EXIT_OK

    on_event = _printer(args)
    if hasattr(signal, "SIGUSR1"):
        signal.signal(signal.SIGUSR1, lambda *_: rt.trainer.request_checkpoint())
    code = run_job(rt, spec, on_event)
    if code != EXIT_OK and not args.json:
        print(f"studio: the run folder is {spec.run_dir}; continue with studio train --resume {spec.run_dir}",
              file=sys.stderr)  # fmt: skip
    return code


def _printer(args: argparse.Namespace) -> Any:
    """What the run says as it goes: JSON lines on stdout with --json, else a progress line and notes on stderr."""
    from studio.core.jobs.events import Note
    from studio.core.train.train_specs import (
        CheckpointSaved,
        SamplesSaved,
        TrainDone,
        TrainStep,
        ValidationLoss,
    )

    started = time.monotonic()
    tty = sys.stderr.isatty()

    def on_event(e: Any) -> None:
        if isinstance(e, TrainStep):
            eta = (e.total - e.step) * e.seconds / max(1, e.step) if e.seconds else None
            if args.json:
                print(json.dumps({"step": e.step, "total": e.total, "loss": round(e.loss, 6), "lr": e.lr,
                                  "eta_s": None if eta is None else round(eta, 1)}), flush=True)  # fmt: skip
            elif tty or e.step == e.total or e.step % 50 == 0:
                end = "" if tty and e.step < e.total else "\n"
                left = f", {eta:.0f} s left" if eta is not None else ""
                text = f"step {e.step}/{e.total}  loss {e.loss:.4f}{left}"
                print(f"\r{text}\033[K" if tty else text, end=end, file=sys.stderr, flush=True)
        elif isinstance(e, ValidationLoss):
            if args.json:
                print(
                    json.dumps({"step": e.step, "validation_loss": round(e.loss, 6), "pictures": e.pictures}),
                    flush=True,
                )
            else:
                lead = "\n" if tty else ""
                print(f"{lead}studio: validation loss {e.loss:.4f} at step {e.step} ({e.pictures} held-out "
                      "pictures)", file=sys.stderr)  # fmt: skip
        elif isinstance(e, CheckpointSaved | SamplesSaved):
            what = {"checkpoint": e.path} if isinstance(e, CheckpointSaved) else {"samples": list(e.paths)}
            if args.json:
                print(json.dumps({"step": e.step, **what}), flush=True)
        elif isinstance(e, Note) and not args.json:
            print(f"studio: {e.text}", file=sys.stderr)
        elif isinstance(e, TrainDone):
            if args.json:
                print(json.dumps({"path": e.path, "kohya_path": e.kohya_path or None, "grids": list(e.grids),
                                  "run_dir": e.run_dir, "seconds": round(time.monotonic() - started, 1)}),
                      flush=True)  # fmt: skip
            else:
                print(e.path)

    return on_event


def _import(args: argparse.Namespace, rt: Any) -> int:
    from studio.core.train.train_transfer import import_result

    try:
        lora, run = import_result(Path(args.import_result).expanduser().resolve(), rt.paths.models_dir / "loras",
                                  rt.paths.training_dir / "runs")  # fmt: skip
    except (ValueError, OSError) as e:
        return fail(str(e), EXIT_USAGE)
    finally:
        rt.close()
    if args.json:
        print(json.dumps({"path": str(lora), "run_dir": str(run)}))
    else:
        print(f"{lora}\n(the run, with its loss curve and samples: {run})")
    return EXIT_OK
