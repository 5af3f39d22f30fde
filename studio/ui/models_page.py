"""The Models room: every model Studio sees (models folder, extra folders, the Hugging Face cache), what each is,
and one click to use it."""

from __future__ import annotations

import json

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QSplitter,
    QTableView,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)

from studio.ui.theme import icon
from studio.viewmodels.model_library_model import ModelLibraryModel, human_size

KINDS = [("All kinds", ""), ("Image checkpoints", "checkpoint"), ("LoRAs", "lora"), ("Embeddings", "embedding"),
         ("VAEs", "vae"), ("Text models", "text"), ("Refused", "refused"), ("Unknown", "unknown")]


class ModelsPage(QWidget):
    useImageModel = Signal(str)
    useLora = Signal(str)
    useTextModel = Signal(str)

    def __init__(self, model: ModelLibraryModel, parent: QWidget | None = None):
        super().__init__(parent)
        self.model = model
        model.setParent(self)  # the table model lives and dies with its page
        lay = QVBoxLayout(self)
        lay.setContentsMargins(8, 8, 8, 8)
        top = QHBoxLayout()
        self.kind_box = QComboBox()
        for label, kind in KINDS:
            self.kind_box.addItem(label, kind)
        self.kind_box.currentIndexChanged.connect(self._kind_changed)
        top.addWidget(self.kind_box)
        rescan = QPushButton(icon("recycle"), "Rescan")
        rescan.clicked.connect(model.rescan)
        add = QPushButton(icon("folder"), "Add a models folder…")
        add.setToolTip("Another tool's models folder (AUTOMATIC1111, ComfyUI, …): used in place, never copied")
        add.clicked.connect(lambda: self.add_folder())
        top.addWidget(rescan)
        top.addWidget(add)
        top.addStretch(1)
        self.count = QLabel()
        top.addWidget(self.count)
        lay.addLayout(top)

        split = QSplitter(Qt.Orientation.Horizontal)
        self.table = QTableView()
        self.table.setModel(model)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        for col in (1, 2, 3, 4):
            self.table.horizontalHeader().setSectionResizeMode(col, QHeaderView.ResizeMode.ResizeToContents)
        self.table.verticalHeader().hide()
        self.table.doubleClicked.connect(lambda _: self.use_selected())
        split.addWidget(self.table)
        side = QWidget()
        sv = QVBoxLayout(side)
        sv.setContentsMargins(0, 0, 0, 0)
        self.details = QTextBrowser()
        sv.addWidget(self.details, 1)
        self.hash_btn = QPushButton("Compute the hash")
        self.hash_btn.setToolTip("SHA-256 of the whole file, and AUTOMATIC1111's short AutoV2 hash (read once, then "
                                 "remembered)")
        self.hash_btn.clicked.connect(self.compute_hash)
        sv.addWidget(self.hash_btn)
        self.use_btn = QPushButton("Use")
        self.use_btn.clicked.connect(self.use_selected)
        sv.addWidget(self.use_btn)
        split.addWidget(side)
        split.setSizes([800, 420])
        lay.addWidget(split, 1)
        self.folders_label = QLabel()
        self.folders_label.setWordWrap(True)
        self.folders_label.setObjectName("hint")
        lay.addWidget(self.folders_label)
        self.table.selectionModel().currentRowChanged.connect(lambda cur, _: self.show_entry(cur.row()))
        model.scanned.connect(self._scanned)
        model.hashed.connect(self._hashed)
        model.modelReset.connect(self._reset)  # a bound slot: dropped with this page
        self._update_folders()
        self.show_entry(-1)

    def compute_hash(self) -> None:
        e = self.model.entry(self.table.currentIndex().row())
        if e is not None:
            self.hash_btn.setEnabled(False)
            self.hash_btn.setText("Hashing…")
            self.model.compute_hash(e.path)

    def _hashed(self, path: str, _digest: str) -> None:
        e = self.model.entry(self.table.currentIndex().row())
        if e is not None and str(e.path) == path:
            self.show_entry(self.table.currentIndex().row())

    def _kind_changed(self, _index: int) -> None:
        self.model.set_kind_filter(self.kind_box.currentData())

    def _reset(self) -> None:
        self.show_entry(-1)

    def _scanned(self, n: int) -> None:
        self.count.setText(f"{n} model{'s' if n != 1 else ''} found")
        self._update_folders()

    def _update_folders(self) -> None:
        folders = [str(self.model.models_dir), *self.model.extra_folders]
        self.folders_label.setText("Looking in: " + " · ".join(folders) + " · the Hugging Face cache · Studio's "
                                   "built-in demos")

    def add_folder(self, folder: str | None = None) -> bool:
        if folder is None:
            folder = QFileDialog.getExistingDirectory(self, "A models folder to use in place")
        return bool(folder) and self.model.add_folder(folder)

    def show_entry(self, row: int) -> None:
        e = self.model.entry(row)
        self.use_btn.setEnabled(e is not None and e.kind in ("checkpoint", "lora", "text"))
        digest = self.model.known_hash(e.path) if e is not None else None
        self.hash_btn.setVisible(e is not None and e.path.is_file() and digest is None)
        self.hash_btn.setEnabled(True)
        self.hash_btn.setText("Compute the hash")
        if e is None:
            self.details.setHtml("<p>Pick a model to see what it is.</p><p>Studio reads only the header of each "
                                 ".safetensors file to tell what it is: no weights are loaded.</p>")
            self.use_btn.setText("Use")
            return
        self.use_btn.setText({"checkpoint": "Use in the Image panel", "lora": "Add to the Image prompt",
                              "text": "Use in the Writer"}.get(e.kind, "Use"))
        rows = [("Kind", e.kind), ("What it is", e.label or e.family), ("Source", e.source),
                ("Size", human_size(e.size)), ("Path", str(e.path))]
        if e.reason:
            rows.append(("Note", e.reason))
        if digest:
            rows += [("SHA-256", digest), ("AutoV2 hash", digest[:10])]
        for key, value in e.details.items():
            if value not in (None, "", []):
                rows.append((key.replace("_", " ").capitalize(),
                             ", ".join(map(str, value)) if isinstance(value, list) else json.dumps(value)
                             if isinstance(value, dict) else str(value)))
        html = "".join(f"<tr><td style='color:gray;padding-right:8px'>{k}</td><td>{v}</td></tr>" for k, v in rows)
        self.details.setHtml(f"<h3>{e.name}</h3><table>{html}</table>")

    def use_selected(self) -> None:
        e = self.model.entry(self.table.currentIndex().row())
        if e is None:
            return
        if e.kind == "checkpoint":
            self.useImageModel.emit(str(e.path))
        elif e.kind == "lora":
            self.useLora.emit(str(e.path))
        elif e.kind == "text":
            self.useTextModel.emit(str(e.path))
