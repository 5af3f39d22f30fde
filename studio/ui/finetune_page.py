"""The Fine-tune room: drop pictures, caption them, pick a trigger word, train, watch, use the LoRA."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QPointF, QSize, Qt, Signal
from PySide6.QtGui import QColor, QIcon, QPainter, QPen, QPixmap, QPolygonF
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
    QPushButton,
    QScrollArea,
    QSpinBox,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from studio.core.train_specs import PRESETS, TrainDone
from studio.viewmodels.train_session import TrainSession


class LossCurveView(QWidget):
    """The loss per step (faint) and smoothed (bold)."""

    def __init__(self, session: TrainSession, parent: QWidget | None = None):
        super().__init__(parent)
        self.session = session
        self.setMinimumHeight(140)

    def paintEvent(self, _event) -> None:  # noqa: N802, ANN001
        p = QPainter(self)
        p.fillRect(self.rect(), self.palette().base())
        curve = self.session.curve
        if len(curve.losses) < 2:
            p.setPen(self.palette().placeholderText().color())
            p.drawText(self.rect(), Qt.AlignmentFlag.AlignCenter, "The loss curve appears here as training runs.")
            return
        lo, hi = min(curve.losses), max(curve.losses)
        span = (hi - lo) or 1.0
        n = max(curve.steps[-1], 2)
        w, h = self.width() - 16, self.height() - 24

        def poly(values: list[float]) -> QPolygonF:
            return QPolygonF([QPointF(8 + w * s / n, 8 + h * (1 - (v - lo) / span))
                              for s, v in zip(curve.steps, values, strict=True)])

        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        accent = self.palette().highlight().color()
        faint = QColor(accent)
        faint.setAlpha(70)
        p.setPen(QPen(faint, 1))
        p.drawPolyline(poly(curve.losses))
        p.setPen(QPen(accent, 2))
        p.drawPolyline(poly(curve.smoothed()))
        p.setPen(self.palette().text().color())
        p.drawText(8, self.height() - 4, f"loss {curve.smoothed()[-1]:.4f} (smoothed) · step {curve.steps[-1]}")


class FinetunePage(QWidget):
    useLora = Signal(str, str)  # LoRA path, trigger word

    def __init__(self, session: TrainSession, base_choices: list[tuple[str, str]] | None = None,
                 parent: QWidget | None = None):
        super().__init__(parent)
        self.session = session
        self.setAcceptDrops(True)
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
        scroll.setWidget(self._training_box(base_choices or []))
        split.addWidget(scroll)
        split.setSizes([760, 520])
        lay.addWidget(split, 1)
        session.datasetChanged.connect(self.refresh)
        session.importing.connect(self._importing)
        session.stepped.connect(self._stepped)
        session.samplesReady.connect(self._samples)
        session.finished.connect(self._finished)
        session.failed.connect(lambda m: self.status.setText(m))
        session.stopped.connect(self._stopped)
        session.running.connect(self._running)
        self.refresh()
        self.check_interrupted()

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
        self.remove_btn.setToolTip("Take the selected picture out of the dataset (your original stays where it is)")
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
            w.editingFinished.connect(lambda: self.session.set_words(self.trigger.text(), self.class_word.text()))
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
        self.table = QTableWidget(0, 3)
        self.table.setHorizontalHeaderLabels(["Picture", "Caption (the trigger and class words are added)", "Check"])
        self.table.horizontalHeader().setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        self.table.setIconSize(QSize(72, 72))
        self.table.verticalHeader().setDefaultSectionSize(78)
        self.table.setColumnWidth(0, 170)
        self.table.itemChanged.connect(self._item_changed)
        v.addWidget(self.table, 1)
        self.summary = QLabel()
        self.summary.setWordWrap(True)
        v.addWidget(self.summary)
        return box

    def refresh(self) -> None:
        ds = self.session.dataset
        self.table.blockSignals(True)
        self.table.setRowCount(len(ds.images))
        for r, img in enumerate(ds.images):
            pic = QTableWidgetItem(QIcon(QPixmap(str(ds.thumbnail(img))).scaled(
                72, 72, Qt.AspectRatioMode.KeepAspectRatio, Qt.TransformationMode.SmoothTransformation)),
                f"{img.width}×{img.height}")
            pic.setFlags(Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable)
            cap = QTableWidgetItem(img.caption)
            check = QTableWidgetItem("; ".join(img.problems) or "ok")
            check.setFlags(Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsUserCheckable | Qt.ItemFlag.ItemIsSelectable)
            check.setCheckState(Qt.CheckState.Checked if img.used else Qt.CheckState.Unchecked)
            check.setToolTip("Ticked pictures are trained on; flagged ones are your call")
            if img.problems:
                check.setForeground(QColor("#c0392b"))
            for c, item in enumerate((pic, cap, check)):
                self.table.setItem(r, c, item)
        self.table.blockSignals(False)
        used = len(ds.used())
        skipped = f" Not imported: {'; '.join(ds.skipped[-3:])}." if ds.skipped else ""
        self.summary.setText(f"{used} of {len(ds.images)} pictures will be trained on.{skipped}")

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
        files, _ = QFileDialog.getOpenFileNames(self, "Add pictures", "", "Pictures (*.png *.jpg *.jpeg *.webp *.bmp)")
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
    def _training_box(self, base_choices: list[tuple[str, str]]) -> QWidget:
        box = QGroupBox("Training")
        v = QVBoxLayout(box)
        form = QFormLayout()
        self.base = QComboBox()
        self.set_base_choices(base_choices)
        self.base.currentIndexChanged.connect(lambda _i: setattr(self.session, "base", self.base.currentData() or ""))
        self.preset = QComboBox()
        for name in PRESETS:
            self.preset.addItem(name.capitalize(), name)
        self.preset.currentIndexChanged.connect(self._preset)
        s = self.session.settings
        self.steps = QSpinBox(minimum=1, maximum=100_000, value=int(s["steps"]))
        self.rank = QSpinBox(minimum=1, maximum=256, value=int(s["rank"]))
        self.lr = QDoubleSpinBox(decimals=6, minimum=1e-6, maximum=1e-1, singleStep=1e-5, value=float(s["lr_unet"]))
        self.resolution = QSpinBox(minimum=64, maximum=2048, singleStep=64, value=int(s["resolution"]))
        self.text_encoder = QCheckBox("Train the text encoder too")
        self.text_encoder.setChecked(bool(s["train_text_encoder"]))
        for w, key in ((self.steps, "steps"), (self.rank, "rank"), (self.lr, "lr_unet"),
                       (self.resolution, "resolution")):
            w.valueChanged.connect(lambda val, k=key: self.session.settings.__setitem__(k, val))
        self.text_encoder.toggled.connect(lambda on: self.session.settings.__setitem__("train_text_encoder", on))
        form.addRow("Base model", self.base)
        form.addRow("Preset", self.preset)
        form.addRow("Steps", self.steps)
        form.addRow("Rank", self.rank)
        form.addRow("Learning rate", self.lr)
        form.addRow("Resolution", self.resolution)
        form.addRow(self.text_encoder)
        v.addLayout(form)
        buttons = QHBoxLayout()
        self.start_btn = QPushButton("Train")
        self.start_btn.clicked.connect(self.start)
        self.cancel_btn = QPushButton("Cancel")
        self.cancel_btn.setToolTip("Stops within one step; the last checkpoint is kept and can be resumed")
        self.cancel_btn.clicked.connect(self.session.cancel)
        self.cancel_btn.setEnabled(False)
        buttons.addWidget(self.start_btn)
        buttons.addWidget(self.cancel_btn)
        v.addLayout(buttons)
        self.status = QLabel("Add pictures, choose a trigger word and press Train.")
        self.status.setWordWrap(True)
        v.addWidget(self.status)
        self.curve = LossCurveView(self.session)
        v.addWidget(self.curve, 1)
        self.samples = QLabel()
        self.samples.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.samples.setMinimumHeight(80)
        v.addWidget(self.samples)
        self.use_btn = QPushButton("Use it in the Image panel")
        self.use_btn.setToolTip("Opens the Image panel with the trigger word in the prompt and the LoRA at 0.8")
        self.use_btn.clicked.connect(self._use)
        self.use_btn.hide()
        v.addWidget(self.use_btn)
        return box

    def set_base_choices(self, choices: list[tuple[str, str]]) -> None:
        current = self.session.base
        self.base.blockSignals(True)
        self.base.clear()
        for label, path in choices:
            self.base.addItem(label, path)
        self.base.setCurrentIndex(max(0, self.base.findData(current)))
        self.base.blockSignals(False)
        self.session.base = self.base.currentData() or current

    def _preset(self, _i: int) -> None:
        name = self.preset.currentData()
        self.session.preset = name
        p = PRESETS[name]
        self.steps.setValue(p["steps"])
        self.rank.setValue(p["rank"])
        self.lr.setValue(p["lr_unet"])
        self.text_encoder.setChecked(p["train_text_encoder"])

    def start(self) -> None:
        self.session.set_words(self.trigger.text(), self.class_word.text())
        problem = self.session.start()
        self.status.setText(problem or "Queued: training starts when the device is free…")
        self.curve.update()

    def check_interrupted(self) -> None:
        run = self.session.interrupted_run()
        self.banner.setVisible(run is not None)
        self._interrupted = run
        if run is not None:
            self.banner_text.setText(f"A training run was interrupted ({run.name}) — resume? Its last checkpoint "
                                     "is kept.")

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
        if not pix.isNull():
            self.samples.setPixmap(pix.scaledToHeight(min(160, max(64, pix.height())),
                                                      Qt.TransformationMode.SmoothTransformation))

    def _finished(self, done: TrainDone) -> None:
        self.status.setText(f"Done: {Path(done.path).name} is in your models folder." +
                            (f" {len(done.grids)} A/B grid(s) in {done.run_dir}." if done.grids else ""))
        if done.grids:
            self._samples(done.grids[-1])
        self.use_btn.show()

    def _stopped(self, how: str) -> None:
        if how == "cancelled":
            self.status.setText("Cancelled. The last checkpoint is kept: Resume continues from it.")
            self.check_interrupted_after_cancel()

    def check_interrupted_after_cancel(self) -> None:
        run = self.session.run_dir
        if run is not None and any(run.glob("checkpoint-*")):
            self._interrupted = run
            self.banner_text.setText(f"{run.name} was cancelled — resume from its last checkpoint?")
            self.banner.show()

    def _running(self, on: bool) -> None:
        self.start_btn.setEnabled(not on)
        self.cancel_btn.setEnabled(on)

    def _use(self) -> None:
        if self.session.last is not None:
            self.useLora.emit(self.session.last.path, " ".join(
                w for w in (self.session.dataset.trigger, self.session.dataset.class_word) if w))
