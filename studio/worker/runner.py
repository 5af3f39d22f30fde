"""One queue, one consumer thread per lane: the jobs of a lane run in order, one at a time. The device lane runs what
uses this machine; a job made on a server (a ComfyUI server, by its name) runs in that server's own lane, so it does
not wait for the local GPU, nor the local GPU for it."""

from __future__ import annotations

import dataclasses
import itertools
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from studio.core.jobs.cancel import CancelToken
from studio.core.jobs.errors import ErrorKind, JobCancelled, StudioError
from studio.core.jobs.events import Cancelled, Event, Failed, Finished, Queued, Started

Emit = Callable[[Event], None]


class Handler(Protocol):
    def __call__(self, spec: Any, cancel: CancelToken, emit: Emit) -> list[Any]: ...


@dataclass
class Job:
    id: str
    spec: Any
    cancel: CancelToken


DEVICE = "device"  # the lane of this machine's device (and of the chores)


class JobRunner:
    """Runs submitted specs in FIFO order per lane, one thread per lane, reporting typed events through ``emit``.

    ``lane_of(spec)`` names a job's lane (default: every job on the device lane). ``emit`` is called from the lanes'
    threads (and from the caller's thread for ``Queued`` and for cancelling a job that has not started); it must be
    thread-safe.
    """

    def __init__(
        self,
        emit: Emit,
        handlers: dict[type, Handler] | None = None,
        name: str = DEVICE,
        lane_of: Callable[[Any], str] = lambda spec: DEVICE,
        priority_of: Callable[[Any], int] = lambda spec: 0,
    ):
        self._emit = emit
        self._handlers: dict[type, Handler] = dict(handlers or {})
        self._lane_of = lane_of
        self._priority_of = priority_of
        self._pending: list[Job] = []
        self._chores: list[Callable[[], None]] = []
        self._running: dict[str, Job] = {}  # lane → its running job
        self._cond = threading.Condition()
        self._stopping = False
        self._ids = itertools.count(1)
        self._name = name
        self._threads: dict[str, threading.Thread] = {}
        self._start_lane(DEVICE)

    def _start_lane(self, lane: str) -> None:
        """(Under the lock, or before any other thread exists.)"""
        label = self._name if lane == DEVICE else f"{self._name}-{lane}"
        thread = threading.Thread(target=self._loop, args=(lane,), name=f"studio-runner-{label}", daemon=True)
        self._threads[lane] = thread
        thread.start()

    def _lane(self, job: Job) -> str:
        try:
            return str(self._lane_of(job.spec)) or DEVICE
        except Exception:  # noqa: BLE001 - a spec the lane rule does not know runs on the device
            return DEVICE

    # -- the caller's side ----------------------------------------------------------------------------------
    def register(self, spec_type: type, handler: Handler) -> None:
        self._handlers[spec_type] = handler

    def submit(self, spec: Any) -> str:
        if type(spec) not in self._handlers:
            raise StudioError(ErrorKind.INTERNAL, f"No handler for {type(spec).__name__} jobs.")
        with self._cond:
            if self._stopping:
                raise StudioError(ErrorKind.INTERNAL, "Studio is shutting down; the job was not queued.")
            job = Job(f"job-{next(self._ids)}", spec, CancelToken())
            lane = self._lane(job)
            if lane not in self._threads:
                self._start_lane(lane)
            self._pending.insert(self._place_for(job), job)
            mine = [j for j in self._pending if self._lane(j) == lane]
            ahead = mine.index(job) + 1
            position = ahead - (0 if lane in self._running else 1)
            self._emit(Queued(job.id, spec=spec, position=position))
            self._cond.notify_all()
        return job.id

    def _place_for(self, job: Job) -> int:
        """(Under the lock.) Where a new job waits: after every job of its priority or higher, before the lower
        ones — a short text job goes ahead of queued image batches and training runs, never ahead of its kind."""
        mine = self._priority(job)
        return next((i for i, j in enumerate(self._pending) if self._priority(j) < mine), len(self._pending))

    def _priority(self, job: Job) -> int:
        try:
            return int(self._priority_of(job.spec))
        except Exception:  # noqa: BLE001 - a spec the rule does not know waits its turn
            return 0

    def lane_of(self, job_id: str) -> str:
        with self._cond:
            job = next((j for j in (*self._pending, *self._running.values()) if j.id == job_id), None)
            return self._lane(job) if job is not None else ""

    def call_soon(self, chore: Callable[[], None]) -> None:
        """Run ``chore`` on the runner thread before the next job (e.g. warming up imports). No events;
        a chore that fails is ignored, because the job that needs the same thing will report it properly."""
        with self._cond:
            self._chores.append(chore)
            self._cond.notify()

    def cancel(self, job_id: str) -> bool:
        """Cancel a queued job (it never runs) or the running one (it stops at its next step)."""
        with self._cond:
            for running in self._running.values():
                if running.id == job_id:
                    running.cancel.cancel()
                    return True
            for job in self._pending:
                if job.id == job_id:
                    self._pending.remove(job)
                    job.cancel.cancel()
                    self._emit(Cancelled(job.id))
                    return True
        return False

    def cancel_all(self) -> None:
        with self._cond:
            ids = [j.id for j in self._pending] + [j.id for j in self._running.values()]
        for job_id in ids:
            self.cancel(job_id)

    def move(self, job_id: str, index: int) -> bool:
        """Move a queued job to ``index`` among the queued jobs."""
        with self._cond:
            for job in self._pending:
                if job.id == job_id:
                    self._pending.remove(job)
                    self._pending.insert(max(0, min(index, len(self._pending))), job)
                    return True
        return False

    def pending_ids(self) -> list[str]:
        with self._cond:
            return [j.id for j in self._pending]

    @property
    def running_id(self) -> str | None:
        """The device's running job (else a server lane's), or None."""
        with self._cond:
            job = self._running.get(DEVICE) or next(iter(self._running.values()), None)
            return job.id if job else None

    def shutdown(self, timeout: float = 5.0) -> bool:
        """Cancel everything and stop the thread; True if it stopped within ``timeout`` seconds."""
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        self.cancel_all()
        deadline = time.monotonic() + timeout
        for thread in list(self._threads.values()):
            thread.join(max(0.0, deadline - time.monotonic()))
        return not any(t.is_alive() for t in self._threads.values())

    def wait_idle(self, timeout: float | None = None) -> bool:
        """Block until no job is queued or running (for the CLI and tests)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._cond:
            while self._pending or self._running:
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    return False
                self._cond.wait(remaining)
        return True

    # -- the runner thread ------------------------------------------------------------------------------------
    def _next(self, lane: str) -> Job | None:
        """(Under the lock.) The first queued job of ``lane``, taken off the queue."""
        for job in self._pending:
            if self._lane(job) == lane:
                self._pending.remove(job)
                return job
        return None

    def _mine(self, lane: str) -> bool:
        return any(self._lane(j) == lane for j in self._pending) or (lane == DEVICE and bool(self._chores))

    def _loop(self, lane: str) -> None:
        while True:
            with self._cond:
                while not self._mine(lane) and not self._stopping:
                    self._cond.wait()
                if self._stopping and not self._mine(lane):
                    return
                chores: list[Callable[[], None]] = []
                if lane == DEVICE:
                    chores, self._chores = self._chores, []
                job = self._next(lane) if not chores else None
                if job is not None:
                    self._running[lane] = job
            for chore in chores:
                try:
                    chore()
                except Exception:  # noqa: BLE001, S112 - see call_soon
                    continue
            if job is None:
                continue
            try:
                self._run(job)
            finally:
                with self._cond:
                    self._running.pop(lane, None)
                    self._cond.notify_all()

    def _run(self, job: Job) -> None:
        if job.cancel.cancelled:
            self._emit(Cancelled(job.id))
            return

        def emit(event: Event) -> None:
            self._emit(dataclasses.replace(event, job_id=job.id))

        started = time.perf_counter()
        self._emit(Started(job.id))
        try:
            items = self._handlers[type(job.spec)](job.spec, job.cancel, emit)
        except JobCancelled:
            self._emit(Cancelled(job.id))
        except StudioError as e:
            self._emit(Failed(job.id, error=e))
        except Exception as e:  # noqa: BLE001 - the one place where any failure becomes a typed event
            error = StudioError(
                ErrorKind.INTERNAL,
                f"The job failed unexpectedly: {type(e).__name__}: {e}",
                details=traceback.format_exc(),
            )
            self._emit(Failed(job.id, error=error))
        else:
            self._emit(Finished(job.id, items=tuple(items or ()), seconds=time.perf_counter() - started))
