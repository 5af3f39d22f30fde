"""``studio sound "PROMPT"``: music, effects or ambience from a prompt (the built-in Tones, MusicGen, Stable Audio
Open); ``studio speak "TEXT"``: text read aloud by a voice model (VITS / MMS-TTS). Each writes a file
whose tags hold its recipe (``--from-file`` makes it again)."""

from __future__ import annotations

import argparse
import json
import sys
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


def register(sub: Any) -> None:
    from studio.core.sound.recipe import SOUND, SPEAK

    s = sub.add_parser("sound", help="make a sound from a prompt (music, effects, ambience)")
    home_option(s)
    s.add_argument("prompt", nargs="?", default=None, help="what it should sound like")
    add_fields(s, SOUND)
    _common(s)
    s.set_defaults(run=run_sound)
    v = sub.add_parser("speak", help="read a text aloud with a voice model")
    home_option(v)
    v.add_argument("text", nargs="?", default=None, help="what to say (- reads standard input)")
    add_fields(v, SPEAK)
    _common(v)
    v.set_defaults(run=run_speak)


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--out", metavar="FILE", default="", help="write here (.flac, .ogg or .wav) instead of the gallery"
    )
    p.add_argument("--from-file", metavar="FILE", help="the recipe of a sound file Studio made (options given here "
                   "override it)")  # fmt: skip
    p.add_argument("--json", action="store_true", help="one JSON line about the file made")


def _draft(args: argparse.Namespace, table: Any, words: str | None) -> tuple[dict[str, Any], str] | int:
    draft: dict[str, Any] = {}
    if args.from_file:
        from studio.core.sound.recipe import draft_from_file

        found = draft_from_file(Path(args.from_file).expanduser())
        if isinstance(found, str):
            return fail(found, EXIT_USAGE)
        draft, from_words = found
        words = words if words is not None else from_words
    draft.update(draft_of(args, table))
    if not words:
        return fail("say what to make (a prompt), or give --from-file.", EXIT_USAGE)
    return draft, words


def _report(args: argparse.Namespace, saved: Any) -> None:
    from studio.core.sound.analysis import analyse
    from studio.core.sound.audio_files import decode

    decoded = decode(saved.path)
    heard = analyse(*decoded) if isinstance(decoded, tuple) else None
    if args.json:
        print(json.dumps({"file": str(saved.path), "seconds": round(saved.seconds, 3), "sample_rate": saved.sample_rate,
                          "seed": saved.spec.seed, "model": saved.spec.model_name,
                          "centroid_hz": round(heard.centroid_hz, 1) if heard else None,
                          "pitch_hz": round(heard.pitch_hz, 1) if heard else None,
                          "onsets_per_s": round(heard.onsets_per_s, 2) if heard else None}))  # fmt: skip
    else:
        print(saved.path)
        print(f"  {saved.spec.model_name}, seed {saved.spec.seed}" + (f" · {heard.describe()}" if heard else ""),
              file=sys.stderr)  # fmt: skip


def _run(args: argparse.Namespace, spec: Any) -> int:
    from studio.core.jobs.events import Finished, Loading, Progress

    rt = open_runtime(args)
    made: list[Any] = []

    def on_event(e: Any) -> None:
        if isinstance(e, Loading) and not args.json:
            print(f"studio: loading {e.what}…", file=sys.stderr)
        elif isinstance(e, Progress) and not args.json and sys.stderr.isatty():
            print(f"\r{e.step}/{e.total}", end="", file=sys.stderr)
        elif isinstance(e, Finished):
            made.extend(e.items)

    code = run_job(rt, spec, on_event)
    for saved in made if code == EXIT_OK else []:
        _report(args, saved)
    return code


def run_sound(args: argparse.Namespace) -> int:
    from studio.core.sound.recipe import SOUND, freeze_sound

    found = _draft(args, SOUND, args.prompt)
    if isinstance(found, int):
        return found
    spec = freeze_sound(*found, out=str(Path(args.out).expanduser()) if args.out else "")
    if isinstance(spec, dict):
        return fail(explain(spec, SOUND), EXIT_USAGE)
    return _run(args, spec)


def run_speak(args: argparse.Namespace) -> int:
    from studio.core.sound.recipe import SPEAK, freeze_speech

    text = sys.stdin.read() if args.text == "-" else args.text
    found = _draft(args, SPEAK, text)
    if isinstance(found, int):
        return found
    draft, words = found
    if not draft.get("model"):
        from studio.cli.generate import library

        rt = open_runtime(args)
        draft["model"] = next((str(e.path) for e in library(rt)() if e.kind == "speech"), "")
        rt.close()
        if not draft["model"]:
            return fail("No voice model is installed: get “MMS-TTS English (VITS)” with studio models download, or "
                        "give one with --model FOLDER.", EXIT_USAGE)  # fmt: skip
    spec = freeze_speech(draft, words, out=str(Path(args.out).expanduser()) if args.out else "")
    if isinstance(spec, dict):
        return fail(explain(spec, SPEAK), EXIT_USAGE)
    return _run(args, spec)
