"""``studio train``: a dataset from a folder of pictures, a LoRA trained on the same queue and trainer as the
window's Fine-tune room, progress on stderr (or JSON lines), exit 0 with the LoRA written."""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from studio.cli import EXIT_OK, EXIT_USAGE, _fail, _run_job


def train_command(args: argparse.Namespace) -> int:
    from studio.core.builtin_models import builtin_image_models, is_builtin, recommended_settings
    from studio.core.dataset import Dataset
    from studio.core.events import Note
    from studio.core.train_specs import (
        CheckpointSaved,
        SamplesSaved,
        TrainDone,
        TrainSpec,
        TrainStep,
        read_run_spec,
        validate_train,
        with_preset,
    )
    from studio.core.untrusted import Unreadable
    from studio.runtime import build_runtime

    rt = build_runtime(args.home)
    if args.resume:
        run = Path(args.resume).expanduser().resolve()
        found = read_run_spec(run)
        if isinstance(found, Unreadable):
            rt.close()
            return _fail(f"{found.why}.", EXIT_USAGE)
        spec = found
    else:
        missing = [name for name in ("images", "trigger", "out") if not getattr(args, name)]
        if missing:
            rt.close()
            return _fail("missing " + ", ".join(f"--{m}" for m in missing) + ".", EXIT_USAGE)
        base = args.base or rt.settings.image_model or next((str(m.path) for m in builtin_image_models()), "")
        out = Path(args.out).expanduser().resolve()
        stamp = time.strftime("%Y%m%d-%H%M%S")
        run = rt.paths.training_dir / "runs" / f"{out.stem}-{stamp}"
        native = recommended_settings(base).get("width") if is_builtin(base) else None
        spec = TrainSpec(
            dataset=str(run / "dataset"),
            base=str(Path(base).expanduser()),
            out=str(out),
            run_dir=str(run),
            trigger=args.trigger,
            class_word=args.class_word or "",
            batch_size=args.batch_size,
            seed=args.seed,
            kohya_export=args.kohya,
            resolution=args.resolution or native or 512,
        )
        spec = with_preset(spec, args.preset)
        changes: dict[str, Any] = {}
        for name, field in (("steps", "steps"), ("epochs", "epochs"), ("rank", "rank"), ("lr", "lr_unet")):
            if getattr(args, name) is not None:
                changes[field] = getattr(args, name)
        if args.rank is not None:
            changes["alpha"] = float(args.rank)
        if args.text_encoder:
            changes["train_text_encoder"] = True
        spec = replace(
            spec,
            **changes,
            sample_every=min(250, max(1, spec.steps // 4)),
            checkpoint_every=min(250, max(1, spec.steps // 4)),
        )
        problems = validate_train(spec)
        if problems:
            rt.close()
            return _fail("; ".join(problems.values()), EXIT_USAGE)
        images = Path(args.images).expanduser()
        if not images.is_dir():
            rt.close()
            return _fail(f"{images} is not a folder of pictures.", EXIT_USAGE)
        ds = Dataset(run / "dataset", trigger=spec.trigger, class_word=spec.class_word)
        ds.add_files([images])
        for line in ds.skipped + [f"{i.source}: {', '.join(i.problems)}" for i in ds.images if i.problems]:
            print(f"studio: {line}", file=sys.stderr)
        if problems := ds.problems():
            rt.close()
            return _fail(problems[0], EXIT_USAGE)
        print(f"{len(ds.used())} pictures; run folder {run} (resume with --resume {run})", file=sys.stderr)

    started = time.monotonic()
    tty = sys.stderr.isatty()

    def on_event(e: Any) -> None:
        if isinstance(e, TrainStep):
            eta = (e.total - e.step) * e.seconds / max(1, e.step) if e.seconds else None
            if args.json:
                print(
                    json.dumps(
                        {
                            "step": e.step,
                            "total": e.total,
                            "loss": round(e.loss, 6),
                            "lr": e.lr,
                            "eta_s": None if eta is None else round(eta, 1),
                        }
                    ),
                    flush=True,
                )
            elif tty or e.step == e.total or e.step % 50 == 0:
                end = "" if tty and e.step < e.total else "\n"
                left = f", {eta:.0f} s left" if eta is not None else ""
                print(
                    f"\rstep {e.step}/{e.total}  loss {e.loss:.4f}{left}\033[K"
                    if tty
                    else f"step {e.step}/{e.total}  loss {e.loss:.4f}{left}",
                    end=end,
                    file=sys.stderr,
                    flush=True,
                )
        elif isinstance(e, (CheckpointSaved, SamplesSaved)):
            what = {"checkpoint": e.path} if isinstance(e, CheckpointSaved) else {"samples": list(e.paths)}
            if args.json:
                print(json.dumps({"step": e.step, **what}), flush=True)
        elif isinstance(e, Note) and not args.json:
            print(f"studio: {e.text}", file=sys.stderr)
        elif isinstance(e, TrainDone):
            if args.json:
                print(
                    json.dumps(
                        {
                            "path": e.path,
                            "kohya_path": e.kohya_path or None,
                            "grids": list(e.grids),
                            "run_dir": e.run_dir,
                            "seconds": round(time.monotonic() - started, 1),
                        }
                    ),
                    flush=True,
                )
            else:
                print(e.path)

    code = _run_job(rt, spec, on_event)
    if code not in (EXIT_OK,) and not args.json:
        print(
            f"studio: the run folder is {spec.run_dir}; continue with studio train --resume {spec.run_dir}",
            file=sys.stderr,
        )
    return code
