"""The Models room: every model Studio sees (models folder, extra folders, the Hugging Face cache), what each is,
and one click to use it."""

from __future__ import annotations

import html
import json
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QTextCursor
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QMessageBox,
    QPushButton,
    QScrollArea,
    QSplitter,
    QTableView,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)

from studio.core.io.words import size
from studio.core.models.memory_plan import GB, DeviceInfo, choose, estimate_for_files, gb
from studio.core.models.model_library import FAMILY_CHOICES, card_text, demote_headings
from studio.ui.common.theme import icon
from studio.ui.models.download_dialog import DownloadDialog
from studio.ui.models.model_settings import DeviceMemorySettings
from studio.ui.models.models_actions import models_menu, undo_trash
from studio.ui.models.server_models_panel import ServerModelsPanel
from studio.viewmodels.downloads import Downloads
from studio.viewmodels.model_library_model import ModelLibraryModel
from studio.viewmodels.server_book import ServerBook

FAMILY_NAMES = {
    "": "As identified",
    "sd1": "SD 1.x",
    "sd2": "SD 2.x (512-base, noise)",
    "sd2-v": "SD 2.x v-prediction (768-v)",
    "sdxl": "SDXL",
}

KINDS = [
    ("All kinds", ""),
    ("Image checkpoints", "checkpoint"),
    ("LoRAs", "lora"),
    ("Embeddings", "embedding"),
    ("VAEs", "vae"),
    ("Upscalers", "upscaler"),
    ("ControlNets", "controlnet"),
    ("IP-Adapters", "ip-adapter"),
    ("Image encoders", "image-encoder"),
    ("Text models", "text"),
    ("Text LoRAs", "text-lora"),
    ("Captioners", "captioner"),
    ("Segmenters", "segmenter"),
    ("Detectors", "detector"),
    ("Matting", "matting"),
    ("Sound models", "sound"),
    ("Voices", "speech"),
    ("Refused", "refused"),
    ("Unknown", "unknown"),
]


def text_memory_text(e, info: DeviceInfo | None) -> str:  # noqa: ANN001 - a LibraryEntry
    """A language model's weights at full precision and what "auto" would load it as on this device (a sound or
    voice model: what it takes to load and run)."""
    from studio.core.text.text_memory import parameters_of, plan, size_text

    if e.kind in ("sound", "speech"):
        from studio.core.models.memory_plan import system_memory
        from studio.core.models.sound_models import memory_words

        free = info.free if info is not None else system_memory()[1]
        where = "this machine" if info is None or info.device == "cpu" else info.name
        return memory_words(e.size, e.family, free, where)

    if info is None:  # the device is not measured yet: this machine's memory
        from studio.core.models.memory_plan import system_memory

        total, free = system_memory()
        info = DeviceInfo("cpu", "CPU", total, free, "float32")
    params = parameters_of(e.path) if e.path.is_dir() else 0
    if not params:
        return ""
    dtype_bytes = 4 if info.device == "cpu" else info.dtype_bytes  # the Writer runs fp32 on the CPU
    p = plan("auto", params, dtype_bytes, info.free or info.total)
    where = "this machine's memory" if info.device == "cpu" else info.name
    size = f"{params / 1e9:.2f} B" if params >= 1e8 else f"{params / 1e6:.1f} M"
    if p.mode == "none":
        return f"Memory: {size} parameters, {size_text(p.full)} of weights — fits in {where}."
    if not p.fits:
        return f"Memory: {size} parameters — {p.reason}"
    return f"Memory: {size} parameters; {p.reason} (Writer ▸ Weights: auto)."


class ModelsPage(QWidget):
    useImageModel = Signal(str)
    useLora = Signal(str)
    useTextModel = Signal(str)
    useServerModel = Signal(str, str)  # (server base URL, model id)
    useComfyModel = Signal(str, str)  # (a ComfyUI server's name, its checkpoint)

    settingsChanged = Signal(str)  # a device/memory setting's name

    def __init__(
        self,
        model: ModelLibraryModel,
        parent: QWidget | None = None,
        *,
        device: Callable[[], DeviceInfo | None] = lambda: None,
        downloads: Downloads | None = None,
        servers: ServerBook | None = None,
    ):
        super().__init__(parent)
        self.model = model
        self.device = device
        self.downloads = downloads or Downloads(parent=self)
        self.downloads.finished.connect(lambda _path: model.rescan())
        model.setParent(self)  # the table model lives and dies with its page
        lay = QVBoxLayout(self)
        lay.setContentsMargins(8, 8, 8, 8)
        lay.addLayout(self._top_row(model))
        split = QSplitter(Qt.Orientation.Horizontal)
        split.addWidget(self._table(model))
        side = self._details(model, servers)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QScrollArea.Shape.NoFrame)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        scroll.setWidget(side)
        split.addWidget(scroll)
        split.setSizes([800, 420])
        split.setStretchFactor(0, 3)  # a larger window widens the details too: a model card reads in lines
        split.setStretchFactor(1, 2)
        self.split, self._laid_out = split, False
        lay.addWidget(split, 1)
        foot = QHBoxLayout()
        self.notice_label = QLabel(wordWrap=True)  # what a right-click action did
        self.model.fileMoved.connect(self.notice)
        self.undo_trash_btn = QPushButton("Undo")
        self.undo_trash_btn.clicked.connect(lambda: undo_trash(self))
        self.undo_trash_btn.hide()
        foot.addWidget(self.notice_label, 1)
        foot.addWidget(self.undo_trash_btn)
        lay.addLayout(foot)
        self.table.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.table.customContextMenuRequested.connect(lambda pos: models_menu(self, pos))
        self.folders_label = QLabel()
        self.folders_label.setWordWrap(True)
        self.folders_label.setObjectName("hint")
        lay.addWidget(self.folders_label)
        self.table.selectionModel().currentRowChanged.connect(lambda cur, _: self.show_entry(cur.row()))
        model.scanned.connect(self._scanned)
        model.hashed.connect(self._hashed)
        model.imported.connect(self._imported)
        model.importFailed.connect(lambda message: QMessageBox.warning(self, "Import", message))
        model.modelReset.connect(self._reset)  # a bound slot: dropped with this page
        self._update_folders()
        self.show_entry(-1)

    # -- building ------------------------------------------------------------------------------------------------
    def _top_row(self, model: ModelLibraryModel) -> QHBoxLayout:
        """What to show (a kind, a search), and where models come from: rescan, add a folder, import, download."""
        top = QHBoxLayout()
        self.kind_box = QComboBox()
        for label, kind in KINDS:
            self.kind_box.addItem(label, kind)
        self.kind_box.currentIndexChanged.connect(self._kind_changed)
        top.addWidget(self.kind_box)
        self.search = QLineEdit()
        self.search.setPlaceholderText("Search names, families, paths")
        self.search.setClearButtonEnabled(True)
        self.search.textChanged.connect(model.set_search)
        top.addWidget(self.search, 1)
        rescan = QPushButton(icon("recycle"), "Rescan")
        rescan.clicked.connect(model.rescan)
        add = QPushButton(icon("folder"), "Add a models folder…")
        add.setToolTip(
            "Another tool's models folder (AUTOMATIC1111, ComfyUI, …): used in place, never copied"
        )
        add.clicked.connect(lambda: self.add_folder())
        imp = QPushButton(icon("file"), "Import a file…")
        imp.setToolTip("Copy a model file into Studio's models folder, or link to it where it is")
        imp.clicked.connect(lambda: self.import_file())
        down = QPushButton(icon("down"), "Download…")
        down.setToolTip("Recommended starter models, or any Hugging Face repository")
        down.clicked.connect(self.open_downloads)
        for b in (rescan, add, imp, down):
            top.addWidget(b)
        self.count = QLabel()
        top.addWidget(self.count)
        return top

    def _table(self, model: ModelLibraryModel) -> QTableView:
        """The models, a row each."""
        self.table = QTableView()
        self.table.setModel(model)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        # the name and the family share what is left (a narrow window squeezes neither to nothing)
        self.table.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        self.table.horizontalHeader().setSectionResizeMode(2, QHeaderView.ResizeMode.Stretch)
        for col in (1, 3, 4):
            self.table.horizontalHeader().setSectionResizeMode(col, QHeaderView.ResizeMode.ResizeToContents)
        # the Hash column holds a whole short hash (AutoV2's 10 digits), computed or not yet
        self.table.horizontalHeader().setSectionResizeMode(5, QHeaderView.ResizeMode.Fixed)
        self.table.setColumnWidth(5, self.fontMetrics().horizontalAdvance("0123456789ab") + 16)
        self.table.verticalHeader().hide()
        self.table.doubleClicked.connect(lambda _: self.use_selected())
        return self.table

    def _details(self, model: ModelLibraryModel, servers: ServerBook | None) -> QWidget:
        """The chosen model: its card and memory, its family and default VAE, its hash; what to do with it; the
        device settings and the servers' models."""
        side = QWidget()
        sv = QVBoxLayout(side)
        sv.setContentsMargins(0, 0, 0, 0)
        self.details = QTextBrowser()
        self.details.setMinimumHeight(280)  # a model card reads without scrolling a slit
        sv.addWidget(self.details, 1)
        self.memory = QLabel()
        self.memory.setWordWrap(True)
        sv.addWidget(self.memory)
        fam_row = QFormLayout()
        self.family_box = QComboBox()
        self.family_box.setToolTip(
            "When Studio guessed the family wrong (or could not tell, e.g. SD 2.x v-prediction), "
            "say what this model is; remembered for this file"
        )
        self.family_box.activated.connect(self._family_chosen)
        fam_row.addRow("Family", self.family_box)
        self.vae_box = QComboBox()
        self.vae_box.setToolTip("The VAE this model's pictures are decoded with when a job names none")
        self.vae_box.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.vae_box.setMinimumContentsLength(10)
        self.vae_box.activated.connect(self._vae_chosen)
        fam_row.addRow("Default VAE", self.vae_box)
        sv.addLayout(fam_row)
        self.hash_btn = QPushButton("Compute the hash")
        self.hash_btn.setToolTip(
            "SHA-256 of the whole file, and AUTOMATIC1111's short AutoV2 hash (read once, then remembered)"
        )
        self.hash_btn.clicked.connect(self.compute_hash)
        sv.addWidget(self.hash_btn)
        self.use_btn = QPushButton("Use")
        self.use_btn.clicked.connect(self.use_selected)
        sv.addWidget(self.use_btn)
        self.default_btn = QPushButton("Make it the default")
        self.default_btn.setToolTip(
            "The model the Image panel (or the Writer) and the command line start with"
        )
        self.default_btn.clicked.connect(self.make_default)
        sv.addWidget(self.default_btn)
        self.settings_box = DeviceMemorySettings(model.settings, self._setting_changed)
        sv.addWidget(self.settings_box)
        self.servers_panel = ServerModelsPanel(servers) if servers is not None else None
        if self.servers_panel is not None:
            self.servers_panel.useServerModel.connect(self.useServerModel)
            self.servers_panel.useComfyModel.connect(self.useComfyModel)
            sv.addWidget(self.servers_panel)
        return side

    def notice(self, text: str) -> None:
        self.notice_label.setText(text)

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

    def showEvent(self, event) -> None:  # noqa: ANN001, N802 (Qt's name)
        """The device may have been measured since the row was shown: the estimate follows."""
        super().showEvent(event)
        if not self._laid_out:  # first shown: the details take two fifths (a model card reads in lines)
            self._laid_out = True
            QTimer.singleShot(0, self._share_width)
        e = self.model.entry(self.table.currentIndex().row())
        if e is not None:
            self.memory.setText(self.memory_text(e))

    def _share_width(self) -> None:
        total = sum(self.split.sizes())
        if total >= 1100:  # a narrow window keeps the table first
            self.split.setSizes([total - total * 2 // 5, total * 2 // 5])

    def _scanned(self, n: int) -> None:
        self.count.setText(f"{n} model{'s' if n != 1 else ''} found")
        self._update_folders()

    def _update_folders(self) -> None:
        folders = [str(self.model.models_dir), *self.model.extra_folders]
        self.folders_label.setText(
            "Looking in: " + " · ".join(folders) + " · the Hugging Face cache · Studio's built-in demos"
        )

    def add_folder(self, folder: str | None = None) -> bool:
        if folder is None:
            folder = QFileDialog.getExistingDirectory(self, "A models folder to use in place")
        return bool(folder) and self.model.add_folder(folder)

    def show_entry(self, row: int) -> None:
        e = self.model.entry(row)
        self.use_btn.setEnabled(e is not None and e.kind in ("checkpoint", "lora", "text"))
        self.default_btn.setVisible(e is not None and e.kind in ("checkpoint", "text"))
        self.default_btn.setEnabled(e is not None and not self.model.is_default(e))
        self.default_btn.setText(
            "The default" if e is not None and self.model.is_default(e) else "Make it the default"
        )
        self._fill_families(e)
        self._fill_vaes(e)
        self.memory.setText(self.memory_text(e) if e is not None else "")
        digest = self.model.known_hash(e.path) if e is not None else None
        self.hash_btn.setVisible(e is not None and e.path.is_file() and digest is None)
        self.hash_btn.setEnabled(True)
        self.hash_btn.setText("Compute the hash")
        if e is None:
            self.details.setHtml(
                "<p>Pick a model to see what it is.</p><p>Studio reads only the header of each "
                ".safetensors file to tell what it is: no weights are loaded.</p>"
            )
            self.use_btn.setText("Use")
            return
        self.use_btn.setText(
            {
                "checkpoint": "Use in the Image panel",
                "lora": "Add to the Image prompt",
                "text": "Use in the Writer",
            }.get(e.kind, "Use")
        )
        rows = [
            ("Kind", e.kind),
            ("What it is", e.label or e.family),
            ("Source", e.source),
            ("Size", size(e.size)),
            ("Path", str(e.path)),
        ]
        if e.reason:
            rows.append(("Note", e.reason))
        if digest:
            rows += [("SHA-256", digest), ("AutoV2 hash", digest[:10])]
        for key, value in e.details.items():
            if key == "dataset" and isinstance(value, dict):  # trained in Studio: what it was trained on
                files = value.get("files_sha256") or {}
                listed = ", ".join(f"{name} ({digest[:10]})" for name, digest in list(files.items())[:40])
                rows.append(("Trained on", f"{value.get('images', len(files))} pictures (SHA-256 of each: {listed}"
                             f"{', …' if len(files) > 40 else ''}); captions' digest "
                             f"{str(value.get('captions_sha256', ''))[:16]}…"))  # fmt: skip
                continue
            if value not in (None, "", []):
                rows.append(
                    (
                        key.replace("_", " ").capitalize(),
                        ", ".join(map(str, value))
                        if isinstance(value, list)
                        else json.dumps(value)
                        if isinstance(value, dict)
                        else str(value),
                    )
                )
        table = "".join(
            f"<tr><td style='color:gray;padding-right:8px'>{k}</td><td>{html.escape(str(v))}</td></tr>"
            for k, v in rows
        )
        self.details.setHtml(f"<h3>{html.escape(e.name)}</h3><table>{table}</table>")
        card = card_text(e.path)
        if card:  # its model card: what it was trained on, its licence, its scores
            cursor = self.details.textCursor()
            cursor.movePosition(QTextCursor.MoveOperation.End)
            cursor.insertBlock()
            cursor.insertHtml("<h3>Model card</h3>")
            cursor.insertBlock()
            cursor.insertMarkdown(demote_headings(card))
            self.details.moveCursor(QTextCursor.MoveOperation.Start)

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

    # -- memory, family, default -------------------------------------------------------------------------------
    def memory_text(self, e) -> str:  # noqa: ANN001 - a LibraryEntry
        """The memory estimate, shown before anything is loaded."""
        if e.kind in ("text", "sound", "speech"):
            return text_memory_text(e, self.device())
        if e.kind != "checkpoint":
            return ""
        info = self.device()
        if info is None:
            return "Memory: measured once the device is known (a few seconds after start)."
        est = estimate_for_files(e.family, info.dtype_bytes, e.size)
        plan = choose(
            est,
            info.device,
            info.free,
            attention_slicing=self.model.settings.attention_slicing,
            vae_tiling=self.model.settings.vae_tiling,
            cpu_offload=self.model.settings.cpu_offload,
        )
        where = f"{info.name}, {info.dtype}"
        return f"Memory on {where}: {plan.describe()} (one picture at its native size, weights {gb(est.weights)})."

    def _fill_families(self, e) -> None:  # noqa: ANN001
        self.family_box.clear()
        choices = (
            FAMILY_CHOICES.get(e.kind, ())
            if e is not None and e.source != "built-in" and e.path.is_file()
            else ()
        )
        self.family_box.setEnabled(bool(choices))
        if not choices:
            self.family_box.addItem("—", "")
            return
        for value in ("", *choices):
            self.family_box.addItem(FAMILY_NAMES.get(value, value), value)
        chosen = self.model.settings.family_overrides.get(str(e.path), "")
        self.family_box.setCurrentIndex(max(0, self.family_box.findData(chosen)))

    def _fill_vaes(self, e) -> None:  # noqa: ANN001
        self.vae_box.clear()
        self.vae_box.addItem("Its own", "")
        on = e is not None and e.kind == "checkpoint"
        self.vae_box.setEnabled(on)
        if not on:
            return
        for vae in self.model.vae_entries():
            self.vae_box.addItem(vae.name, str(vae.path))
        chosen = self.model.settings.vae_defaults.get(str(e.path), "")
        if chosen and self.vae_box.findData(chosen) < 0:
            self.vae_box.addItem(Path(chosen).name, chosen)
        self.vae_box.setCurrentIndex(max(0, self.vae_box.findData(chosen)))

    def _vae_chosen(self, _index: int) -> None:
        e = self.model.entry(self.table.currentIndex().row())
        if e is not None:
            self.model.set_default_vae(e.path, self.vae_box.currentData() or "")

    def _family_chosen(self, _index: int) -> None:
        e = self.model.entry(self.table.currentIndex().row())
        if e is not None:
            self.model.set_family(e.path, self.family_box.currentData())

    def make_default(self) -> None:
        e = self.model.entry(self.table.currentIndex().row())
        if e is not None:
            self.model.make_default(e)
            self.use_selected()

    def _setting_changed(self, name: str) -> None:
        if name == "allow_pickle":
            self.model.set_allow_pickle(self.model.settings.allow_pickle)
        self.settingsChanged.emit(name)
        self.show_entry(self.table.currentIndex().row())

    # -- import, download --------------------------------------------------------------------------------------
    def import_file(self, path: str | None = None, link: bool | None = None) -> None:
        if path is None:
            path, _ = QFileDialog.getOpenFileName(
                self, "Import a model file", "", "Models (*.safetensors *.ckpt);;All files (*)"
            )
        if not path:
            return
        if link is None:
            box = QMessageBox(
                QMessageBox.Icon.Question,
                "Import a model file",
                f"Copy {Path(path).name} into Studio's models folder, or link to it where it is?",
                parent=self,
            )
            copy = box.addButton("Copy", QMessageBox.ButtonRole.AcceptRole)
            linked = box.addButton("Link", QMessageBox.ButtonRole.AcceptRole)
            box.addButton(QMessageBox.StandardButton.Cancel)
            box.exec()
            if box.clickedButton() not in (copy, linked):
                return
            link = box.clickedButton() is linked
        self.count.setText(f"Importing {Path(path).name}…")
        self.model.import_file(Path(path), link)

    def _imported(self, path: str) -> None:
        self.count.setText(f"Imported {Path(path).name}")
        self.model.rescan()

    def open_downloads(self) -> DownloadDialog:
        info = self.device()
        memory = (
            (info.total if info.device != "cpu" else (info.free or info.total)) / GB
            if info and info.total
            else None
        )
        dialog = DownloadDialog(self.downloads, memory, self)
        dialog.show()
        return dialog
