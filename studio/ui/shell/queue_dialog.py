"""The queue from any room: a button in the status bar says what runs and waits; it opens the whole queue (every
room's jobs, in the order they will run) to reorder, cancel or look into."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDialog, QLabel, QToolButton, QVBoxLayout, QWidget

from studio.core.io.words import count
from studio.ui.common.queue_panel import QueuePanel
from studio.ui.common.theme import fit_size, icon
from studio.viewmodels.job_queue import JobQueue, JobState


class QueueButton(QToolButton):
    """ "Queue: 1 running · 2 waiting" — a click opens the queue view."""

    def __init__(self, queue: JobQueue, use_settings: Callable[[Any], Any] | None = None,
                 parent: QWidget | None = None):  # fmt: skip
        super().__init__(parent)
        self.queue = queue
        self.use_settings = use_settings
        self.setAutoRaise(True)
        self.setIcon(icon("queue"))
        self.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.setToolTip("Every room's jobs, in the order they run: reorder, cancel, see what each waits for")
        self.dialog: QueueDialog | None = None
        self.clicked.connect(self.open_view)
        queue.rowsChangedState.connect(self.refresh)
        self.refresh()

    def refresh(self) -> None:
        rows = self.queue.rows()
        running = sum(r.state in (JobState.RUNNING, JobState.LOADING) for r in rows)
        waiting = sum(r.state is JobState.QUEUED for r in rows)
        parts = [f"{running} running"] if running else []
        if waiting:
            parts.append(f"{waiting} waiting")
        self.setText("Queue: " + (" · ".join(parts) if parts else "idle"))

    def open_view(self) -> QueueDialog:
        if self.dialog is None:
            self.dialog = QueueDialog(self.queue, self.window())
            if self.use_settings is not None:
                self.dialog.panel.useSettings.connect(self.use_settings)
        self.dialog.show()
        self.dialog.raise_()
        return self.dialog


class QueueDialog(QDialog):
    def __init__(self, queue: JobQueue, parent: QWidget | None = None):
        super().__init__(parent)
        self.setWindowTitle("Queue")
        self.setModal(False)
        lay = QVBoxLayout(self)
        self.summary = QLabel()
        self.summary.setWordWrap(True)
        lay.addWidget(self.summary)
        self.panel = QueuePanel(queue)
        lay.addWidget(self.panel, 1)
        self.queue = queue
        queue.rowsChangedState.connect(self._summarise)
        self._summarise()
        fit_size(self, 460, 560)

    def _summarise(self) -> None:
        rows = self.queue.rows()
        waiting = sum(r.state is JobState.QUEUED for r in rows)
        self.summary.setText(
            "Jobs on this machine run one at a time; text goes ahead of queued pictures, training runs last "
            "(beside the rest on a CPU); jobs on a server run in that server's own line. "
            + (f"{count(waiting, 'job')} waiting." if waiting else "Nothing waits.")
        )
