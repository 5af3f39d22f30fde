"""The Fine-tune room's *Past runs*: every run kept in the runs folder — its curve, samples, A/B grid, settings and
result — one at a time or two side by side, and an interrupted run resumed where it stopped."""

from __future__ import annotations

import html
from collections.abc import Callable

from PySide6.QtCore import QUrl
from PySide6.QtGui import QColor, QDesktopServices, QPixmap
from PySide6.QtWidgets import (
    QAbstractItemView,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)

from studio.core.train.run_history import PastRun
from studio.ui.train.loss_curves import CurvesView, Series
from studio.viewmodels.train_runs import PICTURE_HEIGHT, TrainRuns, compare, describe, settings_of

SECOND = QColor(230, 120, 30)  # the second run compared, beside the palette's highlight


class RunHistoryView(QWidget):
    def __init__(self, runs: TrainRuns, use: Callable[[str, str], None] = lambda _p, _w: None,
                 parent: QWidget | None = None):  # fmt: skip
        super().__init__(parent)
        self.model, self.use = runs, use
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        hint = QLabel("Select a run to see it; select two (Ctrl+click) to compare them.")
        hint.setWordWrap(True)
        lay.addWidget(hint)
        self.list = QListWidget()
        self.list.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.list.itemSelectionChanged.connect(self._selected)
        lay.addWidget(self.list, 1)
        self.list.setMinimumHeight(60)
        self.curves = CurvesView(self._series, "Choose a run above to see its loss curve.")
        self.curves.setMinimumHeight(110)
        lay.addWidget(self.curves, 2)
        strip = QWidget()
        self.pictures = QHBoxLayout(strip)
        self.pictures.setContentsMargins(0, 0, 0, 0)
        scroll = QScrollArea()  # the pictures scroll sideways: they never widen the room
        scroll.setWidget(strip)
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QScrollArea.Shape.NoFrame)
        scroll.setFixedHeight(PICTURE_HEIGHT + 24)
        lay.addWidget(scroll)
        self.details = QLabel()
        self.details.setWordWrap(True)
        lay.addWidget(self.details)
        buttons = QGridLayout()  # two by two: the tab stays narrow enough for an 800-px window
        self.resume_btn = QPushButton("Resume")
        self.resume_btn.setToolTip("Continue this run from its last checkpoint, as if it had never stopped")
        self.resume_btn.clicked.connect(self._resume)
        self.use_btn = QPushButton("Use it in the Image panel")
        self.use_btn.setToolTip(
            "Use it in the Image panel: the run's LoRA at 0.8, its trigger words as the prompt"
        )
        self.use_btn.clicked.connect(self._use)
        self.folder_btn = QPushButton("Open its folder")
        self.folder_btn.clicked.connect(self._open_folder)
        refresh = QPushButton("Refresh")
        refresh.clicked.connect(runs.refresh)
        for k, b in enumerate((self.resume_btn, self.use_btn, self.folder_btn, refresh)):
            buttons.addWidget(b, k // 2, k % 2)
        buttons.setColumnStretch(2, 1)
        lay.addLayout(buttons)
        self.status = QLabel()
        self.status.setWordWrap(True)
        lay.addWidget(self.status)
        self._shown: dict[str, list] = {}
        runs.listed.connect(self._listed)
        runs.picturesReady.connect(self._pictures)
        self._selected()

    def chosen(self) -> list[PastRun]:
        rows = sorted(self.list.row(i) for i in self.list.selectedItems())
        return [self.model.runs[r] for r in rows if r < len(self.model.runs)][:2]

    def _series(self) -> list[Series]:
        chosen = self.chosen()
        return [Series(r.name if len(chosen) > 1 else "", r.curve, None if i == 0 else SECOND)
                for i, r in enumerate(chosen)]  # fmt: skip

    def _listed(self) -> None:
        keep = {r.name for r in self.chosen()}
        self.list.blockSignals(True)
        self.list.clear()
        for run in self.model.runs:
            name, _, rest = describe(run).partition(" · ")
            item = QListWidgetItem(f"{name}\n{rest}")
            item.setToolTip(str(run.folder) + (f"\n{run.message}" if run.message else ""))
            self.list.addItem(item)
            item.setSelected(run.name in keep)
        self.list.blockSignals(False)
        if not self.model.runs:
            self.status.setText(
                "No runs yet: the runs you train are kept here, with their curves and samples."
            )
        self._selected()

    def _selected(self) -> None:
        chosen = self.chosen()
        self.curves.update()
        self.resume_btn.setEnabled(len(chosen) == 1 and chosen[0].resumable)
        self.folder_btn.setEnabled(len(chosen) == 1)
        self.use_btn.setEnabled(len(chosen) == 1 and chosen[0].result is not None)
        self._shown = {}
        self._clear_pictures()
        for run in chosen:
            self.model.load_pictures(run)
        self.details.setText(self._details(chosen))

    @staticmethod
    def _details(chosen: list[PastRun]) -> str:
        if len(chosen) == 2:
            rows = compare(*chosen)
            if not rows:
                return "The two runs were trained with the same settings."
            cells = "".join(f"<tr><td>{html.escape(k)}</td><td>{html.escape(a)}</td><td>{html.escape(b)}</td></tr>"
                            for k, a, b in rows)  # fmt: skip
            names = "".join(f"<th>{html.escape(r.name)}</th>" for r in chosen)
            return f"<table cellspacing=6><tr><th>Differs in</th>{names}</tr>{cells}</table>"
        if len(chosen) == 1:
            run = chosen[0]
            pairs = ", ".join(f"{html.escape(k)} {html.escape(v)}" for k, v in settings_of(run).items())
            result = f"<br>Result: {html.escape(str(run.result))}" if run.result else ""
            why = f"<br>{html.escape(run.message)}" if run.message else ""
            return f"{pairs}{result}{why}"
        return ""

    def _clear_pictures(self) -> None:
        while self.pictures.count():
            item = self.pictures.takeAt(0)
            if item.widget() is not None:
                item.widget().deleteLater()

    def _pictures(self, folder: str, pictures: list) -> None:
        chosen = self.chosen()
        if folder not in {str(r.folder) for r in chosen}:
            return  # the selection moved on meanwhile
        self._shown[folder] = pictures
        self._clear_pictures()
        for run in chosen:
            for caption, image in self._shown.get(str(run.folder), []):
                label = QLabel()
                label.setPixmap(QPixmap.fromImage(image))
                label.setToolTip(f"{run.name}: {caption}")
                self.pictures.addWidget(label)
        self.pictures.addStretch(1)

    def _resume(self) -> None:
        chosen = self.chosen()
        if len(chosen) == 1:
            problem = self.model.resume(chosen[0])
            self.status.setText(problem or f"Resuming {chosen[0].name} from its last checkpoint…")

    def _use(self) -> None:
        chosen = self.chosen()
        if len(chosen) == 1 and chosen[0].result is not None and chosen[0].spec is not None:
            spec = chosen[0].spec
            self.use(str(chosen[0].result), " ".join(w for w in (spec.trigger, spec.class_word) if w))

    def _open_folder(self) -> None:
        chosen = self.chosen()
        if len(chosen) == 1:
            QDesktopServices.openUrl(QUrl.fromLocalFile(str(chosen[0].folder)))
