"""``studio prompt``: prompt craft without making a picture — ``resolve`` shows what a template (choices,
wildcards, styles, prompt editing) becomes for each image; ``expand`` has the Writer's language model turn a short
idea into a detailed prompt."""

from __future__ import annotations

import argparse
import json
import random
from pathlib import Path
from typing import Any

from studio.cli.common import EXIT_FAILED, EXIT_OK, EXIT_USAGE, fail, home_option


def register(sub: Any) -> None:
    p = sub.add_parser("prompt", help="resolve a prompt template, or expand an idea into a prompt")
    home_option(p)
    verbs = p.add_subparsers(dest="verb", metavar="VERB", required=True)
    r = verbs.add_parser("resolve", help="the prompts a template makes ({a|b}, __wildcards__, styles)")
    home_option(r)
    r.add_argument("template", help="the prompt template")
    r.add_argument("--negative", default="", help="the negative prompt template")
    r.add_argument("--count", type=int, default=1, help="how many prompts (one per image)")
    r.add_argument("--seed", type=int, default=None, help="the first image's seed (default: a random one)")
    r.add_argument(
        "--combinatorial", action="store_true", help="every combination in order, not random draws"
    )
    r.add_argument(
        "--style", action="append", default=[], metavar="NAME", help="a style to apply; repeatable"
    )
    r.add_argument("--steps", type=int, default=0, help="also show the prompt editing schedule over N steps")
    r.add_argument("--json", action="store_true", help="one JSON object per prompt")
    r.set_defaults(run=run_resolve)
    e = verbs.add_parser("expand", help="a detailed prompt from a short idea, written by a language model")
    home_option(e)
    e.add_argument("idea", help="the idea, in a few words")
    e.add_argument("--for-model", default="", metavar="PATH", help="the image model the prompt is for (its family "
                   "decides the style: tags for SD 1.x, sentences for SDXL/SD3/FLUX)")  # fmt: skip
    e.add_argument(
        "--model", default="", metavar="PATH|ID", help="the language model (default: the Writer's)"
    )
    e.add_argument("--engine", default="", metavar="URL|NAME", help="a server instead of a local model")
    e.add_argument("--seed", type=int, default=0)
    e.add_argument("--json", action="store_true", help="a JSON object with the idea and the prompt")
    e.set_defaults(run=run_expand)


def run_resolve(args: argparse.Namespace) -> int:
    from studio.core.image.dynamic_prompts import TemplateError, Wildcards, prompts_for
    from studio.core.image.prompt_schedule import prompt_problem, schedule
    from studio.core.image.styles import StyleBook, StyleError, apply_styles
    from studio.core.io.paths import resolve_paths
    from studio.core.jobs import A1111_MAX_SEED

    if args.count < 1 or args.count > 10_000:
        return fail("--count must be between 1 and 10000.", EXIT_USAGE)
    paths = resolve_paths(getattr(args, "home", None))
    chosen, why = StyleBook(paths.styles_file).find(args.style)
    if why:
        return fail(f"--style: {why}", EXIT_USAGE)
    for text, what in ((args.template, "prompt"), (args.negative, "negative prompt")):
        if why := prompt_problem(text, what):
            return fail(why, EXIT_USAGE)
    try:
        template, negative = apply_styles(args.template, args.negative, chosen)
    except StyleError as e:
        return fail(f"--style: {e}", EXIT_USAGE)
    seed = args.seed if args.seed is not None else random.SystemRandom().randint(0, A1111_MAX_SEED)
    seeds = [seed + i for i in range(args.count)]
    wildcards = Wildcards(paths.wildcards_dir)
    try:
        prompts = prompts_for(template, wildcards, seeds, args.combinatorial)
        negatives = prompts_for(negative, wildcards, seeds, args.combinatorial)
    except TemplateError as e:
        return fail(str(e), EXIT_USAGE)
    for s, p, n in zip(seeds, prompts, negatives, strict=True):
        plan = schedule(p, args.steps) if args.steps > 0 else []
        if args.json:
            row: dict[str, Any] = {"seed": s, "prompt": p, "negative_prompt": n, "template": args.template}
            if plan:
                row["schedule"] = [{"until_step": end, "prompt": t} for end, t in plan]
            print(json.dumps(row, ensure_ascii=False))
        else:
            print(p)
            for end, t in plan if len(plan) > 1 else []:
                print(f"  until step {end}: {t}")
    return EXIT_OK


def run_expand(args: argparse.Namespace) -> int:
    from studio.cli.common import explain, open_runtime, run_job
    from studio.cli.write import choose_text_model
    from studio.core.image.prompt_expansion import SETTINGS, clean_expansion, expansion_prompt
    from studio.core.jobs.events import Token
    from studio.core.models.model_library import describe_path
    from studio.core.text.recipe import TEXT, freeze_text

    if not args.idea.strip():
        return fail("give an idea to expand.", EXIT_USAGE)
    rt = open_runtime(args)
    draft: dict[str, Any] = {**SETTINGS, "seed": args.seed}
    draft.update({k: v for k, v in (("model", args.model), ("engine", args.engine)) if v})
    why = choose_text_model(draft, args, rt)
    family = str(describe_path(Path(args.for_model)).get("family", "")) if args.for_model else ""
    frozen = freeze_text(draft, expansion_prompt(args.idea, family)) if not why else {"model": why}
    if isinstance(frozen, dict):
        rt.close()
        return fail(explain(frozen, TEXT), EXIT_USAGE)
    pieces: list[str] = []
    code = run_job(rt, frozen, lambda e: isinstance(e, Token) and pieces.append(e.text))
    if code == EXIT_OK:
        prompt = clean_expansion("".join(pieces))
        if not prompt:
            return fail(
                "the model wrote no prompt; try again (another --seed) or another model.", EXIT_FAILED
            )
        print(json.dumps({"idea": args.idea, "prompt": prompt}, ensure_ascii=False) if args.json else prompt)
    return code
