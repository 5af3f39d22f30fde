"""One model download at a time, off the GUI thread: progress, cancel (the partial file is kept) and resume."""

from __future__ import annotations

import contextlib
import threading
from pathlib import Path

from PySide6.QtCore import QObject, Signal

from studio.core.io.words import count
from studio.core.jobs.cancel import CancelToken
from studio.core.jobs.errors import JobCancelled
from studio.core.models.downloads import DownloadError, DownloadProgress, download, plan_download
from studio.core.models.model_library import hf_cache_dir
from studio.viewmodels.background import in_background


class Downloads(QObject):
    started = Signal(str)  # what is being fetched, in words
    progress = Signal(object)  # DownloadProgress (a copy)
    finished = Signal(str)  # the path in the Hugging Face cache
    failed = Signal(str)  # one sentence
    cancelled = Signal()

    def __init__(self, cache_dir: Path | None = None, parent: QObject | None = None):
        super().__init__(parent)
        self.cache_dir = cache_dir
        self._cancel: CancelToken | None = None
        self._thread: threading.Thread | None = None

    @property
    def busy(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(
        self,
        repo_id: str,
        filename: str | None = None,
        patterns: list[str] | None = None,
        token: str | None = None,
    ) -> bool:
        if self.busy:
            return False
        cancel = self._cancel = CancelToken()
        cache = self.cache_dir or hf_cache_dir()

        def report(p: DownloadProgress) -> None:  # on the download's thread: the signal is queued to the GUI
            with contextlib.suppress(RuntimeError):  # the window closed meanwhile
                self.progress.emit(
                    DownloadProgress(
                        p.repo_id, p.file, p.done, p.total, p.files_done, p.files_total, p.speed, p.resumed
                    )
                )

        def work() -> str:
            plan = plan_download(repo_id, filename or None, allow_patterns=patterns or None, token=token)
            with contextlib.suppress(RuntimeError):
                self.started.emit(f"{plan.repo_id}: {count(len(plan.files), 'file')}")
            return str(
                download(plan, cache, token=token, cancel=cancel, on_progress=report, report_every_s=0.25)
            )

        def failed(e: BaseException) -> None:
            if isinstance(e, JobCancelled):
                self.cancelled.emit()
            elif isinstance(e, DownloadError):
                self.failed.emit(e.user_message)
            elif isinstance(e, OSError):
                self.failed.emit(f"Could not write the download to {cache}: {e.strerror or e}")
            else:
                self.failed.emit(f"The download failed: {e}")

        self._thread = in_background(self, work, self.finished.emit, name="studio-download", on_error=failed)
        return True

    def cancel(self) -> None:
        if self._cancel is not None:
            self._cancel.cancel()
