"""``studio explain``: what the models do, shown — ``tokens``: how the image model's tokenizer cuts a prompt
(with A1111's weights and the 75-token chunks Studio encodes)."""

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
