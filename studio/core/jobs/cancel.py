"""Cooperative cancellation shared by the runner and the handlers it calls."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator

from studio.core.jobs.errors import JobCancelled


class CancelToken:
    def __init__(self) -> None:
        self._event = threading.Event()
        self._lock = threading.Lock()
        self._callbacks: list[Callable[[], None]] = []

    def cancel(self) -> None:
        with self._lock:
            self._event.set()
            callbacks, self._callbacks = self._callbacks, []
        for fn in callbacks:  # e.g. close a socket a blocking read waits on: the read ends at once
            with contextlib.suppress(Exception):
                fn()

    @property
    def cancelled(self) -> bool:
        return self._event.is_set()

    def raise_if_cancelled(self) -> None:
        if self._event.is_set():
            raise JobCancelled()

    def wait(self, seconds: float) -> bool:
        """Sleep up to ``seconds``; True as soon as the job is cancelled."""
        return self._event.wait(seconds)

    @contextlib.contextmanager
    def closing(self, fn: Callable[[], None]) -> Iterator[None]:
        """While the block runs, cancelling calls ``fn`` (from the cancelling thread) — the way to end a blocking
        read without polling it with short timeouts. Called at once if the job is already cancelled."""
        with self._lock:
            already = self._event.is_set()
            if not already:
                self._callbacks.append(fn)
        if already:
            with contextlib.suppress(Exception):
                fn()
        try:
            yield
        finally:
            with self._lock, contextlib.suppress(ValueError):
                self._callbacks.remove(fn)
