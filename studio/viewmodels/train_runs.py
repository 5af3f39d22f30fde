"""The Fine-tune room's past runs: listed from the runs folder (off the GUI thread), each with its curve, samples,
grids, settings and result; two compared; an interrupted one resumed."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtGui import QImage

from studio.core.io.words import duration
from studio.core.train.recipe import TRAIN
from studio.core.train.run_history import PastRun, past_runs
from studio.viewmodels.background import in_background
from studio.viewmodels.train_session import TrainSession

STATUS_WORDS = {"done": "finished", "running": "interrupted", "cancelled": "cancelled", "failed": "failed"}
SETTINGS = ("algo", "rank", "alpha", "lr_unet", "steps", "batch_size", "resolution", "train_text_encoder", "ema",
            "min_snr_gamma", "noise_offset", "validation_split", "repeats", "seed", "base")  # fmt: skip
PICTURE_HEIGHT = 96
ALGO_NAMES = {"lora": "LoRA", "dora": "DoRA", "loha": "LoHa", "lokr": "LoKr"}


class TrainRuns(QObject):
    listed = Signal()
    picturesReady = Signal(str, list)  # run folder, [(caption, QImage)]

    def __init__(self, session: TrainSession, parent: QObject | None = None):
        super().__init__(parent)
        self.session = session
        self.runs: list[PastRun] = []
        self.loading = False
        session.stopped.connect(lambda _how: self.refresh())

    def refresh(self) -> None:
        if self.loading:
            return
        self.loading = True
        folder = self.session.training_dir / "runs"
        in_background(self, lambda: past_runs(folder), self._listed, name="studio-train-runs",
                      on_error=lambda _e: self._listed([]))  # fmt: skip

    def _listed(self, runs: list[PastRun]) -> None:
        self.loading = False
        running = self.session.run_dir if self.session.job else None
        self.runs = [r for r in runs if r.folder != running]  # the run going on is the room's live one
        self.listed.emit()

    def load_pictures(self, run: PastRun) -> None:
        """The run's last samples and its last A/B grid, scaled for the list (read off the GUI thread)."""
        wanted = [(f"Samples at step {int(p.stem.split('-')[-1])}", p) for p in run.samples[-1:]]
        wanted += [(f"A/B grid, {p.stem.removeprefix('ab-').replace('-', ' ')}", p) for p in run.grids[-1:]]

        def read() -> list[tuple[str, QImage]]:
            out = []
            for caption, path in wanted:
                image = QImage(str(path))
                if not image.isNull():
                    out.append((caption, image.scaledToHeight(min(PICTURE_HEIGHT, image.height()),
                                                              Qt.TransformationMode.SmoothTransformation)))  # fmt: skip
            return out

        folder = str(run.folder)
        in_background(self, read, lambda pictures: self.picturesReady.emit(folder, pictures),
                      name="studio-train-run-pictures")  # fmt: skip

    def resume(self, run: PastRun) -> str | None:
        if not run.resumable:
            return f"{run.name} has no checkpoint to resume from."
        return self.session.resume(run.folder)


def describe(run: PastRun) -> str:
    """One line for the list: name, how it ended, how far, its kind, and its last losses."""
    spec = run.spec
    status = STATUS_WORDS.get(run.status, run.status or "unknown")
    parts = [run.name, status, f"step {run.step}/{run.steps}"]
    if spec is not None:
        parts.append(f"{ALGO_NAMES.get(spec.algo, spec.algo)} rank {spec.rank}")
    if run.curve.losses:
        parts.append(f"loss {run.curve.smoothed()[-1]:.4f}")
    if run.curve.validation:
        parts.append(f"validation {run.curve.validation[-1]:.4f}")
    if run.seconds:
        parts.append(
            duration(run.seconds)
            + (f" (estimated {duration(run.estimate, rough=True)})" if run.estimate else "")
        )
    return " · ".join(parts)


def settings_of(run: PastRun) -> dict[str, str]:
    if run.spec is None:
        return {}
    return {
        TRAIN[name].label if name in TRAIN else name: _shown(getattr(run.spec, name)) for name in SETTINGS
    }


def _shown(value: object) -> str:
    if isinstance(value, str) and value in ALGO_NAMES:
        return ALGO_NAMES[value]
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, str) and ("/" in value or "\\" in value):
        return Path(value).name
    return f"{value:g}" if isinstance(value, float) else str(value)


def compare(a: PastRun, b: PastRun) -> list[tuple[str, str, str]]:
    """The settings two runs differ in: (setting, first run's, second run's)."""
    sa, sb = settings_of(a), settings_of(b)
    return [(k, sa.get(k, "—"), sb.get(k, "—")) for k in dict.fromkeys([*sa, *sb]) if sa.get(k) != sb.get(k)]
