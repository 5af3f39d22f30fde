"""The queue as the window sees it: every job's state, progress with ETA, the live preview and results."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any, Protocol

from PySide6.QtCore import QAbstractListModel, QModelIndex, QObject, QPersistentModelIndex, Qt, Signal
from PySide6.QtGui import QImage

from studio.core.io.words import count, duration
from studio.core.jobs import JobKind
from studio.core.jobs.events import (
    Cancelled,
    Failed,
    Finished,
    ItemSaved,
    Loading,
    Note,
    Preview,
    Progress,
    Started,
)
from studio.core.jobs.rooms import Room, room_of
from studio.viewmodels.bridge import EventBridge, UiEvent


class Runner(Protocol):
    def submit(self, spec: Any) -> str: ...
    def cancel(self, job_id: str) -> bool: ...
    def move(self, job_id: str, index: int) -> bool: ...
    def pending_ids(self) -> list[str]: ...


class JobState(StrEnum):
    QUEUED = "Queued"
    LOADING = "Loading model"
    RUNNING = "Running"
    DONE = "Done"
    FAILED = "Failed"
    CANCELLED = "Cancelled"

    @property
    def finished(self) -> bool:
        return self in (JobState.DONE, JobState.FAILED, JobState.CANCELLED)


@dataclass
class JobRow:
    id: str
    spec: Any
    state: JobState = JobState.QUEUED
    fraction: float = 0.0
    detail: str = ""
    error: Any = None
    started: float = 0.0
    step_started: float = 0.0
    batch: int = -1
    room: Room = Room.IMAGE

    def seconds_left(self, now: float) -> float | None:
        """How long the running job still needs, from its pace so far (None: not known yet)."""
        if self.state is not JobState.RUNNING or self.fraction <= 0.02 or not self.started:
            return None
        return (now - self.started) * (1.0 - self.fraction) / self.fraction


StateRole = Qt.ItemDataRole.UserRole + 1
FractionRole = Qt.ItemDataRole.UserRole + 2
IdRole = Qt.ItemDataRole.UserRole + 3


def describe(spec: Any) -> str:
    """Two lines for the queue: what the job is, and its main settings."""
    kind = getattr(spec, "kind", None)
    if kind is JobKind.CAPTION:
        what = f"Describe {Path(spec.image).name}" if getattr(spec, "image", "") else "Caption the dataset"
        return f"{what}\nwith {Path(spec.model).name}"
    if kind is JobKind.PLOT:
        axes = " × ".join(f"{a.name} ({len(a.values)})" for a in spec.axes)
        prompt = " ".join(spec.cells[0].prompt.split())[:40]
        return f"X/Y/Z plot: {axes}\n{len(spec.cells)} images · {prompt}"
    if kind is JobKind.UPSCALE:
        refined = f", refined at creativity {spec.creativity:g}" if hasattr(spec, "creativity") else ""
        return f"Upscale {Path(spec.image).name} ×{spec.scale:g}\nwith {spec.upscaler_name}{refined}"
    if kind is JobKind.TEXT_TRAIN:
        return f"Learn my voice · {spec.steps} steps\n{count(len(spec.docs), 'document')} · {Path(spec.base).name}"
    if kind is JobKind.TRAIN:
        return (
            f"Fine-tune “{spec.trigger}” · {spec.steps} steps\nLoRA rank {spec.rank} · {spec.resolution} px"
        )
    if kind in (JobKind.ATTENTION, JobKind.STEPS):  # a picture made again to be explained
        inner = spec.spec
        what = "Where the words act: " + ", ".join(spec.words) if kind is JobKind.ATTENTION else "Its steps"
        return f"{what[:60]}\n{inner.width}×{inner.height} · {inner.steps} steps · not added to the gallery"
    prompt = " ".join(str(getattr(spec, "prompt", "")).split()) or "(empty prompt)"
    if kind is JobKind.TEXT:
        tail = prompt[-57:]
        return f"{'…' if len(prompt) > 57 else ''}{tail}\ntext · up to {spec.max_new_tokens} tokens · {spec.model_name}"
    if len(prompt) > 60:
        prompt = prompt[:57] + "…"
    n = getattr(spec, "image_count", 1)
    mode = getattr(spec, "mode", "")
    size = f"{getattr(spec, 'width', '?')}×{getattr(spec, 'height', '?')}"
    extra = f" · {n} images" if n > 1 else ""
    return f"{prompt}\n{mode} · {size} · {getattr(spec, 'steps', '?')} steps{extra}"


def done_detail(spec: Any, e: Finished) -> str:
    """What a finished job made, in words, for its row and the status line."""
    if hasattr(spec, "run_dir"):
        return f"LoRA written in {duration(e.seconds)}"
    if hasattr(spec, "overwrite"):  # captioning
        return f"{count(len(e.items), 'caption')} in {duration(e.seconds)}"
    if getattr(spec, "kind", None) is JobKind.TEXT and e.items:
        result = e.items[0]
        return f"{result.tokens} tokens in {duration(e.seconds)} ({result.tokens_per_s:.1f}/s)"
    if getattr(spec, "kind", None) in (JobKind.CONTEXT, JobKind.TEXT_ATTENTION, JobKind.TEXT_TRAIN, JobKind.STEPS,
                                       JobKind.ATTENTION):  # fmt: skip
        return f"done in {duration(e.seconds)}"
    if getattr(spec, "kind", None) in (JobKind.SOUND, JobKind.SPEAK):
        return (
            f"{count(len(e.items), 'sound')} in {duration(e.seconds)}"
            if e.items
            else f"read in {duration(e.seconds)}"
        )
    return f"{count(len(e.items), 'image')} in {duration(e.seconds)}"


def ordinal(n: int) -> str:
    return f"{n}{'th' if 10 <= n % 100 <= 20 else {1: 'st', 2: 'nd', 3: 'rd'}.get(n % 10, 'th')}"


class JobQueue(QAbstractListModel):
    """Every room's jobs in one list (the queue view shows them all). A job belongs to the room that asked for it:
    the signals below speak for the Image room's jobs only (each other room follows its own jobs through the
    bridge), ``statusChanged`` names the room, and ``cancel_running(room)`` stops that room's job alone."""

    previewChanged = Signal(QImage)
    resultReady = Signal(QImage, str)  # the image and its saved path
    progressChanged = Signal(float, str)  # fraction 0..1 of the running job, and a sentence
    statusChanged = Signal(str, str)  # the room, a sentence about its job
    jobFailed = Signal(str, str, str)  # message, details, field
    busyChanged = Signal(bool)  # the Image room has (or no longer has) jobs queued or running
    noted = Signal(str)  # something the running job wants the user to know (not an error): a note
    rowsChangedState = Signal()  # any job changed state (each room's "place in the queue" follows)

    def __init__(
        self,
        runner: Runner,
        bridge: EventBridge,
        persist: Callable[[list[Any]], None] | None = None,
        parent: QObject | None = None,
    ):
        super().__init__(parent)
        self._runner = runner
        self._rows: list[JobRow] = []
        self._persist = persist
        self.on_hold: list[Any] = []  # restored from the last session, waiting for the user's word
        bridge.arrived.connect(self._on_event)

    def unfinished_specs(self) -> list[Any]:
        """Specs of the jobs not yet done (running first, in queue order), then those on hold."""
        return [r.spec for r in self._rows if not r.state.finished] + list(self.on_hold)

    def hold(self, specs: list[Any]) -> None:
        """Keep jobs from the last session aside (persisted at once, not run) until ``release_held`` or
        ``drop_held``."""
        self.on_hold = list(specs)
        self._save()

    def release_held(self) -> None:
        specs, self.on_hold = self.on_hold, []
        for spec in specs:
            self.enqueue(spec)
        self._save()

    def drop_held(self) -> None:
        self.on_hold = []
        self._save()

    def stop_persisting(self) -> None:
        self._persist = None

    def forget_unfinished(self) -> None:
        """Quit with "Stop": nothing waiting is offered again at the next start."""
        self.on_hold = []
        if self._persist is not None:
            self._persist([])
            self._persist = None

    def pending_ids(self) -> list[str]:
        """The queued jobs, in the order they will run."""
        return self._runner.pending_ids()

    def live(self) -> bool:
        """Jobs really under way in the runner (a closed runtime has none, whatever the rows last heard)."""
        running = getattr(self._runner, "running_id", None)
        return bool(self._runner.pending_ids()) or running is not None

    def _save(self) -> None:
        if self._persist is not None:  # image jobs only: a text job belongs to its moment in the editor
            self._persist([s for s in self.unfinished_specs() if s.kind is JobKind.IMAGE])

    # -- model -----------------------------------------------------------------------------------------------
    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: B008, N802
        return 0 if parent.isValid() else len(self._rows)

    def data(
        self, index: QModelIndex | QPersistentModelIndex, role: int = Qt.ItemDataRole.DisplayRole
    ) -> Any:
        if not index.isValid():
            return None
        row = self._rows[index.row()]
        if role == Qt.ItemDataRole.DisplayRole:
            status = row.state.value + (f" — {row.detail}" if row.detail else "")
            return f"{describe(row.spec)}\n{status}"
        if role == Qt.ItemDataRole.ToolTipRole:  # the whole of what the row cuts short
            prompt = str(getattr(row.spec, "prompt", ""))
            status = row.state.value + (f" — {row.detail}" if row.detail else "")
            return f"{prompt}\n\n{describe(row.spec).splitlines()[-1]}\n{status}" if prompt else status
        if role == StateRole:
            return row.state
        if role == FractionRole:
            return row.fraction
        if role == IdRole:
            return row.id
        return None

    def rows(self) -> list[JobRow]:
        return list(self._rows)

    def row_of(self, job_id: str) -> JobRow | None:
        return next((r for r in self._rows if r.id == job_id), None)

    @property
    def busy(self) -> bool:
        """The Image room has jobs queued or running."""
        return self.busy_in(Room.IMAGE)

    def busy_in(self, room: Room | None = None) -> bool:
        """Jobs queued or running in ``room`` (None: in any room)."""
        return any(not r.state.finished and (room is None or r.room is room) for r in self._rows)

    def running_in(self, room: Room) -> list[JobRow]:
        return [r for r in self._rows if r.room is room and r.state in (JobState.RUNNING, JobState.LOADING)]

    # -- commands --------------------------------------------------------------------------------------------
    def enqueue(self, spec: Any, room: Room | None = None) -> str:
        """Queue a job on the runner for ``room`` (by default the room of its kind) and show it (named so as not
        to hide QAbstractItemModel.submit)."""
        room = room or room_of(spec)
        was_busy = self.busy_in(room)
        job_id = self._runner.submit(spec)
        if self.row_of(job_id) is None:
            at = self._row_for_place(job_id)
            self.beginInsertRows(QModelIndex(), at, at)
            self._rows.insert(at, JobRow(job_id, spec, room=room))
            self.endInsertRows()
        if not was_busy and room is Room.IMAGE:
            self.busyChanged.emit(True)
        self._save()
        self.rowsChangedState.emit()
        return job_id

    def _row_for_place(self, job_id: str) -> int:
        """The row a new job takes: before the queued jobs the runner will run after it (a text job goes ahead of
        queued image batches), so the list reads in the order jobs will run."""
        pending = self._runner.pending_ids()
        later = set(pending[pending.index(job_id) + 1 :]) if job_id in pending else set()
        return next((i for i, r in enumerate(self._rows) if r.id in later), len(self._rows))

    def cancel(self, job_id: str) -> None:
        self._runner.cancel(job_id)

    def cancel_running(self, room: Room = Room.IMAGE) -> bool:
        """Stop ``room``'s running job — never another room's."""
        running = self.running_in(room)
        for r in running:
            self._runner.cancel(r.id)
        return bool(running)

    def move(self, job_id: str, delta: int) -> bool:
        pending = self._runner.pending_ids()
        if job_id not in pending:
            return False
        target = max(0, min(len(pending) - 1, pending.index(job_id) + delta))
        neighbour = pending[target]
        if neighbour == job_id or not self._runner.move(job_id, target):
            return False
        src = next(i for i, r in enumerate(self._rows) if r.id == job_id)
        dst = next(i for i, r in enumerate(self._rows) if r.id == neighbour)
        self.beginMoveRows(QModelIndex(), src, src, QModelIndex(), dst + (1 if dst > src else 0))
        self._rows.insert(dst, self._rows.pop(src))
        self.endMoveRows()
        self._save()
        return True

    def clear_finished(self) -> None:
        keep = [r for r in self._rows if not r.state.finished]
        if len(keep) != len(self._rows):
            self.beginResetModel()
            self._rows = keep
            self.endResetModel()

    # -- events ------------------------------------------------------------------------------------------------
    def _changed(self, row: JobRow) -> None:
        i = self._rows.index(row)
        self.dataChanged.emit(self.index(i), self.index(i))

    def _on_event(self, ui: UiEvent) -> None:
        e = ui.event
        row = self.row_of(e.job_id)
        if row is None:
            return
        if row.room is not Room.IMAGE:  # other rooms follow their jobs themselves: only the row is kept here
            self._follow_quietly(row, ui)
            return
        now = time.monotonic()
        if isinstance(e, Note):
            self.noted.emit(e.text)
        elif isinstance(e, Started):
            row.state, row.started = JobState.RUNNING, now
            self.statusChanged.emit(Room.IMAGE.value, "Starting…")
            self.progressChanged.emit(0.0, "Starting…")
        elif isinstance(e, Loading):
            row.state = JobState.LOADING
            row.detail = e.what
            self.statusChanged.emit(Room.IMAGE.value, e.what)
            self.progressChanged.emit(e.fraction, e.what)
        elif isinstance(e, Progress):
            self._on_progress(row, e, now)
        elif isinstance(e, Preview) and ui.image is not None:
            self.previewChanged.emit(ui.image)
        elif isinstance(e, ItemSaved) and ui.image is not None:
            self.resultReady.emit(ui.image, str(e.item.path))
        elif isinstance(e, Finished):
            row.state, row.fraction = JobState.DONE, 1.0
            row.detail = done_detail(row.spec, e)
            self.statusChanged.emit(Room.IMAGE.value, f"Done: {row.detail}.")
            self.progressChanged.emit(1.0, "Done")
        elif isinstance(e, Failed):
            row.state, row.error = JobState.FAILED, e.error
            row.detail = e.error.user_message if e.error else "failed"
            self.statusChanged.emit(Room.IMAGE.value, row.detail)
            self.progressChanged.emit(0.0, "Failed")
            err = e.error
            self.jobFailed.emit(row.detail, err.details if err else "", (err.field or "") if err else "")
        elif isinstance(e, Cancelled):
            was_running = row.state in (JobState.RUNNING, JobState.LOADING)
            row.state, row.detail = JobState.CANCELLED, ""
            if was_running:  # a queued job taken out says nothing over the one that runs
                self.statusChanged.emit(Room.IMAGE.value, "Cancelled.")
                self.progressChanged.emit(0.0, "Cancelled")
        else:
            return
        self._changed(row)
        if isinstance(e, Started | Loading | Finished | Failed | Cancelled):
            self.rowsChangedState.emit()
        if row.state.finished:
            self._save()
            if not self.busy:
                self.busyChanged.emit(False)

    def _follow_quietly(self, row: JobRow, ui: UiEvent) -> None:
        """Another room's job: its row's state, progress and detail, without the Image room's signals."""
        e, now = ui.event, time.monotonic()
        if isinstance(e, Started):
            row.state, row.started = JobState.RUNNING, now
        elif isinstance(e, Loading):
            row.state, row.detail = JobState.LOADING, e.what
        elif isinstance(e, Progress):
            if row.state is not JobState.RUNNING:
                row.state = JobState.RUNNING
            row.fraction = e.step / float(max(1, e.total))
            left = row.seconds_left(now)
            row.detail = f"Step {e.step}/{e.total}" + (f" · about {duration(left)} left" if left else "")
        elif isinstance(e, Finished):
            row.state, row.fraction, row.detail = JobState.DONE, 1.0, done_detail(row.spec, e)
        elif isinstance(e, Failed):
            row.state, row.error = JobState.FAILED, e.error
            row.detail = e.error.user_message if e.error else "failed"
        elif isinstance(e, Cancelled):
            row.state, row.detail = JobState.CANCELLED, ""
        else:
            return
        self._changed(row)
        if isinstance(e, Started | Loading | Finished | Failed | Cancelled):
            self.rowsChangedState.emit()
            if row.state is JobState.DONE:
                self.statusChanged.emit(row.room.value, f"Done: {row.detail}.")
            elif row.state.finished:
                self.statusChanged.emit(row.room.value, row.detail or row.state.value)

    def _on_progress(self, row: JobRow, e: Progress, now: float) -> None:
        spec = row.spec
        per_batch = max(1, getattr(spec, "batch_size", 1))
        batches = max(1, getattr(spec, "batch_count", 1))
        batch = e.item // per_batch
        if row.state is not JobState.RUNNING or batch != row.batch:
            if row.state is not JobState.RUNNING or row.batch == -1:  # the first step: no longer "Starting…"
                self.statusChanged.emit(Room.IMAGE.value, f"Generating: {describe(spec).splitlines()[0]}")
            row.state, row.batch, row.step_started = JobState.RUNNING, batch, now
            row.detail = ""
        done = batch * e.total + e.step
        row.fraction = done / float(batches * e.total)
        text = f"Step {e.step}/{e.total}"
        if batches > 1 or per_batch > 1:
            last = min(e.item + per_batch, e.items)
            text = f"Image {e.item + 1}{'–' + str(last) if last > e.item + 1 else ''} of {e.items} · " + text
        if e.step > 1:
            per_step = (now - row.step_started) / (e.step - 1)
            remaining = batches * e.total - done
            text += f" · about {duration(per_step * remaining)} left"
        row.detail = text
        self.progressChanged.emit(row.fraction, text)
