"""Stopping a room's job: at once when it is young, after a question when it has run a while; and quitting with
jobs under way: finish them first, keep the waiting pictures for the next start, or stop everything."""

from __future__ import annotations

import time
from typing import Any

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QMessageBox, QWidget

from studio.core.io.words import duration
from studio.viewmodels.job_queue import JobQueue, JobRow, JobState, describe

LONG_JOB_S = 60.0  # a job that has run this long is not stopped without asking


def confirm_stop(parent: QWidget, running: list[JobRow]) -> bool:
    """True to stop: at once for a job under a minute old, after a question for a longer one."""
    if not running:
        return False
    now = time.monotonic()
    longest = max(running, key=lambda r: now - r.started if r.started else 0.0)
    ran = now - longest.started if longest.started else 0.0
    if ran < LONG_JOB_S:
        return True
    what = describe(longest.spec).splitlines()[0]
    answer = QMessageBox.question(
        parent,
        "Stop the job?",
        f"“{what[:80]}” has been running for {duration(ran)}. Stop it? What it finished is kept.",
        QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
        QMessageBox.StandardButton.No,
    )
    return answer == QMessageBox.StandardButton.Yes


QUIT_FINISH, QUIT_KEEP, QUIT_STOP, QUIT_CANCEL = "finish", "keep", "stop", "cancel"


def ask_quit(parent: QWidget, running: list[JobRow], waiting: int) -> str:
    """What to do with the jobs under way when the window closes (one of the QUIT_ words)."""
    what = describe(running[0].spec).splitlines()[0][:80] if running else "a job"
    more = f" and {waiting} more waiting" if waiting else ""
    box = QMessageBox(parent)
    box.setIcon(QMessageBox.Icon.Question)
    box.setWindowTitle("Jobs are under way")
    box.setText(f"“{what}” is running{more}. Quit now?")
    box.setInformativeText(
        "Finish: Studio quits when they are done. Keep: they stop now; waiting pictures are offered again at the "
        "next start (a training run resumes from its last checkpoint). Stop: everything stops and is forgotten."
    )
    finish = box.addButton("Finish, then quit", QMessageBox.ButtonRole.AcceptRole)
    keep = box.addButton("Keep for next start", QMessageBox.ButtonRole.ActionRole)
    stop = box.addButton("Stop and quit", QMessageBox.ButtonRole.DestructiveRole)
    box.addButton(QMessageBox.StandardButton.Cancel)
    box.setDefaultButton(finish)
    box.exec()
    clicked = box.clickedButton()
    return {finish: QUIT_FINISH, keep: QUIT_KEEP, stop: QUIT_STOP}.get(clicked, QUIT_CANCEL)


def may_close(window: Any, queue: JobQueue) -> bool:
    """Whether the window may close now: at once when nothing is under way; else ``window.quit_question`` is asked —
    finish (the window closes by itself once the jobs are done; closing again quits at once), keep, or stop."""
    if window.quit_when_idle is not None or not queue.live():
        return True
    rows = queue.rows()
    running = [r for r in rows if r.state in (JobState.RUNNING, JobState.LOADING)]
    waiting = sum(r.state is JobState.QUEUED for r in rows)
    answer = window.quit_question(window, running, waiting)
    if answer == QUIT_CANCEL:
        return False
    if answer == QUIT_FINISH:
        window.statusBar().showMessage(
            "Studio quits when the jobs under way are done (close again to quit at once)."
        )
        timer = QTimer(window, interval=500)
        timer.timeout.connect(lambda: queue.live() or window.close())
        timer.start()
        window.quit_when_idle = timer
        return False
    if answer == QUIT_STOP:
        queue.forget_unfinished()
    return True
