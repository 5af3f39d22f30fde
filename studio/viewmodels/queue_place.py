"""A room's word on where its job waits: "Waiting: 2nd in line, behind “a castle” (Image), about 40 s left." —
said when the job is queued and every second until it starts."""

from __future__ import annotations

import time
from collections.abc import Callable

from PySide6.QtCore import QObject, QTimer

from studio.core.io.words import duration
from studio.viewmodels.job_queue import JobQueue, JobState, describe, ordinal


class PlaceWatcher(QObject):
    def __init__(self, queue: JobQueue, say: Callable[[str], None], parent: QObject | None = None):
        super().__init__(parent)
        self._queue, self._say = queue, say
        self._job: str | None = None
        self._timer = QTimer(self, interval=1000)
        self._timer.timeout.connect(self._tick)
        queue.rowsChangedState.connect(self._tick)

    def watch(self, job_id: str | None) -> None:
        """Follow ``job_id`` until it starts (None: stop following)."""
        self._job = job_id
        if job_id is None:
            self._timer.stop()
            return
        self._timer.start()
        self._tick()

    def _tick(self) -> None:
        if self._job is None:
            return
        row = self._queue.row_of(self._job)
        if row is None or row.state is not JobState.QUEUED:
            self.watch(None)
            return
        words = place_words(self._queue, self._job)
        if words:
            self._say(words)


def place_words(queue: JobQueue, job_id: str) -> str:
    """Where a job stands, in words: "Running", or its place in line and what it waits for, with the time the
    running job ahead still needs when that is known."""
    row = queue.row_of(job_id)
    if row is None or row.state.finished:
        return ""
    if row.state is not JobState.QUEUED:
        return row.state.value
    pending = queue.pending_ids()
    ahead = pending.index(job_id) if job_id in pending else 0
    running = [r for r in queue.rows() if r.state in (JobState.RUNNING, JobState.LOADING)]
    if not running and not ahead:
        return "Starting…"
    blocking = next((r for r in running if r.id != job_id), None)
    words = f"Waiting: {ordinal(ahead + 1)} in line" if ahead else "Waiting: next in line"
    if blocking is not None:
        what = describe(blocking.spec).splitlines()[0]
        what = what if len(what) <= 40 else what[:39].rstrip() + "…"
        words += f", behind “{what}” ({blocking.room.value})"
        left = blocking.seconds_left(time.monotonic())
        if left is not None:
            words += f", about {duration(left)} left"
    return words + "."
