"""A training run's history on disk, so the Fine-tune room shows past runs after a restart: the loss curve (and the
validation loss) as JSON lines in ``curve.jsonl``, read back with the run's settings, status, samples and grids.

Everything here is read from folders a user may have copied or damaged: a bad line costs that line, a bad run folder
that run, never the list."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from studio.core.io.untrusted import Unreadable, regular_file_problem
from studio.core.train.train_specs import (
    LossCurve,
    TrainSpec,
    checkpoint_step,
    checkpoints,
    latest_checkpoint,
    read_run_spec,
    run_state,
)

CURVE_FILE = "curve.jsonl"
MAX_CURVE_BYTES = 32 << 20


class CurveLog:
    """Appends a run's losses as it goes (written at each checkpoint and at the end, so a killed run keeps its curve up
    to its last checkpoint); a resumed run first drops what came after the step it resumes from."""

    def __init__(self, run_dir: Path, resume_from: int = 0):
        self.path = Path(run_dir) / CURVE_FILE
        self.pending: list[str] = []
        if self.path.is_file():
            lines = _lines(self.path)
            kept = [line for line in lines if _step(line) <= resume_from]
            if len(kept) < len(lines):  # what came after the checkpoint resumed from goes
                tmp = self.path.with_suffix(".tmp")
                tmp.write_text("".join(k + "\n" for k in kept), "utf-8")
                os.replace(tmp, self.path)

    def add(self, step: int, loss: float | None = None, validation: float | None = None) -> None:
        entry: dict[str, Any] = {"step": step}
        if loss is not None:
            entry["loss"] = round(loss, 6)
        if validation is not None:
            entry["validation"] = round(validation, 6)
        self.pending.append(json.dumps(entry))

    def flush(self) -> None:
        if self.pending:
            with self.path.open("a", encoding="utf-8") as f:
                f.write("".join(p + "\n" for p in self.pending))
                f.flush()
                os.fsync(f.fileno())
            self.pending = []


def _lines(path: Path) -> list[str]:
    if regular_file_problem(path) or path.stat().st_size > MAX_CURVE_BYTES:
        return []
    return [line for line in path.read_text("utf-8", "replace").splitlines() if line.strip()]


def _step(line: str) -> int:
    try:
        value = json.loads(line).get("step")
    except (ValueError, AttributeError):
        return 1 << 62
    return value if isinstance(value, int) else 1 << 62


def read_curve(run_dir: Path) -> LossCurve:
    """The run's curve (training and validation losses), skipping any line that is not one."""
    curve = LossCurve()
    path = Path(run_dir) / CURVE_FILE
    for line in _lines(path) if path.exists() else []:
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        step = entry.get("step") if isinstance(entry, dict) else None
        if not isinstance(step, int):
            continue
        for key, add in (("loss", curve.add), ("validation", curve.add_validation)):
            value = entry.get(key)
            if isinstance(value, int | float) and value == value:
                add(step, float(value))
    return curve


def curve_to_resume(run_dir: Path) -> LossCurve:
    """The curve a resumed run goes on from: up to its last checkpoint (the trainer drops what came after)."""
    kept = latest_checkpoint(run_dir)
    return read_curve(run_dir).until(checkpoint_step(kept) if kept else 0)


@dataclass
class PastRun:
    folder: Path
    spec: TrainSpec | None
    status: str  # running (it was, when Studio stopped: interrupted), done, failed, cancelled; "" unknown
    step: int
    steps: int
    curve: LossCurve = field(default_factory=LossCurve)
    samples: list[Path] = field(default_factory=list)
    grids: list[Path] = field(default_factory=list)
    message: str = ""
    seconds: float = 0.0
    estimate: float = 0.0
    when: float = 0.0  # the folder's last change

    @property
    def name(self) -> str:
        return self.folder.name

    @property
    def resumable(self) -> bool:
        return self.status != "done" and self.spec is not None and bool(checkpoints(self.folder))

    @property
    def result(self) -> Path | None:
        if self.status == "done" and self.spec is not None and Path(self.spec.out).is_file():
            return Path(self.spec.out)
        return None


def read_run(folder: Path) -> PastRun | None:
    """One past run (None: not a run folder)."""
    spec = read_run_spec(folder)
    state = run_state(folder)
    if isinstance(spec, Unreadable) and not state:
        return None
    steps = state.get("steps")
    step = state.get("step")
    return PastRun(
        folder=folder,
        spec=None if isinstance(spec, Unreadable) else spec,
        status=str(state.get("status", "")),
        step=step if isinstance(step, int) else 0,
        steps=steps if isinstance(steps, int) else (0 if isinstance(spec, Unreadable) else spec.steps),
        curve=read_curve(folder),
        samples=sorted((folder / "samples").glob("step-*.png")),
        grids=sorted(folder.glob("ab-checkpoint-*.png"), key=lambda p: _number(p.stem)),
        message=str(state.get("message", ""))[:500],
        seconds=_number_or_zero(state.get("seconds")),
        estimate=_number_or_zero(state.get("estimate_seconds")),
        when=folder.stat().st_mtime,
    )


def _number(stem: str) -> int:
    digits = stem.rsplit("-", 1)[-1]
    return int(digits) if digits.isdigit() else 0


def _number_or_zero(value: Any) -> float:
    return float(value) if isinstance(value, int | float) and value == value else 0.0


def past_runs(runs_dir: Path, limit: int = 200) -> list[PastRun]:
    """The runs in a folder, newest first."""
    if not Path(runs_dir).is_dir():
        return []
    found = []
    for folder in Path(runs_dir).iterdir():
        if folder.is_dir() and not folder.name.startswith("."):
            try:
                run = read_run(folder)
            except OSError:
                continue
            if run is not None:
                found.append(run)
    return sorted(found, key=lambda r: r.when, reverse=True)[:limit]
