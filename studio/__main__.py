"""``studio`` and ``python -m studio``: the window with no command, the CLI with one.

Anything that is not an option of the window (``--home DIR``, ``--smoke-test``, Qt's own ``-style NAME``…) goes to
the command line, which names an unknown command instead of opening a window that a script would wait on."""

from __future__ import annotations

import sys

_WINDOW_FLAGS = ("--quit-after-show", "--smoke-test")


def wants_window(args: list[str]) -> bool:
    """True when ``args`` hold only the window's options: no command, no unknown word."""
    i = 0
    while i < len(args):
        a = args[i]
        if a in ("-h", "--help", "--version"):
            return False
        if a == "--home":
            i += 2
            continue
        if a.startswith("--home=") or a in _WINDOW_FLAGS:
            i += 1
            continue
        if a.startswith("-") and not a.startswith("--"):  # a Qt option, maybe with its value (-style fusion)
            i += 2 if i + 1 < len(args) and not args[i + 1].startswith("-") else 1
            continue
        return False
    return True


def exit_now(code: int) -> None:
    """End a command's process once its work is done: threads still running are waited for, exit handlers run
    and the output flushed, as at a normal exit, but the interpreter's teardown — freeing every module and
    object one by one, unloading torch's and OpenVINO's libraries — is skipped: it took a second of each
    ``studio generate``, after its files were written."""
    import atexit
    import os
    import threading

    for thread in threading.enumerate():
        if thread is not threading.main_thread() and not thread.daemon:
            thread.join()
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # a closed pipe (`| head`): what was not read is not needed
            code = code or 1
    os._exit(code)


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if args[:1] == [
        "--train-process"
    ]:  # the trainer's own process (the self-contained build has no python -m)
        from studio.engine.train_process import main as train_main

        return train_main(args[1:])
    if not wants_window(args):
        from studio.cli import main as cli_main

        code = cli_main(args)
        if argv is None:  # a process of its own (not a caller's function call): end it without the teardown
            exit_now(code)
        return code
    from studio.app import main as app_main

    return app_main(args)


if __name__ == "__main__":
    sys.exit(main())
