"""``studio explain``: what the models do, shown — ``tokens``: how the image model's tokenizer cuts a prompt
(with A1111's weights and the 75-token chunks Studio encodes); ``next``: a language model's next-token
distribution before and after the sampler settings; ``steps``: an image's denoising filmstrip; ``attention``: where a
word acts in a picture; ``neighbours``: a word's nearest words in the image model's text-encoder embeddings."""

from __future__ import annotations

import argparse
import json
from typing import Any

from studio.cli.common import EXIT_FAILED, EXIT_OK, EXIT_USAGE, fail, home_option
from studio.core.io.words import count


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
    nb = verbs.add_parser("neighbours", help="the nearest words to a word in the image model's text encoder")
    home_option(nb)
    nb.add_argument("word")
    nb.add_argument(
        "--model", default="", metavar="PATH", help="the image model (default: the last one used)"
    )
    nb.add_argument("--top", type=int, default=12, help="how many (1–100)")
    nb.add_argument(
        "--json", action="store_true", help='{"word": W, "neighbours": [{"word", "similarity"}, …]}'
    )
    nb.set_defaults(run=run_neighbours)
    n = verbs.add_parser(
        "next", help="the next-token distribution after a text, before and after the sampler"
    )
    home_option(n)
    n.add_argument("text", help='the text so far ("-" reads stdin)')
    n.add_argument(
        "--model", default="", metavar="PATH|ID", help="the language model (default: the Writer's)"
    )
    n.add_argument("--engine", default="", metavar="URL|NAME", help="a server instead of a local model")
    n.add_argument("--top", type=int, default=20, help="how many candidates to list (1–200)")
    n.add_argument("--temperature", type=float, default=0.8)
    n.add_argument("--top-p", type=float, default=0.95)
    n.add_argument("--top-k", type=int, default=0)
    n.add_argument("--min-p", type=float, default=0.0)
    n.add_argument("--json", action="store_true", help='{"candidates": [{"token", "p", "p_sampled"}, …]}')
    n.set_defaults(run=run_next)
    a = verbs.add_parser("attention", help="where a word of the prompt acts in the picture (cross-attention)")
    home_option(a)
    a.add_argument("source", metavar="IMAGE_OR_RECIPE", help="an image with a recipe, or a recipe .json")
    a.add_argument(
        "--word", action="append", required=True, help="a word (or words) of the prompt; repeatable"
    )
    a.add_argument("--out", required=True, metavar="FILE_OR_DIR", help="FILE.png (one word) or a folder")
    a.set_defaults(run=run_attention)
    st = verbs.add_parser("steps", help="the denoising filmstrip of an image's recipe: one frame per step")
    home_option(st)
    st.add_argument("source", metavar="IMAGE_OR_RECIPE", help="an image with a recipe, or a recipe .json")
    st.add_argument(
        "--out", required=True, metavar="DIR", help="where the frames, strip.png and steps.webp go"
    )
    st.add_argument("--json", action="store_true", help='{"frames": [...], "strip": ..., "animation": ...}')
    st.set_defaults(run=run_steps)


def _image_tokens(args: argparse.Namespace) -> tuple[str, Any] | int:
    """The image model (``--model``, else the last used) and its CLIP tokenizer, or the exit code."""
    from studio.cli.generate import default_model
    from studio.core.image.tokens import ClipTokens, tokenizer_folder
    from studio.core.io.paths import resolve_paths
    from studio.core.io.settings import load_settings

    model = args.model
    if not model:
        from types import SimpleNamespace

        paths = resolve_paths(getattr(args, "home", None))
        model = default_model(SimpleNamespace(settings=load_settings(paths.settings_file), paths=paths))
    folder = tokenizer_folder(model)
    if folder is None:
        return fail(f"--model: no CLIP tokenizer found for {model} (a diffusers folder's tokenizer, or a "
                    "single file of SD 1.x/2.x/SDXL).", EXIT_USAGE)  # fmt: skip
    try:
        return model, ClipTokens(folder)
    except (OSError, ValueError) as e:
        return fail(f"--model: the tokenizer of {model} cannot be read: {e}", EXIT_FAILED)


def run_neighbours(args: argparse.Namespace) -> int:
    from studio.core.image.word_neighbours import neighbours

    if not 1 <= args.top <= 100:
        return fail("--top must be between 1 and 100.", EXIT_USAGE)
    found = _image_tokens(args)
    if isinstance(found, int):
        return found
    model, tokens = found
    try:
        near = neighbours(model, tokens, args.word, args.top)
    except (OSError, ValueError) as e:
        return fail(str(e), EXIT_FAILED)
    if args.json:
        rows = [{"word": w, "similarity": round(sim, 4)} for w, sim in near]
        print(json.dumps({"word": args.word, "neighbours": rows}, ensure_ascii=False))
        return EXIT_OK
    for w, sim in near:
        print(f"{sim:.3f}  {w}")
    return EXIT_OK


def run_tokens(args: argparse.Namespace) -> int:
    found = _image_tokens(args)
    if isinstance(found, int):
        return found
    report = found[1].report(args.prompt)
    if args.json:
        print(json.dumps(report, ensure_ascii=False))
        return EXIT_OK
    print(f"{report['count']} tokens in {count(len(report['chunks']), 'chunk')} of 75: "
          + ", ".join(f"{n}/75" for n in report["chunks"]))  # fmt: skip
    for c in range(len(report["chunks"])):
        pieces = [t for t in report["tokens"] if t["chunk"] == c]
        print(f"  chunk {c + 1}: " + " ".join(
            t["text"] + ("" if t["word_end"] else "·") + (f"×{t['weight']:g}" if t["weight"] != 1 else "")
            for t in pieces))  # fmt: skip
    return EXIT_OK


def _source_spec(args: argparse.Namespace, work: Any, **changes: Any) -> tuple[Any, Any] | int:
    """(the runtime, the frozen recipe of ``args.source`` with ``changes``), or the exit code after saying why."""
    from studio.cli.common import UsageError, explain, open_runtime
    from studio.cli.generate import _recipe_file, image_context, library
    from studio.core.image.from_image import draft_from_image
    from studio.core.image.recipe import IMAGE, freeze_image
    from studio.core.io.untrusted import Unreadable

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
        draft.update(batch_count=1, batch_size=1, **changes)
        frozen = freeze_image(draft, image_context(rt, entries))
        if isinstance(frozen, dict):
            raise UsageError(explain(frozen, IMAGE))
    except UsageError as e:
        rt.close()
        return fail(str(e), EXIT_USAGE)
    return rt, frozen


def run_attention(args: argparse.Namespace) -> int:
    """The recipe made again while the UNet's cross-attention to the words is recorded; each word's map."""
    import shutil
    import tempfile
    from pathlib import Path

    from studio.cli.common import run_job
    from studio.core.image.attention import AttentionSpec

    out = Path(args.out).expanduser()
    single = out.suffix.lower() == ".png"
    if single and len(args.word) > 1:
        return fail("--out FILE.png takes one --word; give a folder for several.", EXIT_USAGE)
    work = Path(tempfile.mkdtemp(prefix="studio-attention-"))
    got = _source_spec(args, work / "render")
    if isinstance(got, int):
        return got
    rt, frozen = got
    target = work / "maps" if single else out
    code = run_job(rt, AttentionSpec(frozen, tuple(args.word), str(target)), lambda e: None)
    if code == EXIT_OK and single:
        out.parent.mkdir(parents=True, exist_ok=True)
        safe = "".join(c if c.isalnum() or c in "-_" else "_" for c in args.word[0])[:60] or "word"
        shutil.move(str(target / f"{safe}.png"), out)
    shutil.rmtree(work, ignore_errors=True)
    if code == EXIT_OK:
        print(out)
    return code


def run_steps(args: argparse.Namespace) -> int:
    """The recipe made again (same seed, one image) with its filmstrip kept, written out frame by frame."""
    import shutil
    from pathlib import Path

    from studio.cli.common import run_job
    from studio.core.image.filmstrip import contact_strip, filmstrip_path, read_filmstrip
    from studio.core.jobs.events import ItemSaved

    out = Path(args.out).expanduser()
    if out.exists() and not out.is_dir():
        return fail(f"--out {out} is a file, not a folder.", EXIT_USAGE)
    work = out / ".render"
    got = _source_spec(args, work, filmstrip=True)
    if isinstance(got, int):
        return got
    rt, frozen = got
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


def run_next(args: argparse.Namespace) -> int:
    """One token's worth of the model: its raw distribution's top candidates (log-probabilities at the last
    position), and the same candidates as the sampler settings reshape them."""
    import dataclasses
    import math
    import sys

    from studio.cli.common import explain, open_runtime, run_job
    from studio.cli.write import choose_text_model
    from studio.core.jobs.events import Finished
    from studio.core.text.next_token import after_sampling
    from studio.core.text.recipe import TEXT, freeze_text

    if not 1 <= args.top <= 200:
        return fail("--top must be between 1 and 200.", EXIT_USAGE)
    text = sys.stdin.read() if args.text == "-" else args.text
    rt = open_runtime(args)
    draft: dict[str, Any] = {"max_new_tokens": 1, "temperature": 0.0, "seed": 0, "logprobs": 20}
    draft.update({k: v for k, v in (("model", args.model), ("engine", args.engine)) if v})
    why = choose_text_model(draft, args, rt)
    frozen = freeze_text(draft, text) if not why else {"model": why}
    if isinstance(frozen, dict):
        rt.close()
        return fail(explain(frozen, TEXT), EXIT_USAGE)
    spec = dataclasses.replace(frozen, logprobs=max(200, args.top))  # the sampler works on more than is shown
    results: list[Any] = []
    code = run_job(rt, spec, lambda e: isinstance(e, Finished) and results.extend(e.items))
    if code != EXIT_OK:
        return code
    probs = results[0].probs if results else ()
    if not probs:
        return fail(
            "the model returned no probabilities (a server that does not send logprobs?).", EXIT_FAILED
        )
    candidates = list(probs[0].alternatives)
    after = after_sampling([lp for _, lp in candidates], args.temperature, args.top_k, args.top_p, args.min_p)
    rows = [{"token": t, "p": round(math.exp(lp), 6), "p_sampled": round(a, 6)}
            for (t, lp), a in zip(candidates, after, strict=True)][: args.top]  # fmt: skip
    if args.json:
        settings = {
            "temperature": args.temperature,
            "top_p": args.top_p,
            "top_k": args.top_k,
            "min_p": args.min_p,
        }
        print(
            json.dumps(
                {"candidates": rows, "settings": settings, "model": spec.model_name}, ensure_ascii=False
            )
        )
        return EXIT_OK
    print(f"{'token':<20} {'model':>8} {'sampled':>8}")
    for r in rows:
        print(f"{r['token']!r:<20} {r['p']:>8.2%} {r['p_sampled']:>8.2%}")
    return EXIT_OK
