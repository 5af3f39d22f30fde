"""Playing a sound: play, stop, loop, where it is — through miniaudio (its C library ships in its wheel), on the
system's default output; ``STUDIO_AUDIO=null`` plays into miniaudio's null device (the tests, a machine with no
sound card still shows what would play)."""

from __future__ import annotations

import os
import threading
from typing import Any

import numpy as np
from PySide6.QtCore import QObject, QTimer, Signal

CHUNK = 1024  # frames handed to the device at a time


class SoundPlayer(QObject):
    playingChanged = Signal(bool)
    positionChanged = Signal(float)  # 0..1 of the sound
    unavailable = Signal(str)  # why nothing can play here

    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        self.loop = False
        self._pcm = np.zeros((0, 1), np.int16)
        self._rate = 16000
        self._at = 0  # frames handed to the device so far (wraps when looping)
        self._device: Any = None
        self._lock = threading.Lock()
        self._timer = QTimer(self, interval=50)
        self._timer.timeout.connect(self._tick)

    @property
    def playing(self) -> bool:
        return self._device is not None

    @property
    def seconds(self) -> float:
        return len(self._pcm) / self._rate if self._rate else 0.0

    def load(self, samples: Any, sample_rate: int) -> None:
        """A new sound (float samples, mono or (frames, channels)); what played stops."""
        self.stop()
        data = np.asarray(samples, dtype=np.float32)
        data = data[:, None] if data.ndim == 1 else data
        self._pcm = (np.clip(data, -1.0, 1.0) * 32767).astype(np.int16)
        self._rate, self._at = int(sample_rate), 0
        self.positionChanged.emit(0.0)

    def _frames(self) -> Any:
        """miniaudio's generator: CHUNK frames at a time; silence once the sound is done (the timer stops it)."""
        wanted = yield b""
        while True:
            with self._lock:
                n = min(wanted or CHUNK, CHUNK)
                piece = self._pcm[self._at : self._at + n]
                self._at += len(piece)
                if self.loop and self._at >= len(self._pcm) and len(self._pcm):
                    self._at = 0
            wanted = yield (
                piece.tobytes() if len(piece) else np.zeros((n, self._pcm.shape[1]), np.int16).tobytes()
            )

    def play(self) -> bool:
        if not len(self._pcm):
            return False
        self.stop()
        import miniaudio

        backends = [miniaudio.Backend.NULL] if os.environ.get("STUDIO_AUDIO") == "null" else None
        try:
            device = miniaudio.PlaybackDevice(output_format=miniaudio.SampleFormat.SIGNED16,
                                              nchannels=self._pcm.shape[1], sample_rate=self._rate,
                                              backends=backends)  # fmt: skip
            frames = self._frames()
            next(frames)
            device.start(frames)
        except Exception as e:  # noqa: BLE001 - miniaudio says "failed to init device" in several ways
            self.unavailable.emit(f"No sound output could be opened here ({e}); the sound is saved — open its file in "
                                  "another player.")  # fmt: skip
            return False
        with self._lock:
            self._at = 0 if self._at >= len(self._pcm) else self._at
        self._device = device
        self._timer.start()
        self.playingChanged.emit(True)
        return True

    def stop(self) -> None:
        device, self._device = self._device, None
        if device is not None:
            device.close()
            self._timer.stop()
            with self._lock:
                self._at = 0
            self.positionChanged.emit(0.0)
            self.playingChanged.emit(False)

    def _tick(self) -> None:
        with self._lock:
            at, total = self._at, len(self._pcm)
        self.positionChanged.emit(at / total if total else 0.0)
        if at >= total and not self.loop:
            self.stop()
