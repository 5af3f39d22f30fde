"""One model download at a time, off the GUI thread: progress, cancel (the partial file is kept) and resume."""

from __future__ import annotations

import contextlib
import threading
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, Signal

from studio.core.cancel import CancelToken
from studio.core.downloads import DownloadError, DownloadProgress, download, plan_download
from studio.core.errors import JobCancelled
from studio.core.model_library import hf_cache_dir


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

        def emit(signal: Any, *args: object) -> None:
            with contextlib.suppress(RuntimeError):  # the window closed meanwhile
                signal.emit(*args)

        def report(p: DownloadProgress) -> None:
            emit(
                self.progress,
                DownloadProgress(
                    p.repo_id, p.file, p.done, p.total, p.files_done, p.files_total, p.speed, p.resumed
                ),
            )

        def work() -> None:
            try:
                plan = plan_download(repo_id, filename or None, allow_patterns=patterns or None, token=token)
                emit(self.started, f"{plan.repo_id}: {len(plan.files)} file(s)")
                path = download(
                    plan, cache, token=token, cancel=cancel, on_progress=report, report_every_s=0.25
                )
            except JobCancelled:
                emit(self.cancelled)
            except DownloadError as e:
                emit(self.failed, e.user_message)
            except OSError as e:
                emit(self.failed, f"Could not write the download to {cache}: {e.strerror or e}")
            else:
                emit(self.finished, str(path))

        self._thread = threading.Thread(target=work, name="studio-download", daemon=True)
        self._thread.start()
        return True

    def cancel(self) -> None:
        if self._cancel is not None:
            self._cancel.cancel()
