"""``studio explain``: what the models do, shown — ``tokens``: how the image model's tokenizer cuts a prompt
(with A1111's weights and the 75-token chunks Studio encodes); ``steps``: an image's denoising filmstrip."""

from __future__ import annotations

import argparse
import json
from typing import Any

from studio.cli.common import EXIT_OK, EXIT_USAGE, fail, home_option


def register(sub: Any) -> None:
    e = sub.add_parser("explain", help="see how the models read and make things (tokens, …)")
    home_option(e)
    verbs = e.add_subparsers(dest="verb", metavar="VERB", required=True)
    t = verbs.add_parser(
        "tokens", help="the prompt as the image model's tokenizer cuts it, with weights and chunks"
    )
    home_option(t)
    t.add_argument("prompt")
    t.add_argument("--model", default="", metavar="PATH", help="the image model (default: the last one used)")
    t.add_argument("--json", action="store_true", help='{"tokens": [...], "count": N, "chunks": [...]}')
    t.set_defaults(run=run_tokens)
    st = verbs.add_parser("steps", help="the denoising filmstrip of an image's recipe: one frame per step")
    home_option(st)
    st.add_argument("source", metavar="IMAGE_OR_RECIPE", help="an image with a recipe, or a recipe .json")
    st.add_argument(
        "--out", required=True, metavar="DIR", help="where the frames, strip.png and steps.webp go"
    )
    st.add_argument("--json", action="store_true", help='{"frames": [...], "strip": ..., "animation": ...}')
    st.set_defaults(run=run_steps)


def run_tokens(args: argparse.Namespace) -> int:
    from studio.cli.generate import default_model
    from studio.core.paths import resolve_paths
    from studio.core.settings import load_settings
    from studio.core.tokens import ClipTokens, tokenizer_folder

    model = args.model
    if not model:
        from types import SimpleNamespace

        paths = resolve_paths(getattr(args, "home", None))
        model = default_model(SimpleNamespace(settings=load_settings(paths.settings_file), paths=paths))
    folder = tokenizer_folder(model)
    if folder is None:
        return fail(f"--model: no CLIP tokenizer found for {model} (a diffusers folder's tokenizer, or a "
                    "single file of SD 1.x/2.x/SDXL).", EXIT_USAGE)  # fmt: skip
    report = ClipTokens(folder).report(args.prompt)
    if args.json:
        print(json.dumps(report, ensure_ascii=False))
        return EXIT_OK
    print(f"{report['count']} tokens in {len(report['chunks'])} chunk(s) of 75: "
          + ", ".join(f"{n}/75" for n in report["chunks"]))  # fmt: skip
    for c in range(len(report["chunks"])):
        pieces = [t for t in report["tokens"] if t["chunk"] == c]
        print(f"  chunk {c + 1}: " + " ".join(
            t["text"] + ("" if t["word_end"] else "·") + (f"×{t['weight']:g}" if t["weight"] != 1 else "")
            for t in pieces))  # fmt: skip
    return EXIT_OK


def run_steps(args: argparse.Namespace) -> int:
    """The recipe made again (same seed, one image) with its filmstrip kept, written out frame by frame."""
    import shutil
    from pathlib import Path

    from studio.cli.common import UsageError, explain, open_runtime, run_job
    from studio.cli.generate import _recipe_file, image_context, library
    from studio.core.events import ItemSaved
    from studio.core.filmstrip import contact_strip, filmstrip_path, read_filmstrip
    from studio.core.recipes.from_image import draft_from_image
    from studio.core.recipes.image import IMAGE, freeze_image
    from studio.core.untrusted import Unreadable

    out = Path(args.out).expanduser()
    if out.exists() and not out.is_dir():
        return fail(f"--out {out} is a file, not a folder.", EXIT_USAGE)
    work = out / ".render"
    rt = open_runtime(args, gallery_dir=work)
    entries = library(rt)
    try:
        if args.source.lower().endswith(".json"):
            draft = _recipe_file(args.source)
        else:
            found = draft_from_image(args.source, lambda name: next(
                (str(e.path) for e in entries() if e.kind == "checkpoint" and e.name == name), None))  # fmt: skip
            if isinstance(found, Unreadable):
                raise UsageError(found.why)
            draft = found[0]
        draft.update(filmstrip=True, batch_count=1, batch_size=1)
        frozen = freeze_image(draft, image_context(rt, entries))
        if isinstance(frozen, dict):
            raise UsageError(explain(frozen, IMAGE))
    except UsageError as e:
        rt.close()
        return fail(str(e), EXIT_USAGE)
    made: list[Path] = []
    code = run_job(rt, frozen, lambda e: isinstance(e, ItemSaved) and made.append(Path(e.item.path)))
    if code != EXIT_OK or not made:
        return code
    frames = read_filmstrip(filmstrip_path(made[0]))
    names = []
    for i, frame in enumerate(frames, start=1):
        name = out / f"step-{i:0{max(2, len(str(len(frames))))}d}.png"
        frame.save(name)
        names.append(str(name))
    contact_strip(frames, every=max(1, len(frames) // 12)).save(out / "strip.png")
    shutil.copyfile(filmstrip_path(made[0]), out / "steps.webp")
    shutil.rmtree(work, ignore_errors=True)
    if args.json:
        print(
            json.dumps(
                {"frames": names, "strip": str(out / "strip.png"), "animation": str(out / "steps.webp")}
            )
        )
    else:
        print(f"{len(names)} frames in {out} (strip.png, steps.webp)")
    return EXIT_OK
