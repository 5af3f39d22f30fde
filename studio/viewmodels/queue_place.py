"""A room's word on where its job waits: "Waiting: 2nd in line, behind “a castle” (Image), about 40 s left." —
said when the job is queued and every second until it starts."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QObject, QTimer

from studio.viewmodels.job_queue import JobQueue, JobState


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
        words = self._queue.place(self._job)
        if words:
            self._say(words)
