"""The trainer's own process: ``python -m studio.engine.train_process SPEC.json``.

Prints one JSON event per line on stdout (``core.event_codec``); SIGINT or SIGTERM (or "cancel" on stdin) stops
it within one step, keeping the last checkpoint; SIGUSR1 (or "checkpoint" on stdin) saves a checkpoint after the
current step. Exit status 0 done, 1 failed, 130 cancelled.
"""

from __future__ import annotations

import signal
import sys
import threading
import traceback
from pathlib import Path

from studio.core.jobs.cancel import CancelToken
from studio.core.jobs.errors import ErrorKind, JobCancelled, StudioError
from studio.core.jobs.events import Cancelled, Event, Failed
from studio.core.train.event_codec import encode
from studio.core.train.text_train_specs import TextTrainSpec, is_text_request
from studio.core.train.train_specs import TrainSpec
from studio.engine.train_parallel import launched_rank

_out_lock = threading.Lock()


def emit(event: Event) -> None:
    if (
        launched_rank() != 0
    ):  # under accelerate launch only process 0 speaks: the others' stdout is the same pipe
        return
    with _out_lock:
        sys.stdout.write(encode(event) + "\n")
        sys.stdout.flush()


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    try:
        request = Path(argv[0]).read_text("utf-8")
        spec: TrainSpec | TextTrainSpec = (
            TextTrainSpec.from_json(request) if is_text_request(request) else TrainSpec.from_json(request)
        )
    except (OSError, ValueError) as e:
        emit(Failed(error=StudioError(ErrorKind.INVALID_INPUT, f"The training request cannot be read: {e}")))
        return 1
    cancel = CancelToken()
    checkpoint_now = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: cancel.cancel())
    if hasattr(signal, "SIGUSR1"):
        signal.signal(signal.SIGUSR1, lambda *_: checkpoint_now.set())

    def watch_stdin() -> None:
        for line in sys.stdin:
            if line.strip() == "cancel":
                cancel.cancel()
            elif line.strip() == "checkpoint":
                checkpoint_now.set()

    threading.Thread(target=watch_stdin, daemon=True).start()
    from studio.engine.lora_train import train
    from studio.engine.text_preferences import train_text

    try:
        if isinstance(spec, TextTrainSpec):
            emit(train_text(spec, emit, cancel, checkpoint_now))
        else:
            emit(train(spec, emit, cancel, checkpoint_now))
    except JobCancelled:
        emit(Cancelled())
        return 130
    except StudioError as e:
        emit(Failed(error=e))
        return 1
    except Exception as e:  # noqa: BLE001 - reported, with the traceback as details
        from studio.engine.errors import is_out_of_memory, translate

        err = (
            translate(e)
            if is_out_of_memory(e)
            else StudioError(ErrorKind.INTERNAL, f"Training failed: {e}", traceback.format_exc())
        )
        emit(Failed(error=err))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
