"""Sound as pictures (Pillow): the waveform, the spectrogram (a mel spectrogram in a perceptual colour map), and the
gallery's thumbnail of a sound file (both, one over the other)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from studio.core.sound.spectrogram import mel_filters, stft_magnitude

# dark blue → purple → orange → pale yellow: loud is bright, silence is dark
_STOPS = np.array(
    [(8, 8, 30), (60, 15, 110), (170, 40, 110), (245, 120, 40), (252, 240, 170)], dtype=np.float32
)
BACKGROUND = (24, 26, 32)
WAVE = (120, 190, 255)


def colour_map(values: np.ndarray) -> np.ndarray:
    """(…, 3) uint8 colours for values in [0, 1]."""
    v = np.clip(values, 0.0, 1.0) * (len(_STOPS) - 1)
    lo = np.floor(v).astype(int).clip(0, len(_STOPS) - 2)
    t = (v - lo)[..., None]
    return (_STOPS[lo] * (1 - t) + _STOPS[lo + 1] * t).astype(np.uint8)


def spectrogram_picture(
    audio: np.ndarray, sample_rate: int, width: int, height: int, n_mels: int = 80
) -> Image.Image:
    """Low frequencies at the bottom, time left to right, 70 dB of range under the loudest point."""
    n_fft = 1024 if sample_rate >= 16000 else 512
    hop = max(64, len(audio) // max(1, width * 2))
    mag = stft_magnitude(audio, n_fft, hop) if len(audio) else np.zeros((n_fft // 2 + 1, 1), np.float32)
    mel = mel_filters(sample_rate, n_fft, n_mels, 20.0, sample_rate / 2) @ mag
    db = 20 * np.log10(np.maximum(mel, 1e-6))
    scaled = (db - (db.max() - 70.0)) / 70.0
    return picture_of(scaled, width, height)


def picture_of(values: np.ndarray, width: int, height: int) -> Image.Image:
    """(rows, columns) values in [0, 1], row 0 the lowest frequency, as a coloured picture."""
    rgb = colour_map(np.flipud(values))
    return Image.fromarray(rgb, "RGB").resize((width, height), Image.Resampling.BILINEAR)


def waveform_picture(audio: np.ndarray, width: int, height: int, colour: tuple[int, int, int] = WAVE
                     ) -> Image.Image:  # fmt: skip
    """The min/max envelope of the samples, one column a pixel."""
    im = Image.new("RGB", (width, height), BACKGROUND)
    draw = ImageDraw.Draw(im)
    mid = height / 2
    draw.line([(0, mid), (width, mid)], fill=(60, 64, 74))
    if len(audio) == 0:
        return im
    edges = np.linspace(0, len(audio), width + 1).astype(int)
    peak = max(float(np.abs(audio).max()), 1e-6)
    for x in range(width):
        piece = audio[edges[x] : max(edges[x + 1], edges[x] + 1)]
        lo, hi = float(piece.min()) / peak, float(piece.max()) / peak
        draw.line([(x, mid - hi * (mid - 1)), (x, mid - lo * (mid - 1))], fill=colour)
    return im


def sound_thumbnail(path: Path, size: int) -> Image.Image | None:
    """A sound file's gallery cell: the waveform over the spectrogram; None when the file cannot be decoded."""
    from studio.core.sound.audio_files import decode

    decoded = decode(path, max_seconds=60)
    if not isinstance(decoded, tuple):
        return None
    audio, rate = decoded
    im = Image.new("RGB", (size, size), BACKGROUND)
    im.paste(waveform_picture(audio, size, size // 3), (0, 0))
    im.paste(spectrogram_picture(audio, rate, size, size - size // 3), (0, size // 3))
    return im


def token_picture(tokens: tuple[tuple[int, ...], ...], width: int, row_height: int = 14) -> Image.Image:
    """MusicGen's audio tokens: a row a codebook (the first, coarsest, on top), a cell a 20-ms frame, each token id
    its own colour — repeated ids show as runs, the finer codebooks as busier rows."""
    rows, frames = len(tokens), max((len(r) for r in tokens), default=0)
    if not rows or not frames:
        return Image.new("RGB", (width, row_height), BACKGROUND)
    ids = np.zeros((rows, frames), np.int64)
    for i, row in enumerate(tokens):
        ids[i, : len(row)] = row
    golden = (ids * 0.61803398875) % 1.0  # neighbouring ids get far-apart hues
    hue = (golden * 6.0)[..., None]
    rgb = np.clip(np.abs(((hue + np.array([0.0, 4.0, 2.0])) % 6.0) - 3.0) - 1.0, 0.0, 1.0)
    picture = Image.fromarray((40 + rgb * 190).astype(np.uint8), "RGB")
    return picture.resize((width, rows * row_height), Image.Resampling.NEAREST)
