"""The Fine-tune room: drop pictures, caption them, pick a trigger word, train, watch, use the LoRA."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QEvent, QSize, Qt, QTimer, Signal
from PySide6.QtGui import QColor, QImage, QPixmap
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QMenu,
    QPushButton,
    QScrollArea,
    QSpinBox,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from studio.core.io.words import count
from studio.core.train.recipe import TRAIN
from studio.core.train.train_specs import PRESETS, TrainDone, latest_checkpoint
from studio.ui.common.binding import bind
from studio.ui.common.fold import FoldBySize
from studio.ui.common.theme import picture_icon
from studio.ui.train.caption_tools import CaptionTools
from studio.ui.train.finetune_widgets import LossCurveView
from studio.ui.train.picture_panel import PicturePanel
from studio.ui.train.run_history import RunHistoryView
from studio.ui.train.train_settings import MoreSettings, recipe_rows
from studio.viewmodels.train_runs import TrainRuns
from studio.viewmodels.train_session import TrainSession

ADD_HINT = "Add pictures, choose a trigger word and press Train."
TRAIN_HINT = "Choose a trigger word (and a class word) and press Train."
READY_HINT = "Check the captions and the trigger word, then press Train."


class FinetunePage(QWidget):
    useLora = Signal(str, str)  # LoRA path, trigger word

    def __init__(
        self,
        session: TrainSession,
        base_choices: list[tuple[str, str]] | None = None,
        parent: QWidget | None = None,
    ):
        super().__init__(parent)
        self.session = session
        self.setAcceptDrops(True)
        self._estimate_timer = QTimer(self, singleShot=True, interval=250)  # settings change in bursts
        lay = QVBoxLayout(self)
        lay.setContentsMargins(8, 8, 8, 8)
        self.banner = QWidget()
        bl = QHBoxLayout(self.banner)
        bl.setContentsMargins(0, 0, 0, 0)
        self.banner_text = QLabel()
        resume = QPushButton("Resume")
        resume.clicked.connect(self._resume)
        bl.addWidget(self.banner_text, 1)
        bl.addWidget(resume)
        self.banner.hide()
        lay.addWidget(self.banner)
        split = QSplitter(Qt.Orientation.Horizontal)
        split.addWidget(self._dataset_box())
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QScrollArea.Shape.NoFrame)
        scroll.setWidget(self._training_box())
        self.runs = TrainRuns(session, self)
        self.tabs = QTabWidget()
        self.tabs.addTab(scroll, "Training")
        self.tabs.addTab(RunHistoryView(self.runs, self.useLora.emit), "Past runs")
        self.runs.listed.connect(lambda: self.tabs.setTabText(1, f"Past runs ({len(self.runs.runs)})"))
        session.running.connect(lambda on: on and self.tabs.setCurrentIndex(0))  # a resumed run shows live
        split.addWidget(self.tabs)
        self.training_scroll = scroll
        split.setSizes([760, 520])
        lay.addWidget(split, 1)
        session.datasetChanged.connect(self.refresh)
        session.importing.connect(self._importing)
        session.captioned.connect(self.summary.setText)
        session.stepped.connect(self._stepped)
        session.samplesReady.connect(self._samples)
        session.finished.connect(self._finished)
        session.failed.connect(lambda m: self.status.setText(m))
        session.waiting.connect(self.status.setText)  # its place in the queue while it waits
        session.stopped.connect(self._stopped)
        session.running.connect(self._running)
        self.refresh()
        self.check_interrupted()
        self.set_base_choices(base_choices or [])
        self._base_changed()  # the resolution follows the base model; the estimate starts
        self.runs.refresh()

    # -- dataset -------------------------------------------------------------------------------------------------
    def _dataset_box(self) -> QWidget:
        box = self.dataset_box = QGroupBox("Your pictures (10–30; drop them here)")
        v = QVBoxLayout(box)
        row = QHBoxLayout()
        add = QPushButton("Add pictures…")
        add.clicked.connect(self._add_pictures)
        folder = QPushButton("Add a folder…")
        folder.clicked.connect(self._add_folder)
        self.remove_btn = QPushButton("Remove")
        self.remove_btn.setToolTip(
            "Take the selected picture out of the dataset (your original stays where it is)"
        )
        self.remove_btn.clicked.connect(self._remove)
        for b in (add, folder, self.remove_btn):
            row.addWidget(b)
        row.addStretch(1)
        v.addLayout(row)
        words = QFormLayout()
        self.trigger = QLineEdit(self.session.dataset.trigger)
        self.trigger.setToolTip("A rare word that will call up what you train, e.g. sks")
        self.class_word = QLineEdit(self.session.dataset.class_word)
        self.class_word.setPlaceholderText("what it is: dog, person, painting…")
        for w in (self.trigger, self.class_word):
            w.editingFinished.connect(self._words_edited)
        words.addRow("Trigger word", self.trigger)
        words.addRow("Class word", self.class_word)
        v.addLayout(words)
        rep = QHBoxLayout()
        self.find = QLineEdit()
        self.find.setPlaceholderText("find in captions")
        self.replace_with = QLineEdit()
        self.replace_with.setPlaceholderText("replace with")
        go = QPushButton("Replace all")
        go.clicked.connect(self._replace)
        for w in (self.find, self.replace_with, go):
            rep.addWidget(w)
        v.addLayout(rep)
        self.captions = CaptionTools(self.session, self.selected_rows, lambda t: self.summary.setText(t))
        self.caption_btn, self.caption_all = self.captions.caption_btn, self.captions.caption_all
        v.addWidget(self.captions)
        self.table = QTableWidget(0, 3)
        self.table.setHorizontalHeaderLabels(["Picture", "Caption", "Check"])
        self.table.horizontalHeaderItem(1).setToolTip(
            "The trigger and class words are put in front when training"
        )
        self.table.horizontalHeader().setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        self.table.setIconSize(QSize(72, 72))
        self.table.verticalHeader().setDefaultSectionSize(78)
        self.table.setColumnWidth(0, 170)
        self.table.itemChanged.connect(self._item_changed)
        grid = QSplitter(Qt.Orientation.Horizontal)
        grid.addWidget(self.table)
        self.picture = PicturePanel(self.session, self.table.currentRow, lambda: self.resolution.value())
        self.focus_view, self.mask_tools = self.picture.focus_view, self.picture.mask_tools
        self.table.currentCellChanged.connect(lambda row, *_: self.picture.show_row(row))
        grid.addWidget(self.picture)
        grid.setSizes([520, 240])
        grid.setStretchFactor(0, 3)
        grid.setStretchFactor(1, 1)
        # on a small window the crop view folds away (drag its edge to bring it back): the captions come first
        self._crop_fold = FoldBySize(
            grid, 1, 1000, lambda total: [total - max(220, total // 3), max(220, total // 3)]
        )
        self.crop_split = grid
        v.addWidget(grid, 1)
        self.summary = QLabel()
        self.summary.setWordWrap(True)
        v.addWidget(self.summary)
        return box

    def resizeEvent(self, event: QEvent) -> None:  # noqa: N802 (Qt's name)
        super().resizeEvent(event)  # type: ignore[arg-type]
        self._crop_fold.follow(self.width())

    def _words_edited(self) -> None:
        """The trigger or class word changed: saved with the dataset, and the captions show them."""
        self.session.set_words(self.trigger.text(), self.class_word.text())
        self.refresh()

    def refresh(self) -> None:
        ds = self.session.dataset
        self.table.blockSignals(True)
        self.table.setRowCount(len(ds.images))
        for r, img in enumerate(ds.images):
            thumb = QPixmap(str(ds.thumbnail(img))).scaled(
                72, 72, Qt.AspectRatioMode.KeepAspectRatio, Qt.TransformationMode.SmoothTransformation
            )
            pic = QTableWidgetItem(picture_icon(thumb), f"{img.width}×{img.height}")
            pic.setFlags(Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable)
            cap = QTableWidgetItem(img.caption)
            cap.setToolTip(f"Trained as: {ds.full_caption(img)}")  # the trigger and class words training adds
            flags = ds.flags(img)
            check = QTableWidgetItem("; ".join(flags) or "ok")
            check.setFlags(
                Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsUserCheckable | Qt.ItemFlag.ItemIsSelectable
            )
            check.setCheckState(Qt.CheckState.Checked if ds.is_used(img) else Qt.CheckState.Unchecked)
            check.setToolTip("Ticked pictures are trained on; flagged ones are your call")
            if flags:
                check.setForeground(QColor("#c0392b"))
            for c, item in enumerate((pic, cap, check)):
                self.table.setItem(r, c, item)
        self.table.blockSignals(False)
        lead = " ".join(w for w in (ds.trigger.strip(), ds.class_word.strip()) if w)
        header = self.table.horizontalHeaderItem(1)
        if header is not None:
            header.setText(f"Caption (trained as “{lead}, …”)" if lead else "Caption")
        used = len(ds.used())
        skipped = f" Not imported: {'; '.join(ds.skipped[-3:])}." if ds.skipped else ""
        self.summary.setText(f"{used} of {len(ds.images)} pictures will be trained on.{skipped}")
        if hasattr(self, "status") and self.status.text() in (ADD_HINT, TRAIN_HINT, READY_HINT):
            # the hint follows the dataset and the words: what is still missing, or that nothing is
            self.status.setText(
                READY_HINT if ds.images and ds.trigger else TRAIN_HINT if ds.images else ADD_HINT
            )
        if hasattr(self, "estimate"):
            self._estimate_timer.start()  # the estimate follows the pictures too, not only the settings

    def selected_rows(self) -> list[int]:
        return sorted({i.row() for i in self.table.selectedIndexes()})

    def _importing(self, busy: bool) -> None:
        self.dataset_box.setEnabled(not busy)
        if busy:
            self.summary.setText("Copying and checking the pictures…")

    def _item_changed(self, item: QTableWidgetItem) -> None:
        if item.column() == 1:
            self.session.set_caption(item.row(), item.text())
        elif item.column() == 2:
            self.session.set_keep(item.row(), item.checkState() == Qt.CheckState.Checked)

    def _add_pictures(self) -> None:
        files, _ = QFileDialog.getOpenFileNames(
            self, "Add pictures", "", "Pictures (*.png *.jpg *.jpeg *.webp *.bmp)"
        )
        if files:
            self.session.add_pictures(files)

    def _add_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Add a folder of pictures")
        if folder:
            self.session.add_pictures([folder])

    def _remove(self) -> None:
        row = self.table.currentRow()
        if row >= 0:
            self.session.remove(row)

    def _replace(self) -> None:
        n = self.session.replace_in_captions(self.find.text(), self.replace_with.text())
        self.summary.setText(f"Changed {n} caption{'s' if n != 1 else ''}.")

    def dragEnterEvent(self, event) -> None:  # noqa: N802, ANN001
        if event.mimeData().hasUrls():
            event.acceptProposedAction()

    def dropEvent(self, event) -> None:  # noqa: N802, ANN001
        paths = [u.toLocalFile() for u in event.mimeData().urls() if u.isLocalFile()]
        if paths:
            self.session.add_pictures(paths)
            event.acceptProposedAction()

    # -- training ------------------------------------------------------------------------------------------------
    def _training_box(self) -> QWidget:
        box = QGroupBox("Training")
        v = QVBoxLayout(box)
        form = QFormLayout()
        self.base = QComboBox()
        self.base.setToolTip(TRAIN["base"].help)
        self.base.currentIndexChanged.connect(self._base_changed)
        self.preset = QComboBox()
        for name in PRESETS:
            self.preset.addItem(name.capitalize(), name)
        self.steps, self.rank, self.resolution = QSpinBox(), QSpinBox(), QSpinBox()
        self.lr = QDoubleSpinBox()
        self.text_encoder = QCheckBox(TRAIN["train_text_encoder"].label)
        self.resolution.valueChanged.connect(self.focus_view.set_resolution)
        form.addRow("Base model", self.base)
        self._rows(
            form,
            [
                ("preset", self.preset),
                ("steps", self.steps),
                ("rank", self.rank),
                ("lr_unet", self.lr),
                ("resolution", self.resolution),
                ("train_text_encoder", self.text_encoder),
            ],
        )
        v.addLayout(form)
        more = QCheckBox("More settings")
        v.addWidget(more)
        self.more = MoreSettings(self.session, lambda _v: self._estimate_timer.start())
        self.more.setVisible(False)
        more.toggled.connect(self.more.setVisible)
        v.addWidget(self.more)
        v.addWidget(self._class_box())
        buttons = QHBoxLayout()
        self.start_btn = QPushButton("Train")
        self.start_btn.clicked.connect(self.start)
        self.checkpoint_btn = QPushButton("Save a checkpoint now")
        self.checkpoint_btn.setToolTip(
            "The run saves a checkpoint after its current step (it resumes from there)"
        )
        self.checkpoint_btn.clicked.connect(self._checkpoint_now)
        self.checkpoint_btn.setEnabled(False)
        self.cancel_btn = QPushButton("Cancel")
        self.cancel_btn.setToolTip("Stops within one step; the last checkpoint is kept and can be resumed")
        self.cancel_btn.clicked.connect(self._cancel)
        self.cancel_btn.setEnabled(False)
        buttons.addWidget(self.start_btn)
        buttons.addWidget(self.checkpoint_btn)
        buttons.addWidget(self.cancel_btn)
        elsewhere = QPushButton("Elsewhere…")
        elsewhere.setToolTip("Train on another machine: export the run as a folder, import the result back")
        menu = QMenu(elsewhere)
        menu.addAction("Export run… (dataset, settings and the command, to train on another machine)",
                       self.export_run)  # fmt: skip
        menu.addAction(
            "Import result… (a run trained elsewhere: its LoRA and loss curve)", self.import_result
        )
        elsewhere.setMenu(menu)
        buttons.addWidget(elsewhere)
        v.addLayout(buttons)
        self.estimate = QLabel()
        self.estimate.setWordWrap(True)
        self.estimate.setToolTip(
            "Measured on your earlier runs with the same base and settings when there are any"
        )
        v.addWidget(self.estimate)
        self._estimate_timer.timeout.connect(lambda: self.estimate.setText(self.session.estimate()))
        self.status = QLabel(ADD_HINT)
        self.status.setWordWrap(True)
        v.addWidget(self.status)
        self.curve = LossCurveView(self.session)
        v.addWidget(self.curve, 1)
        self.samples = QLabel()
        self.samples.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.samples.setMinimumHeight(80)
        v.addWidget(self.samples)
        self.samples_path = ""
        self.open_samples_btn = QPushButton("Open large…")
        self.open_samples_btn.setToolTip("The samples (or the A/B grid) at full size, to zoom into")
        self.open_samples_btn.clicked.connect(self.open_samples)
        self.open_samples_btn.hide()
        v.addWidget(self.open_samples_btn)
        self.use_btn = QPushButton("Use it in the Image panel")
        self.use_btn.setToolTip(
            "Opens the Image panel with the trigger word in the prompt and the LoRA at 0.8"
        )
        self.use_btn.clicked.connect(self._use)
        self.use_btn.hide()
        v.addWidget(self.use_btn)
        return box

    def _class_box(self) -> QWidget:
        box = QGroupBox("Class pictures (optional)")
        box.setCheckable(True)
        form = QFormLayout(box)
        self.class_folder = QLineEdit()
        self.class_folder.setPlaceholderText("Studio's folder for this class word")
        browse = QPushButton("…")
        browse.setFixedWidth(32)
        browse.clicked.connect(self._choose_class_folder)
        row = QHBoxLayout()
        row.addWidget(self.class_folder, 1)
        row.addWidget(browse)
        self.class_count, self.prior_weight = QSpinBox(), QDoubleSpinBox()
        form.addRow("Folder", row)
        self._rows(form, [("class_images", self.class_count), ("prior_weight", self.prior_weight)])
        bind(self.session, "use_class", box, on_edit=lambda _v: self._estimate_timer.start())
        box.setToolTip(
            "Pictures of the class without your subject (prior preservation): the model keeps knowing "
            "what any dog looks like while it learns yours"
        )
        bind(self.session, "class_dir", self.class_folder, convert=lambda t: str(t).strip())
        self.class_box = box
        return box

    def _rows(self, form: QFormLayout, rows: list[tuple[str, QWidget]]) -> None:
        """Form rows of recipe fields; every edit renews the estimate."""
        recipe_rows(self.session, form, rows, lambda _v: self._estimate_timer.start())

    def _choose_class_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Folder of class pictures")
        if folder:
            self.class_folder.setText(folder)
            self.session.set("class_dir", folder)

    def _checkpoint_now(self) -> None:
        asked = self.session.checkpoint_now()
        self.status.setText("A checkpoint is saved after this step…" if asked else "No run is going on.")

    def _base_changed(self, _i: int = 0) -> None:
        self.session.set_base(self.base.currentData() or self.session.base)
        self._estimate_timer.start()

    def set_base_choices(self, choices: list[tuple[str, str]]) -> None:
        current = self.session.base
        self.base.blockSignals(True)
        self.base.clear()
        for label, path in choices:
            self.base.addItem(label, path)
        self.base.setCurrentIndex(max(0, self.base.findData(current)))
        self.base.blockSignals(False)
        if (self.base.currentData() or current) != current:  # the list changed under the user: follow it
            self._base_changed()

    def start(self) -> None:
        self.session.set_words(self.trigger.text(), self.class_word.text())
        problem = self.session.start()
        self.status.setText(problem or "Queued: training starts when the device is free…")
        self.curve.update()

    def export_run(self, folder: str | None = None) -> None:
        self.session.set_words(self.trigger.text(), self.class_word.text())
        folder = folder or QFileDialog.getExistingDirectory(self, "Export the run to an empty folder")
        if folder:
            self.status.setText(self.session.export_run(Path(folder)))

    def import_result(self, folder: str | None = None) -> None:
        folder = folder or QFileDialog.getExistingDirectory(self, "A run folder trained elsewhere")
        if folder:
            self.status.setText(self.session.import_result(Path(folder)))

    def check_interrupted(self) -> None:
        run = self.session.interrupted_run()
        self.banner.setVisible(run is not None)
        self._interrupted = run
        if run is not None:
            self.banner_text.setText(
                f"A training run was interrupted ({run.name}) — resume? Its last checkpoint is kept."
            )

    def _resume(self) -> None:
        if self._interrupted is not None:
            problem = self.session.resume(self._interrupted)
            self.status.setText(problem or f"Resuming {self._interrupted.name}…")
            self.banner.hide()

    def _stepped(self, step: int, total: int, loss: float, eta: str) -> None:
        self.status.setText(f"Step {step} of {total} · loss {loss:.4f}" + (f" · {eta}" if eta else ""))
        self.curve.update()

    def _samples(self, path: str) -> None:
        pix = QPixmap(path)
        self.samples_path = path if not pix.isNull() else ""
        self.open_samples_btn.setVisible(bool(self.samples_path))
        if not pix.isNull():
            self.samples.setPixmap(
                pix.scaledToHeight(
                    min(160, max(64, pix.height())), Qt.TransformationMode.SmoothTransformation
                )
            )

    def open_samples(self) -> None:
        """The picture shown under the curve, large (wheel to zoom, drag to pan)."""
        from studio.ui.common.zoom_view import show_large

        if self.samples_path:
            self.samples_dialog = show_large(self, Path(self.samples_path).name, QImage(self.samples_path))

    def _finished(self, done: TrainDone) -> None:
        self.status.setText(
            f"Done: {Path(done.path).name} is in your models folder."
            + (f" {count(len(done.grids), 'A/B grid')} in {done.run_dir}." if done.grids else "")
        )
        if done.grids:
            self._samples(done.grids[-1])
        self.use_btn.show()
        # on a short window the result is below the settings: bring it into view once it is laid out
        QTimer.singleShot(0, lambda: self.training_scroll.ensureWidgetVisible(self.use_btn))

    def _stopped(self, how: str) -> None:
        self._estimate_timer.start()  # the run just made is now an earlier run to measure by
        if how == "cancelled":
            self.status.setText("Cancelled. The last checkpoint is kept: Resume continues from it.")
            self.check_interrupted_after_cancel()

    def _cancel(self) -> None:
        """Cancel the run — asked first once it has run over a minute."""
        from studio.core.jobs.rooms import Room
        from studio.ui.common.job_stop import confirm_stop

        running = self.session.queue.running_in(Room.FINETUNE)
        if not running or confirm_stop(self, running):
            self.session.cancel()

    def check_interrupted_after_cancel(self) -> None:
        run = self.session.run_dir
        if run is not None and latest_checkpoint(run) is not None:
            self._interrupted = run
            self.banner_text.setText(f"{run.name} was cancelled — resume from its last checkpoint?")
            self.banner.show()

    def _running(self, on: bool) -> None:
        self.checkpoint_btn.setEnabled(on)
        self.start_btn.setEnabled(not on)
        self.cancel_btn.setEnabled(on)

    def _use(self) -> None:
        if self.session.last is not None:
            self.useLora.emit(
                self.session.last.path,
                " ".join(w for w in (self.session.dataset.trigger, self.session.dataset.class_word) if w),
            )
