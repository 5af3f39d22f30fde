"""The training job on Studio's queue: it frees the device, runs the trainer in its own process and relays its
events — so training waits for image and text jobs (and they for it), and a crashed trainer never takes the
window with it."""

from __future__ import annotations

import os
import selectors
import shutil
import signal
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path

from studio.core.io.atomic import atomic_write
from studio.core.jobs.cancel import CancelToken
from studio.core.jobs.errors import ErrorKind, JobCancelled, StudioError
from studio.core.jobs.events import Cancelled, Event, Failed
from studio.core.train.event_codec import decode
from studio.core.train.train_specs import TrainDone, TrainSpec, checkpoint_step, latest_checkpoint


def trainer_command(spec_file: Path, spec: TrainSpec | None = None) -> list[str]:
    if (
        spec is not None and spec.accelerate
    ):  # data-parallel over the processes the accelerate config asks for
        exe = shutil.which("accelerate") or str(Path(sys.executable).with_name("accelerate"))
        config = ["--config_file", spec.accelerate_config] if spec.accelerate_config else []
        return [exe, "launch", *config, "-m", "studio.engine.train_process", str(spec_file)]
    if getattr(sys, "frozen", False):  # the self-contained build: its executable is Studio itself
        return [sys.executable, "--train-process", str(spec_file)]
    return [sys.executable, "-m", "studio.engine.train_process", str(spec_file)]


class TrainJob:
    def __init__(self, make_room: Callable[[], None] = lambda: None):
        self.make_room = make_room
        self._proc: subprocess.Popen[bytes] | None = None
        self._lock = threading.Lock()

    def request_checkpoint(self) -> bool:
        """Ask the running trainer to save a checkpoint after its current step (from any thread). False when no
        run is going on."""
        with self._lock:
            proc = self._proc
            if proc is None or proc.poll() is not None or proc.stdin is None:
                return False
            try:
                proc.stdin.write(b"checkpoint\n")
                proc.stdin.flush()
            except OSError:
                return False
            return True

    def __call__(
        self, spec: TrainSpec, cancel: CancelToken, emit: Callable[[Event], None]
    ) -> list[TrainDone]:
        self.make_room()
        run = Path(spec.run_dir)
        run.mkdir(parents=True, exist_ok=True)
        request = run / "request.json"
        atomic_write(request, lambda f: f.write(spec.to_json().encode()))
        with open(run / "trainer.log", "ab") as log:
            proc = subprocess.Popen(
                trainer_command(request, spec),
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=log,
                env={**os.environ, "PYTHONUNBUFFERED": "1"},
            )
        with self._lock:
            self._proc = proc
        (run / "trainer.pid").write_text(str(proc.pid))
        assert proc.stdout is not None
        sel = selectors.DefaultSelector()
        sel.register(proc.stdout, selectors.EVENT_READ)
        done: TrainDone | None = None
        failed: StudioError | None = None
        cancelled = asked = False
        buffer = b""
        try:
            while True:
                if cancel.cancelled and not asked:
                    asked = True
                    proc.send_signal(signal.SIGINT)
                if not sel.select(timeout=0.1):  # nothing yet: look at the cancel token again
                    continue
                chunk = os.read(proc.stdout.fileno(), 1 << 16)
                if not chunk:  # the trainer's end of the pipe closed: it has exited
                    break
                buffer += chunk
                *lines, buffer = buffer.split(b"\n")
                for line in lines:
                    event = decode(line.decode("utf-8", "replace"))
                    if isinstance(event, TrainDone):
                        done = event
                        emit(event)
                    elif isinstance(event, Failed):
                        failed = event.error
                    elif isinstance(event, Cancelled):
                        cancelled = True
                    elif event is not None:
                        emit(event)
        finally:
            sel.close()
            code = proc.wait()
            with self._lock:
                self._proc = None
            (run / "trainer.pid").unlink(missing_ok=True)
        if done is not None:
            return [done]
        if cancelled or (asked and code in (130, -signal.SIGINT)):
            raise JobCancelled()
        if failed is not None:
            raise failed
        ck = latest_checkpoint(run)
        kept = (
            f"The checkpoint at step {checkpoint_step(ck)} is kept" if ck else "No checkpoint was written yet"
        )
        raise StudioError(
            ErrorKind.INTERNAL,
            f"Training was interrupted (the trainer stopped with status {code}). "
            f"{kept} — press Resume to continue.",
            (run / "trainer.log").read_text("utf-8", "replace")[-4000:],
            field="interrupted",
        )
