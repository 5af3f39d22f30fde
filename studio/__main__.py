"""``studio`` and ``python -m studio``: the window with no arguments, the CLI with a command."""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if args[:1] == [
        "--train-process"
    ]:  # the trainer's own process (the self-contained build has no python -m)
        from studio.engine.train_process import main as train_main

        return train_main(args[1:])
    from studio.cli import COMMANDS

    if any(a in COMMANDS or a in ("-h", "--help", "--version") for a in args):
        from studio.cli import main as cli_main

        return cli_main(args)
    from studio.app import main as app_main

    return app_main(args)


if __name__ == "__main__":
    sys.exit(main())
