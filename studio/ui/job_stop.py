"""Stopping a room's job: at once when it is young, after a question when it has run a while."""

from __future__ import annotations

import time

from PySide6.QtWidgets import QMessageBox, QWidget

from studio.viewmodels.job_queue import JobRow, describe, fmt_seconds

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
        f"“{what[:80]}” has been running for {fmt_seconds(ran)}. Stop it? What it finished is kept.",
        QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
        QMessageBox.StandardButton.No,
    )
    return answer == QMessageBox.StandardButton.Yes
