"""Teach the model (the Writer's *Teach…*): learn my voice from chosen documents, or learn from the choices recorded in
chosen stories; a base model, a name, the cost before starting, the loss as it trains."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QProgressBar,
    QPushButton,
    QRadioButton,
    QVBoxLayout,
    QWidget,
)

from studio.core.models.text_lora import text_loras
from studio.ui.common.theme import fit_size
from studio.viewmodels.text_train_session import TextTrainSession


class TeachDialog(QDialog):
    trained = Signal(str)  # the LoRA's path

    def __init__(self, session: TextTrainSession, documents: list[Path], models: list[tuple[str, str]],
                 parent: QWidget | None = None):  # fmt: skip
        super().__init__(parent)
        self.setWindowTitle("Teach the model")
        self.session = session
        v = QVBoxLayout(self)
        self.voice = QRadioButton("Learn my voice — from the text of the documents")
        self.choices = QRadioButton(
            "Learn from my choices — the choices recorded in these stories (Choices tab)"
        )
        self.voice.setChecked(True)
        v.addWidget(self.voice)
        v.addWidget(self.choices)
        self.docs = QListWidget()
        for doc in documents:
            self._add(doc, checked=True)
        v.addWidget(self.docs, 1)
        add = QPushButton("Add documents… (.md, .txt, .docx, .epub)")
        add.clicked.connect(self._add_files)
        v.addWidget(add)
        form = QFormLayout()
        self.base = QComboBox()
        for label, path in models:
            self.base.addItem(label, path)
        self.on = QComboBox()
        self.on.addItem("(none)", "")
        for lora in text_loras([session.loras_dir]):
            self.on.addItem(lora.label(), str(lora.path))
        self.name = QLineEdit("my-voice")
        form.addRow("Base model", self.base)
        form.addRow("On top of", self.on)
        form.addRow("Name", self.name)
        v.addLayout(form)
        self.estimate = QLabel(objectName="hint", wordWrap=True)
        v.addWidget(self.estimate)
        self.progress = QProgressBar()
        v.addWidget(self.progress)
        self.status = QLabel(wordWrap=True)
        v.addWidget(self.status)
        self.sample = QLabel(wordWrap=True, objectName="hint")
        self.sample.setToolTip(
            "What the model writes now, continuing a held-out passage (at each checkpoint)"
        )
        v.addWidget(self.sample)
        row = QHBoxLayout()
        row.addStretch(1)
        self.train_btn = QPushButton("Train")
        self.train_btn.clicked.connect(self.start)
        self.cancel_btn = QPushButton("Cancel training")
        self.cancel_btn.clicked.connect(session.cancel)
        self.cancel_btn.setEnabled(False)
        row.addWidget(self.train_btn)
        row.addWidget(self.cancel_btn)
        v.addLayout(row)
        for signal in (self.voice.toggled, self.base.currentIndexChanged, self.docs.itemChanged):
            signal.connect(lambda *_: self._update())
        session.stepped.connect(self._stepped)
        session.said.connect(self.status.setText)
        session.running.connect(
            lambda on: (self.train_btn.setEnabled(not on), self.cancel_btn.setEnabled(on))
        )
        session.finished.connect(self._finished)
        session.sampled.connect(lambda text: self.sample.setText(f"Now it writes: {text.strip()[-300:]}"))
        fit_size(self, 560, 560)
        self._update()

    def _add(self, path: Path, checked: bool) -> None:
        item = QListWidgetItem(path.name)
        item.setData(Qt.ItemDataRole.UserRole, str(path))
        item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
        item.setCheckState(Qt.CheckState.Checked if checked else Qt.CheckState.Unchecked)
        item.setToolTip(str(path))
        self.docs.addItem(item)

    def _add_files(self) -> None:
        files, _ = QFileDialog.getOpenFileNames(self, "Documents", "", "Documents (*.md *.txt *.docx *.epub)")
        for f in files:
            self._add(Path(f), checked=True)

    def chosen(self) -> list[str]:
        return [self.docs.item(i).data(Qt.ItemDataRole.UserRole) for i in range(self.docs.count())
                if self.docs.item(i).checkState() == Qt.CheckState.Checked]  # fmt: skip

    def build(self, overrides: dict | None = None):  # noqa: ANN201 - a TextTrainSpec or a sentence
        mode = "voice" if self.voice.isChecked() else "choices"
        return self.session.build(self.base.currentData() or "", self.chosen(), self.name.text(), mode,
                                  self.on.currentData() or "", overrides)  # fmt: skip

    def _update(self) -> None:
        self.on.setEnabled(self.choices.isChecked())
        spec = self.build()
        if isinstance(spec, str):
            self.estimate.setText(spec)
            return
        words, refusal = self.session.estimate(spec)
        self.estimate.setText(refusal or f"{spec.steps} steps, rank {spec.rank}. {words}")

    def start(self, overrides: dict | None = None) -> None:
        spec = self.build(overrides if isinstance(overrides, dict) else None)
        if isinstance(spec, str):
            self.status.setText(spec)
            return
        self.progress.setRange(0, spec.steps)
        self.progress.setValue(0)
        self.status.setText(self.session.start(spec))

    def _stepped(self, step: int, total: int, loss: float) -> None:
        self.progress.setRange(0, total)
        self.progress.setValue(step)
        self.status.setText(f"Step {step} of {total}, loss {loss:.3f}")

    def _finished(self, path: str) -> None:
        self.status.setText(f"Done: {Path(path).name}. Choose it in Settings ▸ Model as “{self.base.currentText()} + "
                            f"{Path(path).stem}”.")  # fmt: skip
        self.trained.emit(path)


def open_teach(page: Any) -> TeachDialog | None:
    """From the Writer: its documents, its local models (without LoRAs), the result into its model picker."""
    if page.teacher is None:
        return None
    models = [(label, key) for label, key in page.session.model_choices() if "\n" not in key]
    dialog = TeachDialog(page.teacher, page.store.documents(), models, page)
    dialog.trained.connect(lambda _path: page.settings_panel._fill_models())
    dialog.show()
    return dialog
