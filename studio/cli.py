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

COMMANDS = ("generate", "write", "info", "gallery", "models", "train")

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
    p = _Parser(
        prog="studio", description="Studio: local generative AI. Without a command, opens the window."
    )
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
    g.add_argument(
        "--lora", action="append", default=[], metavar="PATH[:W]", help="apply a LoRA (repeatable)"
    )
    g.add_argument("--out", help="write the images to this folder instead of the gallery")
    g.add_argument("--json", action="store_true", help="print one JSON object per image")

    w = sub.add_parser("write", help="continue a text with a language model, streaming to stdout")
    w.add_argument("prompt", help='the text to continue ("-" reads it from stdin)')
    w.add_argument(
        "--model", help="a transformers folder or a cached Hugging Face repo id (default: the last used)"
    )
    w.add_argument("--max-new-tokens", type=int, default=200)
    w.add_argument("--temperature", type=float, default=0.8, help="0 picks the likeliest token every time")
    w.add_argument("--top-p", type=float, default=0.95)
    w.add_argument("--top-k", type=int, default=0, help="0: off")
    w.add_argument("--min-p", type=float, default=0.0, help="0: off")
    w.add_argument("--typical-p", type=float, default=1.0, help="1: off")
    w.add_argument("--repetition-penalty", type=float, default=1.1)
    w.add_argument("--no-repeat-ngram-size", type=int, default=0, help="0: off")
    w.add_argument("--seed", type=int, default=-1, help="seed (-1: random)")
    w.add_argument(
        "--stop", action="append", default=[], metavar="S", help="stop after this text (repeatable)"
    )
    w.add_argument(
        "--json", action="store_true", help='JSON lines: {"token": ...} as they come, then a summary object'
    )

    gal = sub.add_parser("gallery", help="list, check or rebuild the gallery")
    gsub = gal.add_subparsers(dest="gallery_command", required=True, parser_class=_Parser)
    gl = gsub.add_parser("list", help="list images, newest first")
    gl.add_argument("--search", default="", help="only images whose prompt contains every word")
    gl.add_argument("--starred", action="store_true")
    gl.add_argument("--limit", type=int, default=0, help="at most this many (0: all)")
    gl.add_argument("--json", action="store_true")
    gsub.add_parser("check", help="compare every file with the index; exit 1 when anything is wrong")
    gsub.add_parser("reindex", help="rebuild the index from the image files")

    mo = sub.add_parser("models", help="list, identify, add and download models")
    msub = mo.add_subparsers(dest="models_command", required=True, parser_class=_Parser)
    ml = msub.add_parser("list", help="every model Studio sees (and in FOLDER...), identified")
    ml.add_argument("folders", nargs="*")
    ml.add_argument(
        "--kind", choices=("checkpoint", "lora", "embedding", "vae", "text", "refused", "unknown")
    )
    ml.add_argument("--json", action="store_true")
    msub.add_parser("scan", help="look in every source now and say what was found, by kind")
    for name in ("info", "identify"):
        mi = msub.add_parser(
            name, help="what each model file is, from its header (no weights loaded), and its hash"
        )
        mi.add_argument("files", nargs="+")
        mi.add_argument("--json", action="store_true")
        mi.add_argument(
            "--no-hash", action="store_true", help="skip the SHA-256 (it reads the whole file once)"
        )
    ma = msub.add_parser(
        "add-folder", help="use another tool's models folder in place (remembered in settings)"
    )
    ma.add_argument("folder")
    md = msub.add_parser(
        "download", help="fetch a Hugging Face repository (or one FILE of it) into the HF cache"
    )
    md.add_argument("repo_id")
    md.add_argument("file", nargs="?")
    md.add_argument("--revision", default="main")
    md.add_argument(
        "--include",
        action="append",
        default=[],
        metavar="PATTERN",
        help="only files matching this pattern (repeatable), e.g. '*.json' '*.safetensors'",
    )
    md.add_argument(
        "--token", help="an access token for gated repositories (default: HF_TOKEN or your login)"
    )
    md.add_argument("--json", action="store_true", help="progress as JSON lines")
    mr = msub.add_parser("recommended", help="the curated starter models, by kind and memory")
    mr.add_argument("--kind")
    mr.add_argument("--json", action="store_true")

    t = sub.add_parser("train", help="train a LoRA on your pictures")
    t.add_argument("--images", help="a folder of pictures (copied; the originals are never changed)")
    t.add_argument("--trigger", help="the word that will call up what you train, e.g. sks")
    t.add_argument("--class", dest="class_word", default=None, help="what it is: dog, person, painting…")
    t.add_argument(
        "--base", help="the base model (default: the last image model used, else the built-in demo)"
    )
    t.add_argument("--preset", choices=("person", "object", "style"), default="object")
    t.add_argument("--steps", type=int)
    t.add_argument("--epochs", type=int, help="passes over the pictures (instead of --steps)")
    t.add_argument("--rank", type=int)
    t.add_argument("--lr", type=float)
    t.add_argument("--resolution", type=int)
    t.add_argument("--batch-size", type=int, default=1)
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--text-encoder", action="store_true", help="train the text encoder too")
    t.add_argument(
        "--kohya", action="store_true", help="also write <out>-kohya.safetensors (A1111/ComfyUI names)"
    )
    t.add_argument("--resume", metavar="RUN_DIR", help="continue an interrupted run from its last checkpoint")
    t.add_argument("--out", help="the LoRA to write (.safetensors)")
    t.add_argument("--json", action="store_true", help="progress as JSON lines")

    i = sub.add_parser(
        "info", help="show the recipe inside images (Studio, A1111/Forge, ComfyUI, InvokeAI, …)"
    )
    i.add_argument("images", nargs="+")
    i.add_argument("--json", action="store_true", help="one normalised JSON object per image")
    return p


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command == "generate":
        return _generate(args)
    if args.command == "write":
        return _write(args)
    if args.command == "info":
        return _info(args)
    if args.command == "gallery":
        return _gallery(args)
    if args.command == "models":
        return _models(args)
    if args.command == "train":
        from studio.cli_train import train_command

        return train_command(args)
    parser.print_help()
    return EXIT_OK


def _fail(message: str, code: int) -> int:
    print(f"studio: {message}", file=sys.stderr)
    return code


def _run_job(rt: Any, spec: Any, on_event: Any, on_cancel: Any = lambda: None) -> int:
    """Run one job on the runtime, handing its events to ``on_event``; Ctrl+C cancels it. Closes the runtime."""
    from studio.core.events import Cancelled, Failed, Finished

    events: queue.Queue[Any] = queue.Queue()
    rt.subscribe(events.put)
    job = rt.runner.submit(spec)
    previous = signal.signal(signal.SIGINT, lambda *_: rt.runner.cancel(job))
    try:
        while True:
            e = events.get()
            if e.job_id != job:
                continue
            if isinstance(e, Failed):
                return _fail(e.error.user_message if e.error else "the job failed.", EXIT_FAILED)
            if isinstance(e, Cancelled):
                on_cancel()
                return _fail("cancelled.", 130)
            on_event(e)
            if isinstance(e, Finished):
                return EXIT_OK
    finally:
        signal.signal(signal.SIGINT, previous)
        rt.close()


def _generate(args: argparse.Namespace) -> int:
    from studio.core.builtin_models import builtin_image_models, recommended_settings
    from studio.core.errors import StudioError
    from studio.core.events import ItemSaved, Loading, Progress
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
            return _fail(
                "no image model: pass --model PATH (a diffusers folder or a .safetensors file).", EXIT_USAGE
            )
        model = str(builtins[0].path)
        print(
            f"Using {builtins[0].label}; real models go in {rt.paths.models_dir} or are given with --model.",
            file=sys.stderr,
        )
    rec = recommended_settings(model)
    for arg, key, fallback in (
        ("width", "width", 512),
        ("height", "height", 512),
        ("steps", "steps", 25),
        ("cfg", "cfg_scale", 7.0),
    ):
        if getattr(args, arg) is None:
            setattr(args, arg, rec.get(key, fallback))
    if args.sampler is None:
        args.sampler = " ".join(
            x for x in (rec.get("sampler", "DPM++ 2M"), rec.get("schedule", "Karras")) if x != "Automatic"
        )
    try:
        fields = normalize_sampler({"sampler": args.sampler})
    except KeyError as e:
        return _fail(str(e.args[0]), EXIT_USAGE)
    spec = GenerateSpec(
        model=str(Path(model).expanduser()),
        prompt=args.prompt,
        negative_prompt=args.negative,
        width=args.width,
        height=args.height,
        steps=args.steps,
        cfg_scale=args.cfg,
        seed=random_seed() if args.seed < 0 else args.seed,
        sampler=fields["sampler"],
        schedule=fields["schedule"],
        batch_size=args.batch_size,
        batch_count=args.count // args.batch_size,
        clip_skip=args.clip_skip,
        loras=tuple(LoraRef(str(Path(p).expanduser().resolve()), w) for p, w in map(_lora, args.lora)),
        init_image=str(Path(args.init_image).resolve()) if args.init_image else None,
        strength=args.strength,
        mask=str(Path(args.mask).resolve()) if args.mask else None,
    )
    problems = validate(spec)
    if problems:
        return _fail("; ".join(problems.values()), EXIT_USAGE)
    try:
        check_model_path(spec.model, rt.settings.allow_pickle)
    except StudioError as e:
        return _fail(e.user_message, EXIT_USAGE)

    tty = sys.stderr.isatty()

    def on_event(e: Any) -> None:
        if isinstance(e, Loading):
            print(e.what, file=sys.stderr)
        elif isinstance(e, Progress) and tty:
            print(
                f"\rimage {e.item + 1}/{e.items}  step {e.step}/{e.total}",
                end="",
                file=sys.stderr,
                flush=True,
            )
        elif isinstance(e, ItemSaved):
            if tty:
                print("\r\033[K", end="", file=sys.stderr)
            item = e.item
            if args.json:
                print(
                    json.dumps(
                        {
                            "path": str(item.path),
                            "seed": item.seed,
                            "width": item.width,
                            "height": item.height,
                            "steps": spec.steps,
                            "sampler": spec.sampler,
                            "schedule": spec.schedule,
                            "cfg_scale": spec.cfg_scale,
                            "prompt": spec.prompt,
                            "model": spec.model_name,
                        }
                    ),
                    flush=True,
                )
            else:
                print(item.path, flush=True)

    code = _run_job(rt, spec, on_event)
    if code == EXIT_OK and args.model:
        rt.settings.remember_model(spec.model)
        rt.save_settings()
    return code


def _write(args: argparse.Namespace) -> int:
    from studio.core.builtin_models import builtin_text_models
    from studio.core.errors import StudioError
    from studio.core.events import Finished, Loading, Note, Token
    from studio.core.specs import random_seed
    from studio.core.text_specs import WriteSpec, validate_write
    from studio.engine.text import resolve_text_model
    from studio.runtime import build_runtime

    rt = build_runtime(args.home)
    model = args.model or rt.settings.text_model
    if not model:
        builtins = builtin_text_models()
        if not builtins:
            rt.close()
            return _fail("no text model: pass --model PATH (a transformers model folder).", EXIT_USAGE)
        model = str(builtins[0].path)
        print(
            f"Using {builtins[0].label}; real models go in {rt.paths.models_dir} or are given with --model.",
            file=sys.stderr,
        )
    prompt = sys.stdin.read() if args.prompt == "-" else args.prompt
    spec = WriteSpec(
        model=model,
        prompt=prompt,
        max_new_tokens=args.max_new_tokens,
        temperature=args.temperature,
        top_p=args.top_p,
        top_k=args.top_k,
        min_p=args.min_p,
        typical_p=args.typical_p,
        repetition_penalty=args.repetition_penalty,
        no_repeat_ngram_size=args.no_repeat_ngram_size,
        stop=tuple(args.stop),
        seed=random_seed() if args.seed < 0 else args.seed,
    )
    problems = validate_write(spec)
    try:
        if not problems:
            resolve_text_model(spec.model)
    except StudioError as e:
        problems = {"model": e.user_message}
    if problems:
        rt.close()
        return _fail("; ".join(problems.values()), EXIT_USAGE)

    streamed: list[str] = []

    def summary(tokens: int, seconds: float, reason: str) -> None:
        if args.json:
            print(
                json.dumps(
                    {
                        "tokens": tokens,
                        "tokens_per_s": round(tokens / seconds, 2) if seconds else 0.0,
                        "stop_reason": reason,
                        "seconds": round(seconds, 3),
                        "seed": spec.seed,
                        "model": spec.model_name,
                        "text": "".join(streamed),
                    }
                ),
                flush=True,
            )
        else:
            print(flush=True)

    def on_event(e: Any) -> None:
        if isinstance(e, (Loading, Note)):
            print(e.what if isinstance(e, Loading) else e.text, file=sys.stderr)
        elif isinstance(e, Token):
            streamed.append(e.text)
            if args.json:
                print(json.dumps({"token": e.text}), flush=True)
            else:
                print(e.text, end="", flush=True)
        elif isinstance(e, Finished):
            result = e.items[0]
            summary(result.tokens, result.seconds, result.stop_reason)

    code = _run_job(rt, spec, on_event, on_cancel=lambda: summary(len(streamed), 0.0, "cancelled"))
    if code == EXIT_OK and args.model:
        rt.settings.text_model = spec.model
        rt.save_settings()
    return code


def _info(args: argparse.Namespace) -> int:
    from studio.core.recipe_readers import read_recipe

    code = EXIT_OK
    for name in args.images:
        r = read_recipe(name)
        if r.source == "none":
            code = EXIT_FAILED
        if args.json:
            print(json.dumps({"file": name, **r.to_json()}, ensure_ascii=False), flush=True)
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


def _gallery(args: argparse.Namespace) -> int:
    from studio.core.gallery_query import GalleryFilter
    from studio.core.gallery_store import GalleryStore
    from studio.core.paths import resolve_paths

    store = GalleryStore(resolve_paths(args.home).ensure().gallery_dir)
    try:
        if args.gallery_command == "reindex":
            stats = store.reindex()
            print(f"Indexed {store.count()} images ({stats['added']} files read).")
            return EXIT_OK
        if args.gallery_command == "check":
            # As at every start: files saved just before a crash (complete, but not yet indexed) are indexed,
            # rows of files deleted by hand are dropped. What remains wrong after that is reported.
            fixed = store.reconcile()
            if fixed["added"] or fixed["removed"] or fixed["updated"]:
                print(
                    f"reconciled the index with the files: {fixed['added']} added, {fixed['updated']} updated, "
                    f"{fixed['removed']} removed"
                )
            report = store.check()
            for label, items in (
                ("not in the index", report.orphans),
                ("missing on disk", report.missing),
                ("unreadable", report.unreadable),
            ):
                for rel in items:
                    print(f"{label}: {rel}")
            for rel in report.leftovers:
                print(f"leftover temporary file (an interrupted save; safe to delete): {rel}")
            print(f"{store.count()} images indexed; " + ("all good." if report.ok else "problems found."))
            return EXIT_OK if report.ok else EXIT_FAILED
        store.reconcile()  # files added or removed by hand since the last start are listed truthfully
        ids = store.ids(GalleryFilter(text=args.search, starred=args.starred))
        if args.limit > 0:
            ids = ids[: args.limit]
        for start in range(0, len(ids), 500):
            for row in store.rows(ids[start : start + 500]):
                path = store.path(row.rel)
                if args.json:
                    print(
                        json.dumps(
                            {
                                "path": str(path),
                                "prompt": row.prompt,
                                "negative_prompt": row.negative_prompt,
                                "model": row.model,
                                "sampler": row.sampler,
                                "seed": row.seed,
                                "width": row.width,
                                "height": row.height,
                                "steps": row.steps,
                                "cfg_scale": row.cfg_scale,
                                "starred": row.starred,
                                "created": row.created,
                                "source": row.source,
                            },
                            ensure_ascii=False,
                        )
                    )
                else:
                    print(f"{path}\t{row.prompt.splitlines()[0] if row.prompt else ''}")
        return EXIT_OK
    finally:
        store.close()


def _models(args: argparse.Namespace) -> int:
    from studio.core.paths import resolve_paths
    from studio.core.settings import load_settings, save_settings

    paths_ = resolve_paths(args.home).ensure()
    settings = load_settings(paths_.settings_file)
    command = args.models_command
    if command in ("list", "scan"):
        return _models_list(args, paths_, settings)
    if command in ("info", "identify"):
        from studio.core.hashing import HashCache

        hashes = None if args.no_hash else HashCache(paths_.cache_dir / "hashes.json")
        return _models_info(args.files, args.json, hashes, settings.family_overrides)
    if command == "add-folder":
        folder = Path(args.folder).expanduser().resolve()
        if not folder.is_dir():
            return _fail(f"{args.folder} is not a folder.", EXIT_USAGE)
        if str(folder) not in settings.model_folders:
            settings.model_folders.append(str(folder))
            save_settings(settings, paths_.settings_file)
        print(f"Studio now looks in {folder} (used in place, never copied).")
        return EXIT_OK
    if command == "recommended":
        from studio.core.model_catalog import for_kind

        for m in for_kind(args.kind or ""):
            if args.json:
                print(json.dumps(m.__dict__))
            else:
                what = f"{m.repo} {m.file}" if m.file else m.repo
                print(f"{m.kind}\t{m.name}\t{m.size_gb:.1f} GB download, {m.memory_gb:.0f} GB memory\t{what}")
        return EXIT_OK
    return _models_download(args)


def _models_list(args: argparse.Namespace, paths_: Any, settings: Any) -> int:
    from collections import Counter

    from studio.core.model_library import scan_library

    extra = [Path(p) for p in settings.model_folders] + [Path(p) for p in getattr(args, "folders", [])]
    entries = scan_library(
        paths_.models_dir, extra, overrides=settings.family_overrides, allow_pickle=settings.allow_pickle
    )
    code = EXIT_FAILED if any(e.damaged for e in entries) else EXIT_OK
    if args.models_command == "scan":
        kinds = Counter(e.kind for e in entries)
        print(", ".join(f"{n} {k}" for k, n in sorted(kinds.items())) or "no models found")
        for folder in [paths_.models_dir, *extra]:
            print(f"looked in {folder}")
        for e in entries:
            if e.damaged:
                print(f"damaged: {e.path} — {e.reason}")
        return code
    for e in entries:
        if args.kind and e.kind != args.kind:
            continue
        if args.json:
            print(
                json.dumps(
                    {
                        "path": str(e.path),
                        "name": e.name,
                        "source": e.source,
                        "kind": e.kind,
                        "family": e.family,
                        "label": e.label,
                        "reason": e.reason,
                        "size": e.size,
                        "details": e.details,
                    },
                    default=str,
                )
            )
        else:
            why = f"  — {e.reason}" if e.reason else ""
            print(f"{e.path}\t{e.kind}\t{e.label or e.family}\t{e.source}{why}")
    return code


def _models_info(files: list[str], as_json: bool, hashes: Any, overrides: dict[str, str]) -> int:
    from studio.core.model_library import describe_path

    code = EXIT_OK
    for name in files:
        path = Path(name).expanduser()
        if not path.exists():
            code = EXIT_FAILED
            print(
                json.dumps({"path": name, "kind": "unknown", "reason": "no such file"})
                if as_json
                else f"{name}\tno such file"
            )
            continue
        info = describe_path(path.resolve(), overrides)
        if info.get("damaged"):
            code = EXIT_FAILED
        if hashes is not None and path.is_file():
            sha = hashes.sha256(path)
            info.update(sha256=sha, short_hash=sha[:10])
        info["path"] = name
        if as_json:
            print(json.dumps(info, default=str))
        else:
            extra = f"  — {info['reason']}" if info.get("reason") else ""
            words = info.get("training", {}).get("trigger_words")
            trig = f"  trigger words: {', '.join(words)}" if words else ""
            hash_ = f"  [{info['short_hash']}]" if info.get("short_hash") else ""
            print(f"{name}\t{info['label'] or info['kind']}{hash_}{extra}{trig}")
    return code


def _models_download(args: argparse.Namespace) -> int:
    from studio.core.cancel import CancelToken
    from studio.core.downloads import DownloadError, download, plan_download
    from studio.core.errors import JobCancelled
    from studio.core.model_library import hf_cache_dir

    cancel = CancelToken()
    previous = signal.signal(signal.SIGINT, lambda *_: cancel.cancel())
    tty = sys.stderr.isatty()

    def show(p: Any) -> None:
        if args.json:
            print(
                json.dumps(
                    {
                        "file": p.file,
                        "done": p.done,
                        "total": p.total,
                        "speed": round(p.speed),
                        "eta_s": None if p.eta_s is None else round(p.eta_s, 1),
                    }
                ),
                flush=True,
            )
        elif tty:
            print(f"\r{p.file}: {p.text()}\033[K", end="", file=sys.stderr, flush=True)

    try:
        plan = plan_download(
            args.repo_id,
            args.file,
            revision=args.revision,
            allow_patterns=args.include or None,
            token=args.token,
        )
        if not args.json:
            print(f"{plan.repo_id}: {len(plan.files)} file(s), {plan.total / 1e9:.2f} GB", file=sys.stderr)
        path = download(
            plan, hf_cache_dir(), token=args.token, cancel=cancel, on_progress=show, report_every_s=0.5
        )
    except JobCancelled:
        return _fail("cancelled; what arrived is kept — run the same command again to continue.", 130)
    except DownloadError as e:
        return _fail(e.user_message, EXIT_FAILED)
    finally:
        signal.signal(signal.SIGINT, previous)
        if tty and not args.json:
            print(file=sys.stderr)
    print(
        json.dumps({"path": str(path), "repo_id": plan.repo_id, "commit": plan.commit, "bytes": plan.total})
        if args.json
        else path
    )
    return EXIT_OK
