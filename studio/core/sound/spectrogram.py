"""Spectrograms in numpy: the short-time Fourier transform, mel filters, and the log-mel scale the built-in sound
model paints on (``MelScale``: the same numbers for the workshop that trains it and the engine that plays it)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np


@dataclass(frozen=True)
class MelScale:
    """How a sound becomes a picture: a log-mel spectrogram, ``n_mels`` rows by one column per ``hop`` samples,
    each value mapped from ``[low_db, high_db]`` to ``[-1, 1]``."""

    sample_rate: int = 16000
    n_fft: int = 1024
    hop: int = 256
    n_mels: int = 64
    fmin: float = 30.0
    fmax: float = 8000.0
    low_db: float = -30.0
    high_db: float = 50.0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Any) -> MelScale:
        """From a model's ``spectrogram.json`` (untrusted): unknown keys are ignored; ``ValueError`` when a number is
        missing its sense."""
        if not isinstance(data, dict):
            raise ValueError("spectrogram.json is not an object")
        known = {k: data[k] for k in cls.__dataclass_fields__ if k in data}
        scale = cls(**{k: type(getattr(cls, k))(v) for k, v in known.items()})
        if not (1000 <= scale.sample_rate <= 96000 and 64 <= scale.n_fft <= 8192 and 0 < scale.hop <= scale.n_fft
                and 8 <= scale.n_mels <= 512 and 0 <= scale.fmin < scale.fmax <= scale.sample_rate / 2
                and scale.low_db < scale.high_db):  # fmt: skip
            raise ValueError("spectrogram.json has numbers out of range")
        return scale

    def frames(self, seconds: float, multiple: int = 8) -> int:
        """Columns for ``seconds`` of sound, rounded to a ``multiple`` (what a UNet's downsampling needs)."""
        n = max(multiple, round(seconds * self.sample_rate / self.hop / multiple) * multiple)
        return int(n)

    def filters(self) -> np.ndarray:
        """(n_mels, n_fft // 2 + 1) triangular mel filters, each peaking at 1 (HTK mel scale)."""
        return mel_filters(self.sample_rate, self.n_fft, self.n_mels, self.fmin, self.fmax)

    def encode(self, mel_magnitude: np.ndarray) -> np.ndarray:
        db = 20.0 * np.log10(np.maximum(mel_magnitude, 1e-6))
        return np.clip((db - self.low_db) / (self.high_db - self.low_db) * 2.0 - 1.0, -1.0, 1.0)

    def decode(self, picture: np.ndarray) -> np.ndarray:
        db = (np.clip(picture, -1.0, 1.0) + 1.0) / 2.0 * (self.high_db - self.low_db) + self.low_db
        floor = 10.0 ** (self.low_db / 20.0)  # the picture's black is silence, not the floor's hiss
        return np.asarray(np.maximum(0.0, 10.0 ** (db / 20.0) - floor), dtype=np.float32)

    def picture(self, audio: np.ndarray) -> np.ndarray:
        """(n_mels, frames) in [-1, 1]: the spectrogram the model is trained on."""
        return self.encode(self.filters() @ stft_magnitude(audio, self.n_fft, self.hop))


def hz_to_mel(f: Any) -> Any:
    return 2595.0 * np.log10(1.0 + np.asarray(f) / 700.0)


def mel_to_hz(m: Any) -> Any:
    return 700.0 * (10.0 ** (np.asarray(m) / 2595.0) - 1.0)


def mel_filters(sample_rate: int, n_fft: int, n_mels: int, fmin: float, fmax: float) -> np.ndarray:
    bins = np.linspace(0, sample_rate / 2, n_fft // 2 + 1)
    edges = mel_to_hz(np.linspace(hz_to_mel(fmin), hz_to_mel(fmax), n_mels + 2))
    lower, centre, upper = edges[:-2, None], edges[1:-1, None], edges[2:, None]
    rise = (bins[None] - lower) / np.maximum(centre - lower, 1e-9)
    fall = (upper - bins[None]) / np.maximum(upper - centre, 1e-9)
    return np.maximum(0.0, np.minimum(rise, fall)).astype(np.float32)


def stft_magnitude(audio: np.ndarray, n_fft: int, hop: int) -> np.ndarray:
    """(n_fft // 2 + 1, frames) magnitudes of a Hann-windowed STFT, centred (frames = 1 + len // hop)."""
    x = np.asarray(audio, dtype=np.float32).reshape(-1)
    pad = n_fft // 2
    x = np.pad(x, (pad, pad), mode="reflect" if len(x) > pad else "constant")
    count = 1 + max(0, (len(x) - n_fft) // hop)
    index = np.arange(n_fft)[None, :] + hop * np.arange(count)[:, None]
    frames = x[index] * np.hanning(n_fft + 1)[:-1].astype(np.float32)[None]
    return np.abs(np.fft.rfft(frames, axis=1)).T.astype(np.float32)
