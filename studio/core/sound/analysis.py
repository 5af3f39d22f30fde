"""What can be read from a sound itself: its spectral centroid (how bright or high it is), its pitch (the
strongest harmonic series), its onset rate (strikes a second) and its loudness — what the Sound room shows
under a result and what the built-in model is scored by."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from studio.core.sound.spectrogram import stft_magnitude

N_FFT, HOP = 2048, 256


@dataclass(frozen=True)
class Analysis:
    seconds: float
    centroid_hz: float
    pitch_hz: float  # 0 when no pitch stands out (noise, silence)
    onsets_per_s: float
    loudness_db: float  # RMS, dB full scale

    def describe(self) -> str:
        pitch = f" · pitch ≈ {self.pitch_hz:.0f} Hz" if self.pitch_hz else ""
        return (f"{self.seconds:.1f} s · brightness (spectral centroid) {self.centroid_hz:.0f} Hz{pitch} · "
                f"{self.onsets_per_s:.1f} onsets/s · {self.loudness_db:.0f} dBFS")  # fmt: skip


def spectral_centroid(audio: np.ndarray, sample_rate: int) -> float:
    """The energy-weighted mean frequency, in Hz, over the whole sound (0 for silence)."""
    mag = stft_magnitude(audio, N_FFT, HOP) ** 2
    freqs = np.linspace(0, sample_rate / 2, mag.shape[0])[:, None]
    total = float(mag.sum())
    return float((freqs * mag).sum() / total) if total > 1e-9 else 0.0


def pitch(audio: np.ndarray, sample_rate: int, fmin: float = 50.0, fmax: float = 2000.0) -> float:
    """The fundamental of the loudest stretch by harmonic summation over the mean spectrum (0 when flat)."""
    mag = stft_magnitude(audio, N_FFT, HOP).mean(axis=1)
    if mag.max() <= 1e-6:
        return 0.0
    freqs = np.linspace(0, sample_rate / 2, len(mag))
    candidates = freqs[(freqs >= fmin) & (freqs <= fmax)]
    best, best_score = 0.0, 0.0
    for f0 in candidates:
        harmonics = f0 * np.arange(1, 6)
        idx = np.round(harmonics / freqs[1]).astype(int)
        idx = idx[idx < len(mag)]
        score = float((mag[idx] * (0.8 ** np.arange(len(idx)))).sum())
        if score > best_score:
            best, best_score = float(f0), score
    flatness = float(np.exp(np.mean(np.log(mag + 1e-9))) / (mag.mean() + 1e-9))
    return best if flatness < 0.3 else 0.0


def onset_rate(audio: np.ndarray, sample_rate: int) -> float:
    """Onsets a second: peaks of the positive spectral flux above an adaptive threshold, at least 80 ms apart."""
    mag = np.log1p(stft_magnitude(audio, 1024, HOP))
    if mag.shape[1] < 3:
        return 0.0
    flux = np.maximum(0.0, np.diff(mag, axis=1)).sum(axis=0)
    if flux.max() <= 1e-6:
        return 0.0
    flux = flux / flux.max()
    window = max(1, int(0.5 * sample_rate / HOP))
    local = np.array([np.median(flux[max(0, i - window) : i + window]) for i in range(len(flux))])
    gap = max(1, int(0.08 * sample_rate / HOP))
    peaks, last = 0, -gap
    for i in range(1, len(flux) - 1):
        if flux[i] > local[i] + 0.2 and flux[i] >= flux[i - 1] and flux[i] >= flux[i + 1] and i - last >= gap:
            peaks, last = peaks + 1, i
    return peaks / (len(audio) / sample_rate)


def analyse(audio: np.ndarray, sample_rate: int) -> Analysis:
    x = np.asarray(audio, dtype=np.float32).reshape(-1)
    rms = float(np.sqrt(np.mean(x**2))) if x.size else 0.0
    return Analysis(len(x) / sample_rate, spectral_centroid(x, sample_rate), pitch(x, sample_rate),
                    onset_rate(x, sample_rate), 20 * np.log10(max(rms, 1e-9)))  # fmt: skip
