"""*Words* and *Steps* on a result: its recipe made again (the same seed: the same picture) only to explain it —
where each chosen word acts, or every denoising step — and what was recorded shown when the job is done. Nothing
is added to the gallery."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QObject

if TYPE_CHECKING:
    from studio.ui.shell.main_window import MainWindow


class ExplainActions(QObject):
    def __init__(self, window: MainWindow):
        super().__init__(window)
        self.window = window
        self.attention_jobs: dict[str, tuple[str, list[str]]] = {}  # job → (the maps' folder, the words)
        self.steps_jobs: dict[str, str] = {}  # job → the picture whose filmstrip it records

    def _say(self, text: str, ms: int) -> None:
        self.window.statusBar().showMessage(text, ms)

    def word_attention(self, path: str, words: list[str] | None = None) -> str | None:
        """*Words*: choose words of the result's prompt; the picture is made again while its attention to them
        is recorded, and the maps are shown when it is done."""
        from studio.core.image.image_metadata import spec_of_image
        from studio.core.io.pictures import open_picture
        from studio.ui.image.attention_dialog import WordChooser

        try:
            with open_picture(path) as im:
                spec = spec_of_image(im)
        except (OSError, ValueError):
            spec = None
        if spec is None:
            self._say("This picture has no Studio recipe to make again.", 8000)
            return None
        if words is None:
            chooser = WordChooser(spec.prompt, self.window)
            if not chooser.exec():
                return None
            words = chooser.chosen()
        if not words:
            return None
        done = self.window.session.jobs.word_attention(spec, words)
        if isinstance(done, dict):
            self._say(" ".join(done.values()), 8000)
            return None
        job, folder = done
        self.attention_jobs[job] = (folder, words)
        self._say("Making it again while recording where the words act…", 6000)
        return job

    def remake_with_filmstrip(self, path: str) -> str | None:
        """*Make its filmstrip*: the picture's recipe run again (same seed) only to record its steps; the filmstrip
        goes beside the picture (no copy in the gallery) and opens when it is ready."""
        done = self.window.session.jobs.record_steps(path)
        if isinstance(done, dict):
            self._say("Cannot make it again: " + " ".join(done.values()), 8000)
            return None
        self.steps_jobs[done] = path
        self._say(f"Recording the steps of {Path(path).name}…", 5000)
        return done

    def on_job_event(self, ui: Any) -> None:
        """A job the window waits for ended: its filmstrip or its word maps open."""
        from studio.core.jobs.events import Failed, Finished

        e = ui.event
        if not isinstance(e, Finished | Failed):
            return
        if e.job_id in self.steps_jobs:
            path = self.steps_jobs.pop(e.job_id)
            if isinstance(e, Finished):
                from studio.ui.image.filmstrip_dialog import FilmstripDialog

                self.filmstrip_dialog = FilmstripDialog(path, self.window)
                self.filmstrip_dialog.setModal(False)
                self.filmstrip_dialog.show()
        if e.job_id in self.attention_jobs:
            folder, words = self.attention_jobs.pop(e.job_id)
            if isinstance(e, Finished):
                from studio.ui.image.attention_dialog import AttentionMaps

                AttentionMaps(folder, words, self.window).exec()
