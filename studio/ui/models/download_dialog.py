"""Fetch a model from the Hugging Face Hub: the curated starter list, or any repository; progress and cancel."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QDialog,
    QFormLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from studio.core.models.downloads import DownloadProgress, is_offline
from studio.core.models.model_catalog import CatalogEntry, for_kind
from studio.ui.common.theme import fit_size
from studio.viewmodels.downloads import Downloads

KINDS = [
    ("All kinds", ""),
    ("Image checkpoints", "checkpoint"),
    ("LoRAs", "lora"),
    ("VAEs", "vae"),
    ("Text models", "text"),
    ("Captioners", "captioner"),
    ("Segmenters", "segmenter"),
    ("Detectors", "detector"),
    ("Matting", "matting"),
    ("Sound (music, effects)", "sound"),
    ("Voices (text to speech)", "speech"),
]


class DownloadDialog(QDialog):
    def __init__(self, downloads: Downloads, memory_gb: float | None = None, parent: QWidget | None = None):
        super().__init__(parent)
        self.setWindowTitle("Download a model")
        self.setAttribute(
            Qt.WidgetAttribute.WA_DeleteOnClose
        )  # its connections to the shared Downloads go with it
        fit_size(self, 860, 560)
        self.downloads = downloads
        self.memory_gb = memory_gb
        lay = QVBoxLayout(self)
        self.offline = QLabel(
            "Studio is offline (HF_HUB_OFFLINE is set): the list below is what you could fetch "
            "when online; models already on disk keep working."
        )
        self.offline.setWordWrap(True)
        self.offline.setObjectName("error")
        self.offline.setVisible(is_offline())
        lay.addWidget(self.offline)
        top = QHBoxLayout()
        self.kind = QComboBox()
        for label, kind in KINDS:
            self.kind.addItem(label, kind)
        self.kind.currentIndexChanged.connect(self._fill)
        top.addWidget(QLabel("Recommended:"))
        top.addWidget(self.kind)
        self.fits_only = QCheckBox(f"Only what fits in {memory_gb:.0f} GB" if memory_gb else "Only what fits")
        self.fits_only.setEnabled(memory_gb is not None)
        self.fits_only.toggled.connect(self._fill)
        top.addWidget(self.fits_only)
        top.addStretch(1)
        lay.addLayout(top)
        self.table = QTableWidget(0, 5)
        self.table.setHorizontalHeaderLabels(["Model", "Kind", "Download", "Needs", "Licence"])
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().hide()
        self.table.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        for col in (1, 2, 3, 4):
            self.table.horizontalHeader().setSectionResizeMode(col, QHeaderView.ResizeMode.ResizeToContents)
        self.table.currentCellChanged.connect(lambda row, *_: self._picked(row))
        lay.addWidget(self.table, 1)
        self.note = QLabel()
        self.note.setWordWrap(True)
        self.note.setObjectName("hint")
        lay.addWidget(self.note)
        form = QFormLayout()
        self.repo = QLineEdit()
        self.repo.setPlaceholderText("owner/name, e.g. stabilityai/stable-diffusion-xl-base-1.0")
        self.file = QLineEdit()
        self.file.setPlaceholderText("one file of it (optional; empty fetches the repository)")
        self.token = QLineEdit()
        self.token.setEchoMode(QLineEdit.EchoMode.Password)
        self.token.setPlaceholderText(
            "for gated repositories (default: HF_TOKEN or your huggingface-cli login)"
        )
        form.addRow("Repository", self.repo)
        form.addRow("File", self.file)
        form.addRow("Access token", self.token)
        lay.addLayout(form)
        self.bar = QProgressBar()
        self.bar.setTextVisible(False)
        self.bar.hide()
        self.status = QLabel()
        self.status.setWordWrap(True)
        self.status.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        lay.addWidget(self.bar)
        lay.addWidget(self.status)
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        self.go = QPushButton("Download")
        self.go.setDefault(True)
        self.go.clicked.connect(self.start)
        self.stop = QPushButton("Cancel download")
        self.stop.setToolTip("What arrived is kept: downloading the same thing again continues from there.")
        self.stop.clicked.connect(downloads.cancel)
        self.stop.hide()
        close = QPushButton("Close")
        close.clicked.connect(self.close)
        for b in (self.go, self.stop, close):
            buttons.addWidget(b)
        lay.addLayout(buttons)
        self._patterns: list[str] = []
        downloads.started.connect(self._started)
        downloads.progress.connect(self._progress)
        downloads.finished.connect(self._finished)
        downloads.failed.connect(self._failed)
        downloads.cancelled.connect(self._cancelled)
        self._fill()

    def _fill(self) -> None:
        memory = self.memory_gb if self.fits_only.isChecked() else None
        self._items = [m for m in for_kind(self.kind.currentData(), self.memory_gb) if m.fits(memory)]
        self.table.setRowCount(len(self._items))
        for row, m in enumerate(self._items):
            fits = m.fits(self.memory_gb)
            cells = (
                m.name + ("  (gated)" if m.gated else ""),
                m.kind,
                f"{m.size_gb:.1f} GB",
                f"{m.memory_gb:.0f} GB" + ("" if fits else "  — more than you have"),
                m.licence,
            )
            for col, text in enumerate(cells):
                item = QTableWidgetItem(text)
                item.setToolTip(m.note)
                if not fits:
                    item.setForeground(Qt.GlobalColor.gray)
                self.table.setItem(row, col, item)

    def _picked(self, row: int) -> None:
        if not 0 <= row < len(self._items):
            return
        m: CatalogEntry = self._items[row]
        self.repo.setText(m.repo)
        self.file.setText(m.file or "")
        self._patterns = list(m.files)
        self.note.setText(f"<b>{m.name}</b> — {m.note}")

    def start(self) -> None:
        repo = self.repo.text().strip()
        if not repo:
            self.status.setText("Pick a model above or write a repository id (owner/name).")
            return
        chosen = next((m for m in self._items if m.repo == repo), None)
        patterns = self._patterns if chosen is not None and not self.file.text().strip() else []
        if self.downloads.start(
            repo, self.file.text().strip() or None, patterns, self.token.text().strip() or None
        ):
            self.go.setEnabled(False)
            self.status.setText(f"Asking the Hub about {repo}…")

    def _started(self, what: str) -> None:
        self.bar.show()
        self.bar.setRange(0, 0)
        self.stop.show()
        self.status.setText(f"Downloading {what}…")

    def _progress(self, p: DownloadProgress) -> None:
        self.bar.setRange(0, 1000)
        self.bar.setValue(int(1000 * p.done / p.total) if p.total else 0)
        resumed = f" (continued from {p.resumed / 1e6:.0f} MB)" if p.resumed else ""
        self.status.setText(
            f"{p.file} — file {min(p.files_done + 1, p.files_total)} of {p.files_total}: {p.text()}{resumed}"
        )

    def _done(self, text: str) -> None:
        self.go.setEnabled(True)
        self.stop.hide()
        self.status.setText(text)

    def _finished(self, path: str) -> None:
        self.bar.setValue(self.bar.maximum())
        self._done(f"Done: {path}. It is in the Models list now.")

    def _failed(self, message: str) -> None:
        self.bar.hide()
        self._done(message)

    def _cancelled(self) -> None:
        self._done("Cancelled. What arrived is kept: press Download again to continue from there.")
