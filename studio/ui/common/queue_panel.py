"""The queue: every job with its state and progress; reorder, cancel, clear."""

from __future__ import annotations

from PySide6.QtCore import QModelIndex, QPoint, QRect, QSize, Qt, Signal
from PySide6.QtGui import QColor, QPainter, QPalette
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QListView,
    QMenu,
    QStyle,
    QStyledItemDelegate,
    QStyleOptionViewItem,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from studio.core.jobs import JobKind
from studio.ui.common.model_data import cell
from studio.ui.common.theme import ACCENT, icon
from studio.viewmodels.job_queue import FractionRole, IdRole, JobQueue, JobState, StateRole

_STATE_COLORS = {
    JobState.DONE: "#30a46c",
    JobState.FAILED: "#e5484d",
    JobState.CANCELLED: "#8a8d93",
    JobState.RUNNING: ACCENT,
    JobState.LOADING: ACCENT,
    JobState.QUEUED: "#d98a2b",
}


class JobDelegate(QStyledItemDelegate):
    def sizeHint(self, option: QStyleOptionViewItem, index: QModelIndex) -> QSize:  # noqa: N802
        return QSize(120, 3 * option.fontMetrics.height() + 18)

    def paint(self, p: QPainter, option: QStyleOptionViewItem, index: QModelIndex) -> None:
        p.save()
        r = option.rect.adjusted(4, 2, -4, -2)
        pal = option.palette
        selected = bool(option.state & QStyle.StateFlag.State_Selected)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        p.setPen(Qt.PenStyle.NoPen)
        p.setBrush(
            pal.color(QPalette.ColorRole.Highlight).lighter(130)
            if selected
            else pal.color(QPalette.ColorRole.AlternateBase)
        )
        p.drawRoundedRect(r, 6, 6)
        state: JobState = cell(index, StateRole)
        p.setBrush(QColor(_STATE_COLORS.get(state, "#888")))
        p.drawRoundedRect(QRect(r.x(), r.y(), 4, r.height()), 2, 2)
        lines = (cell(index) or "").split("\n")
        fm = option.fontMetrics
        x, y, w = r.x() + 12, r.y() + 5, r.width() - 18
        for i, line in enumerate(lines[:3]):
            color = (
                pal.color(QPalette.ColorRole.Text)
                if i == 0
                else pal.color(QPalette.ColorRole.PlaceholderText)
            )
            if i == 2:
                color = QColor(_STATE_COLORS.get(state, "#888"))
            p.setPen(color)
            p.drawText(
                QRect(x, y + i * fm.height(), w, fm.height()),
                Qt.AlignmentFlag.AlignLeft,
                fm.elidedText(line, Qt.TextElideMode.ElideRight, w),
            )
        fraction = float(cell(index, FractionRole) or 0.0)
        if state in (JobState.RUNNING, JobState.LOADING):
            bar = QRect(x, r.bottom() - 5, w, 3)
            p.setPen(Qt.PenStyle.NoPen)
            p.setBrush(pal.color(QPalette.ColorRole.Mid))
            p.drawRoundedRect(bar, 1, 1)
            p.setBrush(QColor(ACCENT))
            p.drawRoundedRect(QRect(bar.x(), bar.y(), int(bar.width() * fraction), 3), 1, 1)
        p.restore()


class QueuePanel(QWidget):
    useSettings = Signal(object)  # a job's recipe, to fill the Image panel with

    def __init__(self, queue: JobQueue, parent: QWidget | None = None):
        super().__init__(parent)
        self.queue = queue
        self.view = QListView()
        self.view.setModel(queue)
        self.view.setItemDelegate(JobDelegate(self.view))
        self.view.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.view.setVerticalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        self.view.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.view.setUniformItemSizes(True)
        self.view.setToolTip(
            "Jobs run top to bottom. Select a queued job to move or cancel it; right-click for more."
        )
        self.view.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.view.customContextMenuRequested.connect(self._menu)
        self.up, self.down = QToolButton(), QToolButton()
        self.cancel, self.clear = QToolButton(), QToolButton()
        for b, name, tip in (
            (self.up, "up", "Run this queued job earlier"),
            (self.down, "down", "Run this queued job later"),
            (self.cancel, "stop", "Cancel the selected job"),
            (self.clear, "trash", "Remove finished jobs from the list"),
        ):
            b.setIcon(icon(name))
            b.setToolTip(tip)
            b.setAutoRaise(True)
        self.up.clicked.connect(lambda: self._move(-1))
        self.down.clicked.connect(lambda: self._move(1))
        self.cancel.clicked.connect(self._cancel)
        self.clear.clicked.connect(queue.clear_finished)
        bar = QHBoxLayout()
        for b in (self.up, self.down, self.cancel):
            bar.addWidget(b)
        bar.addStretch(1)
        bar.addWidget(self.clear)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(6, 4, 6, 6)
        lay.addWidget(self.view, 1)
        lay.addLayout(bar)
        self.view.selectionModel().selectionChanged.connect(self._update_buttons)
        queue.dataChanged.connect(self._update_buttons)
        queue.rowsMoved.connect(self._update_buttons)
        self._update_buttons()

    def selected_id(self) -> str | None:
        idx = self.view.currentIndex()
        return cell(idx, IdRole) if idx.isValid() and self.view.selectionModel().isSelected(idx) else None

    def _move(self, delta: int) -> None:
        job = self.selected_id()
        if job and self.queue.move(job, delta):
            row = next(i for i, r in enumerate(self.queue.rows()) if r.id == job)
            self.view.setCurrentIndex(self.queue.index(row))

    def _menu(self, pos: QPoint) -> None:
        """Cancel, move, run again, use the settings — for the job under the pointer."""
        index = self.view.indexAt(pos)
        row = self.queue.row_of(cell(index, IdRole)) if index.isValid() else None
        if row is None:
            return
        self.view.setCurrentIndex(index)
        menu = QMenu(self)
        active = not row.state.finished
        menu.addAction("Cancel", lambda: self.queue.cancel(row.id)).setEnabled(active)
        queued = row.state is JobState.QUEUED
        menu.addAction("Run earlier", lambda: self._move(-1)).setEnabled(queued)
        menu.addAction("Run later", lambda: self._move(1)).setEnabled(queued)
        menu.addSeparator()
        menu.addAction("Run again (the same recipe)", lambda: self.queue.enqueue(row.spec))
        images = getattr(row.spec, "kind", None) is JobKind.IMAGE
        menu.addAction("Use these settings", lambda: self.useSettings.emit(row.spec)).setEnabled(images)
        self.context_menu = menu
        menu.popup(self.view.viewport().mapToGlobal(pos))

    def _cancel(self) -> None:
        job = self.selected_id()
        if job:
            self.queue.cancel(job)

    def _update_buttons(self, *_: object) -> None:
        job = self.selected_id()
        row = self.queue.row_of(job) if job else None
        queued = row is not None and row.state is JobState.QUEUED
        self.up.setEnabled(queued)
        self.down.setEnabled(queued)
        self.cancel.setEnabled(row is not None and not row.state.finished)
