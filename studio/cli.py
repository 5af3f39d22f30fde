"""The headless face of Studio: ``studio generate …`` and friends, on the same runtime as the window."""

from __future__ import annotations

import argparse
import json
import queue
import signal
import sys
from pathlib import Path
from typing import Any

from studio import __version__

COMMANDS = ("generate",)

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line on stderr, exit 2
        self.exit(EXIT_USAGE, f"studio: error: {message}\n")


def _lora(text: str) -> tuple[str, float]:
    path, sep, weight = text.rpartition(":")
    if sep and path and not weight.startswith(("/", "\\")):
        try:
            return path, float(weight)
        except ValueError:
            pass
    return text, 1.0


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="studio", description="Studio: local generative AI. Without a command, opens the window.")
    p.add_argument("--version", action="version", version=f"studio {__version__}")
    p.add_argument("--home", help="the data folder (default: $STUDIO_HOME or the platform's user folder)")
    sub = p.add_subparsers(dest="command", parser_class=_Parser)

    g = sub.add_parser("generate", help="make images from a prompt")
    g.add_argument("prompt")
    g.add_argument("--negative", default="", help="negative prompt")
    g.add_argument("--model", help="a diffusers folder or a .safetensors checkpoint (default: the last used)")
    g.add_argument("--steps", type=int, help="denoising steps (default: the model's recommendation, else 25)")
    g.add_argument("--cfg", type=float, help="CFG scale (default: the model's recommendation, else 7)")
    g.add_argument("--seed", type=int, default=-1, help="seed (-1: random)")
    g.add_argument("--width", type=int, help="default: the model's recommendation, else 512")
    g.add_argument("--height", type=int, help="default: the model's recommendation, else 512")
    g.add_argument("--sampler", help='e.g. "Euler a", "DPM++ 2M Karras", "DDIM" (default: DPM++ 2M Karras)')
    g.add_argument("--count", type=int, default=1, help="number of images")
    g.add_argument("--batch-size", type=int, default=1, help="images per batch (the rest run in sequence)")
    g.add_argument("--clip-skip", type=int, default=1)
    g.add_argument("--init-image", help="start from this image (img2img)")
    g.add_argument("--strength", type=float, default=0.75, help="denoising strength for img2img/inpaint")
    g.add_argument("--mask", help="inpaint where this mask is white (needs --init-image)")
    g.add_argument("--lora", action="append", default=[], metavar="PATH[:W]", help="apply a LoRA (repeatable)")
    g.add_argument("--out", help="write the images to this folder instead of the gallery")
    g.add_argument("--json", action="store_true", help="print one JSON object per image")
    return p


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command == "generate":
        return _generate(args)
    parser.print_help()
    return EXIT_OK


def _fail(message: str, code: int) -> int:
    print(f"studio: {message}", file=sys.stderr)
    return code


def _generate(args: argparse.Namespace) -> int:
    from studio.core.builtin_models import builtin_image_models, recommended_settings
    from studio.core.errors import StudioError
    from studio.core.events import Failed, Finished, ItemSaved, Loading, Progress
    from studio.core.specs import GenerateSpec, LoraRef, normalize_sampler, random_seed, validate
    from studio.engine.pipelines import check_model_path
    from studio.runtime import build_runtime

    if args.count < 1 or args.batch_size < 1 or args.count % args.batch_size:
        return _fail("--count must be a positive multiple of --batch-size.", EXIT_USAGE)
    out = Path(args.out).expanduser() if args.out else None
    rt = build_runtime(args.home, gallery_dir=out)
    model = args.model or rt.settings.image_model
    if not model:
        builtins = builtin_image_models()
        if not builtins:
            return _fail("no image model: pass --model PATH (a diffusers folder or a .safetensors file).", EXIT_USAGE)
        model = str(builtins[0].path)
        print(f"Using the built-in demo model {builtins[0].label}; real models go in {rt.paths.models_dir} "
              "or are given with --model.", file=sys.stderr)
    rec = recommended_settings(model)
    for arg, key, fallback in (("width", "width", 512), ("height", "height", 512), ("steps", "steps", 25),
                               ("cfg", "cfg_scale", 7.0)):
        if getattr(args, arg) is None:
            setattr(args, arg, rec.get(key, fallback))
    if args.sampler is None:
        args.sampler = " ".join(x for x in (rec.get("sampler", "DPM++ 2M"), rec.get("schedule", "Karras"))
                                if x != "Automatic")
    try:
        fields = normalize_sampler({"sampler": args.sampler})
    except KeyError as e:
        return _fail(str(e.args[0]), EXIT_USAGE)
    spec = GenerateSpec(
        model=str(Path(model).expanduser()), prompt=args.prompt, negative_prompt=args.negative,
        width=args.width, height=args.height, steps=args.steps, cfg_scale=args.cfg,
        seed=random_seed() if args.seed < 0 else args.seed, sampler=fields["sampler"], schedule=fields["schedule"],
        batch_size=args.batch_size, batch_count=args.count // args.batch_size, clip_skip=args.clip_skip,
        loras=tuple(LoraRef(str(Path(p).expanduser().resolve()), w) for p, w in map(_lora, args.lora)),
        init_image=str(Path(args.init_image).resolve()) if args.init_image else None, strength=args.strength,
        mask=str(Path(args.mask).resolve()) if args.mask else None,
    )
    problems = validate(spec)
    if problems:
        return _fail("; ".join(problems.values()), EXIT_USAGE)
    try:
        check_model_path(spec.model)
    except StudioError as e:
        return _fail(e.user_message, EXIT_USAGE)

    events: queue.Queue[Any] = queue.Queue()
    rt.subscribe(events.put)
    job = rt.runner.submit(spec)
    previous = signal.signal(signal.SIGINT, lambda *_: rt.runner.cancel(job))
    tty = sys.stderr.isatty()
    code = EXIT_FAILED
    try:
        while True:
            e = events.get()
            if e.job_id != job:
                continue
            if isinstance(e, Loading):
                print(e.what, file=sys.stderr)
            elif isinstance(e, Progress) and tty:
                print(f"\rimage {e.item + 1}/{e.items}  step {e.step}/{e.total}", end="", file=sys.stderr, flush=True)
            elif isinstance(e, ItemSaved):
                if tty:
                    print("\r\033[K", end="", file=sys.stderr)
                item = e.item
                if args.json:
                    print(json.dumps({
                        "path": str(item.path), "seed": item.seed, "width": item.width, "height": item.height,
                        "steps": spec.steps, "sampler": spec.sampler, "schedule": spec.schedule,
                        "cfg_scale": spec.cfg_scale, "prompt": spec.prompt, "model": spec.model_name,
                    }), flush=True)
                else:
                    print(item.path, flush=True)
            elif isinstance(e, Finished):
                code = EXIT_OK
                break
            elif isinstance(e, Failed):
                code = _fail(e.error.user_message if e.error else "the job failed.", EXIT_FAILED)
                break
            elif type(e).__name__ == "Cancelled":
                code = _fail("cancelled.", 130)
                break
    finally:
        signal.signal(signal.SIGINT, previous)
        rt.close()
    if code == EXIT_OK and args.model:
        rt.settings.remember_model(spec.model)
        rt.save_settings()
    return code
