"""``studio train-text``: a text LoRA that writes in the voice of your documents ("learn my voice"), trained on the
same queue and trainer process as the Fine-tune room's LoRAs; progress on stderr (or JSON lines), the held-out
perplexity before and after, exit 0 with the LoRA written. ``studio write … --lora L`` then writes with it."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

from studio.cli.common import EXIT_USAGE, fail, home_option, open_runtime, run_job


def register(sub: Any) -> None:
    t = sub.add_parser("train-text", help="teach a text model your voice from your documents (a LoRA)")
    home_option(t)
    t.add_argument("--docs", nargs="+", metavar="PATH", help="documents or folders (.md, .txt, .docx, .epub)")
    t.add_argument("--preferences", nargs="+", metavar="DOC", help="learn from my choices: stories whose recorded "
                   "choices (Writer ▸ Choices) to learn from, by preference (DPO)")  # fmt: skip
    t.add_argument("--on", metavar="LORA", help="with --preferences: build on this voice LoRA")
    t.add_argument("--beta", type=float, default=0.1, help="with --preferences: how far the choices may pull")
    t.add_argument("--base", help="the text model to teach (a transformers folder; default: the Writer's)")
    t.add_argument("--out", help="the LoRA to write (.safetensors)")
    t.add_argument("--steps", type=int, default=200)
    t.add_argument("--rank", type=int, default=8)
    t.add_argument("--lr", type=float, default=2e-4)
    t.add_argument("--seq-len", type=int, default=128, help="tokens per training example")
    t.add_argument("--batch-size", type=int, default=4)
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--checkpoint-every", type=int, default=50)
    t.add_argument("--resume", metavar="RUN_DIR", help="continue an interrupted run from its last checkpoint")
    t.add_argument("--json", action="store_true", help="progress as JSON lines")
    t.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from studio.core.jobs.events import Note
    from studio.core.models.builtin_models import builtin_text_models
    from studio.core.train.text_corpus import documents_in
    from studio.core.train.text_train_specs import TextTrainSpec, validate_text_train
    from studio.core.train.train_specs import SamplesSaved, TrainDone, TrainStep

    rt = open_runtime(args)
    if args.resume:
        run_dir = Path(args.resume).expanduser().resolve()
        try:
            spec = TextTrainSpec.from_json((run_dir / "spec.json").read_text("utf-8"))
        except (OSError, ValueError) as e:
            rt.close()
            return fail(f"{run_dir} is not a text training run Studio can resume ({e}).", EXIT_USAGE)
        spec = TextTrainSpec(**{**spec.__dict__, "run_dir": str(run_dir)})
    else:
        if not (args.docs or args.preferences) or not args.out:
            rt.close()
            return fail("give --docs (or --preferences) and --out.", EXIT_USAGE)
        docs = documents_in([Path(d).expanduser() for d in args.docs or []])
        stories = [Path(d).expanduser().resolve() for d in args.preferences or []]
        missing = [str(d) for d in [*docs, *stories] if not d.is_file()]
        if missing or not (docs or stories):
            rt.close()
            return fail(f"--docs: {missing[0] if missing else 'no documents'} (not found).", EXIT_USAGE)
        base = args.base or rt.settings.text_model or next((str(m.path) for m in builtin_text_models()), "")
        out = Path(args.out).expanduser().resolve()
        run_dir = rt.paths.training_dir / "runs" / f"{out.stem}-{time.strftime('%Y%m%d-%H%M%S')}"
        spec = TextTrainSpec(base=str(Path(base).expanduser()), docs=tuple(str(d.resolve()) for d in docs),
                             out=str(out), run_dir=str(run_dir), steps=args.steps, rank=args.rank,
                             alpha=float(2 * args.rank), lr=args.lr, seq_len=args.seq_len,
                             batch_size=args.batch_size, seed=args.seed,
                             checkpoint_every=args.checkpoint_every, preferences=tuple(map(str, stories)),
                             on=str(Path(args.on).expanduser().resolve()) if args.on else "", beta=args.beta)  # fmt: skip
        if problems := validate_text_train(spec):
            rt.close()
            return fail("; ".join(f"--{k.replace('_', '-')}: {v}" for k, v in problems.items()), EXIT_USAGE)
    started = time.monotonic()

    def on_event(e: Any) -> None:
        if isinstance(e, TrainStep):
            if args.json:
                print(json.dumps({"step": e.step, "total": e.total, "loss": round(e.loss, 6)}), flush=True)
            elif e.step == e.total or e.step % 20 == 0:
                print(f"step {e.step}/{e.total}  loss {e.loss:.4f}", file=sys.stderr, flush=True)
        elif isinstance(e, SamplesSaved) and args.json:
            print(json.dumps({"step": e.step, "samples": list(e.paths)}), flush=True)
        elif isinstance(e, Note):
            print(f"studio: {e.text}", file=sys.stderr)
        elif isinstance(e, TrainDone):
            if args.json:
                print(json.dumps({"path": e.path, "run_dir": e.run_dir,
                                  "seconds": round(time.monotonic() - started, 1)}), flush=True)  # fmt: skip
            else:
                print(e.path)

    return run_job(rt, spec, on_event)
