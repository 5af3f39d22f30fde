"""The headless face of Studio: ``studio generate …`` and friends, on the same runtime as the window.

One module per command (``register`` adds its parser, ``run`` runs it); their options come from the recipes' field
tables. Global options (``--home``) go before or after the command. Exit status: 0 done, 1 failed, 2 bad input,
130 cancelled.
"""

from __future__ import annotations

import argparse

from studio import __version__
from studio.cli import (
    backends,
    caption,
    card,
    detail,
    explain,
    gallery,
    generate,
    info,
    models,
    plot,
    prompt,
    recipe,
    segment,
    sound,
    train,
    train_text,
    upscale,
    verify,
    write,
)
from studio.cli.common import EXIT_CANCELLED, EXIT_OK, Parser, exit_code, fail, home_option
from studio.core.jobs.errors import StudioError

_MODULES = (
    generate,
    plot,
    upscale,
    segment,
    detail,
    write,
    prompt,
    explain,
    info,
    gallery,
    models,
    train,
    train_text,
    caption,
    recipe,
    backends,
    verify,
    card,
    sound,
)
COMMANDS = (
    "generate",
    "plot",
    "segment",
    "remove-background",
    "write",
    "prompt",
    "explain",
    "info",
    "gallery",
    "models",
    "train",
    "train-text",
    "caption",
    "recipe",
    "backends",
    "verify",
    "credentials",
    "card",
    "sound",
    "speak",
)


def build_parser() -> argparse.ArgumentParser:
    p = Parser(prog="studio", description="Studio: local generative AI. Without a command, opens the window.")
    p.add_argument("--version", action="version", version=f"studio {__version__}")
    home_option(p, top=True)
    sub = p.add_subparsers(dest="command", parser_class=Parser, metavar="COMMAND")
    for module in _MODULES:
        module.register(sub)
    return p


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return EXIT_OK
    try:
        return int(args.run(args))
    except StudioError as e:
        return fail(e.user_message, exit_code(e))
    except KeyboardInterrupt:  # Ctrl+C in a command that runs no job: one line, no traceback
        return fail("stopped.", EXIT_CANCELLED)
