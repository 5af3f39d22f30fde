"""A sound shown and played: its waveform (with where playback is), its spectrogram, play / stop / loop, what the
analysis hears — and how it was made: the spectrogram of each denoising step, or MusicGen's audio tokens."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QColor, QImage, QPainter, QPixmap
from PySide6.QtWidgets import QCheckBox, QHBoxLayout, QLabel, QPushButton, QSizePolicy, QVBoxLayout, QWidget

from studio.ui.common.scroll_row import ScrollRow
from studio.ui.common.theme import icon
from studio.viewmodels.sound_player import SoundPlayer
from studio.viewmodels.sound_session import HeardSound

FILM_THUMB = (128, 48)


class Picture(QLabel):
    """A picture that fills its width; ``mark`` draws a playhead at a fraction of it."""

    def __init__(self, height: int):
        super().__init__()
        self.setMinimumHeight(height)
        self.setMinimumWidth(120)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.setFixedHeight(height)
        self._image = QImage()
        self.mark = -1.0

    def show_image(self, image: QImage) -> None:
        self._image = image
        self.update()

    def paintEvent(self, event) -> None:  # noqa: ANN001, N802 - Qt's
        painter = QPainter(self)
        if self._image.isNull():
            painter.fillRect(self.rect(), QColor(24, 26, 32))
        else:
            painter.drawImage(self.rect(), self._image)
        if self.mark >= 0:
            x = int(self.mark * self.width())
            painter.fillRect(x, 0, 2, self.height(), QColor(255, 255, 255, 200))
        painter.end()


class SoundView(QWidget):
    opened = Signal(str)  # the file of the sound shown

    def __init__(self, player: SoundPlayer, parent: QWidget | None = None):
        super().__init__(parent)
        self.player = player
        self.sound: HeardSound | None = None
        self.title = QLabel("Nothing made yet: describe a sound and press Generate (Ctrl+Return).")
        self.title.setWordWrap(True)
        self.title.setObjectName("soundTitle")
        self.wave, self.spectrum = Picture(72), Picture(130)
        self.wave.setToolTip("The waveform: loudness over time")
        self.spectrum.setToolTip(
            "The spectrogram: time left to right, low pitches at the bottom, loud is bright"
        )
        self.play_button = QPushButton(icon("play"), "Play")
        self.stop_button = QPushButton(icon("stop"), "Stop")
        self.loop = QCheckBox("Loop")
        self.heard = QLabel("")
        self.heard.setWordWrap(True)
        self.heard.setProperty("role", "hint")
        controls = QHBoxLayout()
        for w in (self.play_button, self.stop_button, self.loop):
            controls.addWidget(w)
        controls.addStretch(1)
        self.steps_label = QLabel("How it was made: the spectrogram after each denoising step")
        self.film_row = QHBoxLayout()
        self.film_row.addStretch(1)
        self.film = ScrollRow(self.film_row)
        self.tokens_label = QLabel(
            "How it was made: MusicGen's audio tokens (a row a codebook, a cell 20 ms)"
        )
        self.tokens = Picture(28)
        column = QVBoxLayout(self)
        column.setContentsMargins(0, 0, 0, 0)
        for w in (self.title, self.wave, self.spectrum):
            column.addWidget(w)
        column.addLayout(controls)
        for w in (self.heard, self.steps_label, self.film, self.tokens_label, self.tokens):
            column.addWidget(w)
        self.play_button.clicked.connect(self.player.play)
        self.stop_button.clicked.connect(self.player.stop)
        self.loop.toggled.connect(lambda on: setattr(self.player, "loop", on))
        self.player.positionChanged.connect(self._playhead)
        self.player.playingChanged.connect(self._playing)
        self.player.unavailable.connect(self.heard.setText)
        self.clear_steps()
        self._enable(False)

    def _enable(self, on: bool) -> None:
        self.play_button.setEnabled(on)
        self.stop_button.setEnabled(False)
        self.loop.setEnabled(on)

    def _playing(self, on: bool) -> None:
        self.play_button.setEnabled(not on and self.sound is not None)
        self.stop_button.setEnabled(on)

    def _playhead(self, fraction: float) -> None:
        self.wave.mark = self.spectrum.mark = fraction if self.player.playing else -1.0
        self.wave.update()
        self.spectrum.update()

    def clear_steps(self) -> None:
        while self.film_row.count() > 1:
            item = self.film_row.takeAt(0)
            if item.widget():
                item.widget().deleteLater()
        for w in (self.steps_label, self.film, self.tokens_label, self.tokens):
            w.hide()

    def add_step(self, image: QImage, step: int, total: int) -> None:
        thumb = QLabel()
        thumb.setPixmap(QPixmap.fromImage(image).scaled(*FILM_THUMB, Qt.AspectRatioMode.IgnoreAspectRatio,
                                                         Qt.TransformationMode.SmoothTransformation))  # fmt: skip
        thumb.setToolTip(f"Step {step} of {total}: what the model expects the spectrogram to become")
        self.film_row.insertWidget(self.film_row.count() - 1, thumb)
        self.steps_label.show()
        self.film.show()

    def show_sound(self, sound: HeardSound) -> None:
        self.sound = sound
        spec = sound.saved.spec
        words = getattr(spec, "prompt", "") or getattr(spec, "text", "")
        self.title.setText(f"“{words}” — {getattr(spec, 'model_name', '')}, seed {getattr(spec, 'seed', '')}")
        self.title.setToolTip(str(sound.saved.path))
        self.wave.show_image(sound.waveform)
        self.spectrum.show_image(sound.spectrogram)
        self.heard.setText(f"Heard: {sound.heard} · {sound.sample_rate} Hz · {sound.saved.path.name}")
        self.player.load(sound.samples, sound.sample_rate)
        if sound.steps and self.film_row.count() == 1:
            for i, image in enumerate(sound.steps):
                self.add_step(image, i + 1, len(sound.steps))
        if sound.tokens is not None:
            self.tokens.show_image(sound.tokens)
            self.tokens.setFixedHeight(max(28, sound.tokens.height()))
            self.tokens_label.show()
            self.tokens.show()
        self._enable(True)
        self.opened.emit(str(sound.saved.path))
