"""The one helper for work off the GUI thread: run a function on a daemon thread and hand its result (or the
exception it raised) back on the GUI thread. Scanning the model library, hashing a file, importing pictures or
models and reconciling the gallery all go through it, so none of them blocks the window or touches widgets from
another thread."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable
from typing import Any, TypeVar

from PySide6.QtCore import QObject, Qt, Signal

T = TypeVar("T")


class _Relay(QObject):
    """Carries one result to the GUI thread. A child of the caller's object: when that object goes (a window
    closed), the relay goes with it and a late result is dropped instead of reaching a deleted object."""

    done = Signal(object)
    failed = Signal(object)

    def __init__(
        self, owner: QObject, then: Callable[[Any], None] | None, on_error: Callable[[Any], None] | None
    ):
        super().__init__(owner)
        self._then, self._on_error = then, on_error
        self.done.connect(self._deliver_done, Qt.ConnectionType.QueuedConnection)
        self.failed.connect(self._deliver_failed, Qt.ConnectionType.QueuedConnection)

    def _deliver_done(self, value: Any) -> None:
        self.deleteLater()
        if self._then is not None:
            self._then(value)

    def _deliver_failed(self, error: Any) -> None:
        self.deleteLater()
        if self._on_error is not None:
            self._on_error(error)


def in_background(
    owner: QObject,
    work: Callable[[], T],
    then: Callable[[T], None] | None = None,
    *,
    name: str,
    on_error: Callable[[BaseException], None] | None = None,
) -> threading.Thread:
    """Run ``work()`` on a daemon thread named ``name``; ``then(result)`` (or ``on_error(exception)``) runs on the
    GUI thread, as long as ``owner`` (the object that asked) still exists. An error with no ``on_error`` is
    dropped: pass one when the user must hear of it."""
    relay = _Relay(owner, then, on_error)

    def run() -> None:
        try:
            result = work()
        except Exception as e:  # noqa: BLE001 - handed to on_error on the GUI thread
            with contextlib.suppress(RuntimeError):  # the owner (and so the relay) went meanwhile
                relay.failed.emit(e)
            return
        with contextlib.suppress(RuntimeError):
            relay.done.emit(result)

    thread = threading.Thread(target=run, name=name, daemon=True)
    thread.start()
    return thread
