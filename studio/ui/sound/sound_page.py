"""The Sound room: a prompt and a few knobs on the left (the recipe's own fields), the sound on the right — drawn,
played, explained — and the sounds made in this session below it."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QComboBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from studio.core.jobs.fields import Section
from studio.core.jobs.rooms import Room
from studio.core.sound.recipe import SOUND
from studio.ui.common.binding import ErrorLabel
from studio.ui.common.field_widgets import add_field_rows
from studio.ui.common.theme import icon
from studio.ui.sound.sound_view import SoundView
from studio.viewmodels.sound_player import SoundPlayer
from studio.viewmodels.sound_session import HeardSound, SoundSession

STOP_KEYS = "Esc"


def _scrolled(widget: QWidget) -> QScrollArea:
    area = QScrollArea()
    area.setWidget(widget)
    area.setWidgetResizable(True)
    area.setFrameShape(QScrollArea.Shape.NoFrame)
    return area


class SoundPage(QWidget):
    room = Room.SOUND
    showInGallery = Signal(str)

    def __init__(
        self, session: SoundSession, player: SoundPlayer | None = None, parent: QWidget | None = None
    ):
        super().__init__(parent)
        self.session = session
        self.player = player or SoundPlayer(self)
        self.view = SoundView(self.player)
        split = QSplitter(Qt.Orientation.Horizontal)
        split.addWidget(_scrolled(self._settings()))
        split.addWidget(_scrolled(self._results()))
        split.setStretchFactor(1, 1)
        split.setSizes([290, 600])
        column = QVBoxLayout(self)
        column.addWidget(split)
        session.status.connect(self.status.setText)
        session.progress.connect(lambda f: self.bar.setValue(int(f * 100)))
        session.busyChanged.connect(self._busy)
        session.stepAdded.connect(self.view.add_step)
        session.resultReady.connect(self._result)
        # Ctrl+Return is the window's (it asks the room in front); Esc stops this room's job and no other
        QShortcut(
            QKeySequence(STOP_KEYS), self, session.stop, context=Qt.ShortcutContext.WidgetWithChildrenShortcut
        )
        self.refresh_models()

    def _settings(self) -> QWidget:
        panel = QWidget()
        outer = QVBoxLayout(panel)
        form = QFormLayout()
        outer.addLayout(form)
        outer.addStretch(1)
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        self.prompt = QPlainTextEdit()
        self.prompt.setObjectName("prompt")
        self.prompt.setPlaceholderText(
            "a high bell · fast low drums · rain on a tin roof · a calm piano melody"
        )
        self.prompt.setFixedHeight(64)
        self.prompt.textChanged.connect(lambda: self.session.set("prompt", self.prompt.toPlainText()))
        form.addRow(QLabel("What should it sound like?"))
        form.addRow(self.prompt)
        form.addRow(ErrorLabel(self.session, ("prompt",)))
        self.model = QComboBox()
        self.model.setObjectName("model")
        self.model.setToolTip(SOUND["model"].tooltip())
        self.model.currentIndexChanged.connect(
            lambda _i: self.session.set("model", self.model.currentData() or "")
        )
        form.addRow("Model", self.model)
        form.addRow(ErrorLabel(self.session, ("model",)))
        add_field_rows(form, self.session, SOUND, Section.NONE)
        self.generate_button = QPushButton(icon("generate"), "Generate")
        self.generate_button.setDefault(True)
        self.stop_button = QPushButton(icon("stop"), "Stop")
        self.stop_button.setEnabled(False)
        self.generate_button.clicked.connect(self.generate)
        self.stop_button.clicked.connect(self.session.stop)
        buttons = QHBoxLayout()
        buttons.addWidget(self.generate_button)
        buttons.addWidget(self.stop_button)
        form.addRow(buttons)
        self.bar = QProgressBar()
        self.bar.setTextVisible(False)
        self.bar.setFixedHeight(6)
        self.status = QLabel("")
        self.status.setWordWrap(True)
        form.addRow(self.bar)
        form.addRow(self.status)
        return panel

    def _results(self) -> QWidget:
        panel = QWidget()
        column = QVBoxLayout(panel)
        column.addWidget(self.view)
        column.addWidget(QLabel("Made in this session"))
        self.recent = QListWidget()
        self.recent.setObjectName("recentSounds")
        self.recent.setMaximumHeight(120)
        self.recent.itemActivated.connect(lambda item: self._show(item.data(Qt.ItemDataRole.UserRole)))
        self.recent.itemClicked.connect(lambda item: self._show(item.data(Qt.ItemDataRole.UserRole)))
        column.addWidget(self.recent)
        column.addStretch(1)
        return panel

    def refresh_models(self) -> None:
        chosen = self.session.value("model") or ""
        self.model.blockSignals(True)
        self.model.clear()
        for label, path in self.session.model_choices():
            self.model.addItem(label, path)
        self.model.setCurrentIndex(max(0, self.model.findData(chosen)))
        self.model.blockSignals(False)
        self.session.set("model", self.model.currentData() or "")

    def generate(self) -> None:
        if not self.session.busy and self.session.generate():
            self.view.clear_steps()
            self.bar.setValue(0)

    def _busy(self, on: bool) -> None:
        self.generate_button.setEnabled(not on)
        self.stop_button.setEnabled(on)

    def _result(self, sound: HeardSound) -> None:
        spec = sound.saved.spec
        item = QListWidgetItem(icon("sound"), f"{spec.prompt} · {spec.model_name} · seed {spec.seed}")
        item.setData(Qt.ItemDataRole.UserRole, sound)
        self.recent.insertItem(0, item)
        self._show(sound)

    def _show(self, sound: HeardSound) -> None:
        if sound is not self.view.sound:
            self.view.clear_steps()
            self.view.show_sound(sound)

    def open_file(self, path: str) -> None:
        """A sound from the gallery, shown and ready to play."""
        self.session.open(Path(path))
