"""``studio write``: a language model continues a text, streaming to stdout — frozen by the text recipe, the same
road as the Writer's Continue."""

from __future__ import annotations

import argparse
import json
import math
import sys
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
from studio.core.text.recipe import TEXT


def register(sub: Any) -> None:
    w = sub.add_parser("write", help="continue a text with a language model, streaming to stdout")
    home_option(w)
    w.add_argument("prompt", help='the text to continue ("-" reads it from stdin)')
    add_fields(w, TEXT)
    w.add_argument("--backend", default="", metavar="NAME", help="a saved text server by its name (studio backends "
                   "list); the same as --engine NAME")  # fmt: skip
    w.add_argument("--api-key-env", metavar="VAR", help="read the server's API key from this environment variable "
                   "(else the key saved for it in the system keyring)")  # fmt: skip
    w.add_argument("--json-schema", metavar="FILE", dest="json_schema_file", help="write JSON that follows this JSON schema (enforced token "
                   "by token, validated before it is accepted; on a server, sent as its json_schema)")  # fmt: skip
    w.add_argument("--grammar", metavar="FILE", dest="grammar_file",
                   help="write text this grammar allows: llama.cpp's GBNF or Lark")  # fmt: skip
    w.add_argument("--xtc", metavar="P:T", dest="xtc_pair", help="XTC's probability and threshold at once "
                   "(0.5:0.1), as KoboldCpp writes them")  # fmt: skip
    w.add_argument("--card", metavar="FILE", help="write as this character (a SillyTavern card, .json or .png): "
                   "its persona becomes the system prompt, in instruct mode")  # fmt: skip
    w.add_argument("--notes", metavar="DIR", help="the story's notes: a folder of .md/.txt files (characters, "
                   "places, earlier chapters); those most similar in meaning to the text go into the context")  # fmt: skip
    w.add_argument("--show-context", action="store_true", help="say what the model saw: the context's parts with "
                   "their token counts, and why each note went in or not (with --json: a \"context\" object)")  # fmt: skip
    w.add_argument(
        "--json", action="store_true", help='JSON lines: {"token": ...} as they come, then a summary object'
    )
    w.set_defaults(run=run)


def _engine(draft: dict[str, Any], args: argparse.Namespace, rt: Any) -> None | str:
    """Resolve ``--engine`` (a saved server's name or a URL) to a base URL, its key from ``--api-key-env``, and the
    model from the server's list when none was given. A sentence when it cannot be."""
    from studio.core.jobs.servers import resolve_engine, servers_of, url_problem

    value = draft.get("engine", "") or getattr(args, "backend", "")
    draft["engine"] = value
    if not value:
        return None
    servers = servers_of(rt.settings.servers)
    if not any(s.name == value for s in servers) and (problem := url_problem(value)):
        return f"--engine: {problem}"
    draft["engine"] = base = resolve_engine(value, servers)
    if getattr(args, "api_key_env", None) and not rt.keys.from_env(base, args.api_key_env):
        return f"--api-key-env: the environment variable {args.api_key_env} is not set."
    if not draft.get("model"):
        from studio.core.jobs.errors import StudioError

        try:
            models = rt.servers.text_models(base)
        except StudioError as e:
            return e.user_message
        if not models:
            return f"The server at {base} lists no models."
        draft["model"] = models[0]["id"]
        print(
            f"Using {draft['model']} on {base} (its first model; choose one with --model).", file=sys.stderr
        )
    return None


def choose_text_model(draft: dict[str, Any], args: argparse.Namespace, rt: Any) -> str:
    """The draft's engine and model: ``--engine`` resolved, else the model given, the Writer's last one, or the
    built-in Storyteller. '' when chosen, else the sentence saying why not."""
    from studio.core.models.builtin_models import builtin_text_models

    engine = _engine(draft, args, rt)
    if isinstance(engine, str):
        return engine
    if not draft.get("model") and not draft.get("engine"):
        draft["model"] = rt.settings.text_model
    if not draft.get("model"):
        builtins = builtin_text_models()
        if not builtins:
            return "no text model: pass --model PATH (a transformers model folder)."
        draft["model"] = str(builtins[0].path)
        print(f"Using {builtins[0].label}; real models go in {rt.paths.models_dir} or are given with --model.",
              file=sys.stderr)  # fmt: skip
    return ""


def from_files(args: argparse.Namespace, draft: dict[str, Any]) -> str:
    """The schema, grammar and character card files (and ``--xtc P:T``) into the draft; '' or why one cannot be
    used."""
    if getattr(args, "xtc_pair", None):
        p, sep, t = args.xtc_pair.partition(":")
        try:
            draft["xtc_probability"], draft["xtc_threshold"] = float(p), float(t) if sep else 0.1
        except ValueError:
            return f"--xtc: “{args.xtc_pair}” is not P:T (e.g. 0.5:0.1)."
    for option, key in (("json_schema_file", "json_schema"), ("grammar_file", "grammar")):
        if getattr(args, option, None):
            found = _read_text(args, option)
            if found is None:
                return f"--{key.replace('_', '-')}: {getattr(args, option)} cannot be read."
            draft[key] = found
    if getattr(args, "card", None):
        from pathlib import Path

        from studio.core.io.untrusted import Unreadable
        from studio.core.text.character_card import read_card

        card = read_card(Path(args.card).expanduser())
        if isinstance(card, Unreadable):
            return f"--card: {card.why}"
        draft.setdefault("system", card.system())
        draft["instruct"] = True
    return ""


def _read_text(args: argparse.Namespace, option: str) -> str | None:
    """A schema or grammar file's text (bounded), or None."""
    from pathlib import Path

    try:
        with open(Path(getattr(args, option)).expanduser(), "rb") as f:
            data = f.read(256 * 1024 + 1)
        return data.decode("utf-8")
    except (OSError, UnicodeDecodeError):
        return None


def story_context(args: argparse.Namespace) -> Any:
    """The story's context from ``--notes`` (None without it); a sentence when the folder cannot be read."""
    if not getattr(args, "notes", None):
        return None
    from pathlib import Path

    from studio.core.text.story_notes import read_notes
    from studio.core.text.writer_context import StoryContext

    folder = Path(args.notes).expanduser()
    if not folder.is_dir():
        return f"--notes: {folder} is not a folder."
    notes, problems = read_notes(folder)
    for problem in problems:
        print(f"studio: a note was not read: {problem}", file=sys.stderr)
    if not notes:
        print(f"studio: {folder} holds no notes (.md or .txt files).", file=sys.stderr)
    return StoryContext(notes=tuple(notes))


def show_context(assembled: Any, as_json: bool) -> None:
    """What the model saw: the parts with their token counts, and every note's decision."""
    parts = [{"label": p.label, "tokens": p.tokens, "text": p.text} for p in assembled.parts if p.text]
    notes = [{"title": d.note.title, "similarity": round(d.score, 4), "included": d.included, "reason": d.reason,
              "tokens": d.tokens} for d in assembled.note_choices]  # fmt: skip
    if as_json:
        print(json.dumps({"context": {"parts": parts, "notes": notes, "total_tokens": assembled.total_tokens,
                                      "budget": assembled.budget, "said": list(assembled.notes)}}), flush=True)  # fmt: skip
        return
    print(
        f"\n--- what the model saw ({assembled.total_tokens} of {assembled.budget} tokens) ---",
        file=sys.stderr,
    )
    for part in parts:
        print(f"{part['label']}: {part['tokens']} tokens", file=sys.stderr)
    for note in notes:
        print(f"  {note['title']}: {note['reason']}", file=sys.stderr)


def run(args: argparse.Namespace) -> int:
    from studio.core.jobs import random_seed
    from studio.core.jobs.errors import StudioError
    from studio.core.jobs.events import Finished, Loading, Note, Token
    from studio.core.text.recipe import freeze_text

    rt = open_runtime(args)
    draft = draft_of(args, TEXT)
    why = choose_text_model(draft, args, rt)
    if why:
        rt.close()
        return fail(why, EXIT_USAGE)
    prompt = sys.stdin.read() if args.prompt == "-" else args.prompt
    why = from_files(args, draft)
    if why:
        rt.close()
        return fail(why, EXIT_USAGE)
    context = story_context(args)
    if isinstance(context, str):
        rt.close()
        return fail(context, EXIT_USAGE)
    frozen = freeze_text(draft, prompt, seed=random_seed, context=context)
    problems = frozen if isinstance(frozen, dict) else {}
    try:
        if not problems and not draft.get("engine"):
            rt.resolve_text_model(draft["model"])
    except StudioError as e:
        problems = {"model": e.user_message}
    if problems or isinstance(frozen, dict):
        rt.close()
        return fail(explain(problems, TEXT), EXIT_USAGE)
    spec = frozen
    streamed: list[str] = []
    probs: list = []
    weights: list[str] = []
    runtime: list[str] = []

    def summary(tokens: int, seconds: float, reason: str) -> None:
        if args.json:
            print(json.dumps({
                "tokens": tokens, "tokens_per_s": round(tokens / seconds, 2) if seconds else 0.0,
                "stop_reason": reason, "seconds": round(seconds, 3), "seed": spec.seed, "model": spec.model_name,
                "engine": spec.engine or "local", "quantize": weights[0] if weights else spec.quantize,
                "runtime": runtime[0] if runtime else "",
                "text": "".join(streamed),
                "logprobs": [{"token": t.text, "p": round(t.p, 6),
                              "alternatives": [{"token": a, "p": round(math.exp(v), 6)} for a, v in t.alternatives]}
                             for t in probs],
            }), flush=True)  # fmt: skip
        else:
            print(flush=True)

    def on_event(e: Any) -> None:
        if isinstance(e, Loading | Note):
            print(e.what if isinstance(e, Loading) else e.text, file=sys.stderr)
        elif isinstance(e, Token):
            streamed.append(e.text)
            if args.json:
                print(json.dumps({"token": e.text}), flush=True)
            else:
                print(e.text, end="", flush=True)
        elif isinstance(e, Finished):
            result = e.items[0]
            if args.show_context and result.context is not None:
                show_context(result.context, args.json)
            probs.extend(result.probs)
            if result.quantized:
                weights.append(result.quantized)
            if result.runtime:
                runtime.append(result.runtime)
            summary(result.tokens, result.seconds, result.stop_reason)

    code = run_job(rt, spec, on_event, on_cancel=lambda: summary(len(streamed), 0.0, "cancelled"))
    if code == EXIT_OK and getattr(args, "model", None):
        rt.settings.text_model = spec.model
        rt.save_settings()
    return code
