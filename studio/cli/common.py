"""What every command shares: exit codes, one-line failures, the runtime (with its notices told on stderr), running
one job with Ctrl+C as cancel, and the recipe tables turned into options."""

from __future__ import annotations

import argparse
import os
import queue
import signal
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from studio.core.jobs.errors import ErrorKind, StudioError
from studio.core.jobs.fields import FieldTable

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_CANCELLED = 0, 1, 2, 130


class UsageError(Exception):
    """A bad argument: one line on stderr, exit 2."""


class Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line on stderr, exit 2
        if message.startswith("argument COMMAND: invalid choice:"):
            word = message.split("'")[1] if "'" in message else "?"
            message = (
                f"unknown command {word!r}; the commands are {', '.join(self._commands())} (studio --help)"
            )
        self.exit(EXIT_USAGE, f"studio: error: {message}\n")

    def _commands(self) -> list[str]:
        for action in self._actions:
            if isinstance(action, argparse._SubParsersAction):
                return list(action.choices)
        return []


def fail(message: str, code: int) -> int:
    print(f"studio: {message}", file=sys.stderr)
    return code


def exit_code(error: StudioError) -> int:
    return EXIT_USAGE if error.kind is ErrorKind.INVALID_INPUT else EXIT_FAILED


def tell(notices: list[str]) -> None:
    for text in notices:
        print(f"studio: {text}", file=sys.stderr)


def open_runtime(args: argparse.Namespace, **kw: Any) -> Any:
    """The runtime for a command (``--home``), with what it repaired at start told on stderr."""
    from studio.runtime import build_runtime

    rt = build_runtime(getattr(args, "home", None), **kw)
    tell(rt.take_notices())
    return rt


def run_job(
    rt: Any, spec: Any, on_event: Callable[[Any], None], on_cancel: Callable[[], None] = lambda: None
) -> int:
    """Run one job on the runtime, handing its events to ``on_event``; Ctrl+C cancels it. Closes the runtime."""
    from studio.core.jobs.events import Cancelled, Failed, Finished

    events: queue.Queue[Any] = queue.Queue()
    rt.subscribe(events.put)
    job = rt.runner.submit(spec)
    watchdog: list[threading.Timer] = []

    def interrupted(*_: Any) -> None:
        """Ctrl+C: the job is cancelled (it stops at its next step); if it has not ended within STOP_WITHIN
        seconds — or Ctrl+C comes again — the command ends anyway. Saved files are whole either way."""
        if watchdog:
            give_up()
        rt.runner.cancel(job)
        timer = threading.Timer(STOP_WITHIN, give_up)
        timer.daemon = True
        watchdog.append(timer)
        timer.start()

    previous = signal.signal(signal.SIGINT, interrupted)
    try:
        while True:
            e = events.get()
            if e.job_id != job:
                continue
            if isinstance(e, Failed):
                return fail(e.error.user_message if e.error else "the job failed.", EXIT_FAILED)
            if isinstance(e, Cancelled):
                on_cancel()
                return fail("cancelled.", EXIT_CANCELLED)
            on_event(e)
            if isinstance(e, Finished):
                return EXIT_OK
    finally:
        for timer in watchdog:
            timer.cancel()
        signal.signal(signal.SIGINT, previous)
        rt.close()
        tell(rt.take_notices())


STOP_WITHIN = 1.5  # seconds a cancelled command may take to end before it is ended


def give_up() -> None:
    """End the process now (Ctrl+C that the work did not answer in time): one line, no traceback."""
    print("studio: stopped.", file=sys.stderr, flush=True)
    os._exit(EXIT_CANCELLED)


def home_option(parser: argparse.ArgumentParser, top: bool = False) -> None:
    """``--home``, accepted before or after the command (the command's copy never overrides the top one's)."""
    parser.add_argument(
        "--home",
        default=None if top else argparse.SUPPRESS,
        help="the data folder (default: $STUDIO_HOME or the platform's user folder)",
    )


def add_fields(parser: argparse.ArgumentParser, table: FieldTable, skip: tuple[str, ...] = ()) -> None:
    """One option per recipe field: its name, type and help from the table. Options not given stay out of the
    namespace, so the recipe's defaults (and the model's recommendations) decide them."""
    for f in table.fields:
        if f.cli == "" or f.name in skip:
            continue
        default = "" if f.default in (None, [], "") else f" (default: {f.default})"
        special = "; ".join(f"{v}: {meaning}" for v, meaning in f.special if v not in f.choices)  # not names
        help_text = f.help + (f" [{special}]" if special else "") + default
        kw: dict[str, Any] = {
            "dest": f.name,
            "default": argparse.SUPPRESS,
            "help": help_text.replace("%", "%%"),
        }
        if f.type is bool:
            kw["action"] = argparse.BooleanOptionalAction  # --text-encoder / --no-text-encoder
        elif f.type is list:
            kw.update(action="append", metavar=f.metavar or "VALUE")
        else:
            kw.update(type=f.type, metavar=f.metavar or f.name.upper())
            if f.choices and f.name not in ("sampler", "schedule"):  # samplers take combined names too
                kw["choices"] = f.choices
        parser.add_argument(f.option, **kw)


def draft_of(args: argparse.Namespace, table: FieldTable) -> dict[str, Any]:
    """The fields the user gave on the command line."""
    return {name: getattr(args, name) for name in table.names() if hasattr(args, name)}


def explain(problems: dict[str, str], table: FieldTable) -> str:
    """Problems by field as one line, each led by the option that sets it."""
    parts = []
    for name, message in problems.items():
        f = table.by_name.get(name)
        option = f.option if f is not None and f.cli != "" else ""
        parts.append(f"{option}: {message}" if option else message)
    return "; ".join(parts)


def existing_file(path: str, what: str) -> Path:
    p = Path(path).expanduser()
    if not p.exists():
        raise UsageError(f"{what} {path} does not exist.")
    return p
