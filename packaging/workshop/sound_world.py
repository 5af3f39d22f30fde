"""The built-in sound model's world: sounds synthesised on the fly (tones, chords, bells, drums, noise), each with
the prompt that describes it.

Words: a kind (tone, chord, bell, drum, noise), a pitch (high, low; none: middle), a tempo for struck sounds
(slow: one strike a second, fast: four; none: two) and a timbre (bright, soft). Every sound is 16 kHz mono,
peak-normalised. ``HELD_OUT`` combinations never appear in training: they score the model.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

import numpy as np

SAMPLE_RATE = 16000
KINDS = ("tone", "chord", "bell", "drum", "noise")
STRUCK = ("bell", "drum")
PITCHES = ("high", "low", "")
TEMPOS = ("slow", "fast", "")
TIMBRES = ("bright", "soft", "")
# (kind, pitch, tempo-or-timbre) never shown together in training
HELD_OUT = (
    ("bell", "low", "fast"),
    ("drum", "high", "slow"),
    ("tone", "high", "soft"),
    ("chord", "low", "bright"),
    ("noise", "high", "soft"),
    ("bell", "high", "slow"),
)
VOCABULARY = sorted({*KINDS, "drums", "bells", *filter(None, PITCHES + TEMPOS + TIMBRES), "a"})
PITCH_HZ = {"low": (70.0, 140.0), "": (240.0, 420.0), "high": (900.0, 1700.0)}
STRIKES_PER_S = {"slow": 1.0, "": 2.0, "fast": 4.0}
BELL_PARTIALS = (1.0, 2.76, 5.40, 8.93)


@dataclass(frozen=True)
class Sound:
    kind: str
    pitch: str = ""
    tempo: str = ""
    timbre: str = ""

    @property
    def prompt(self) -> str:
        """ "a high bell", "a soft low chord", "fast low drums" (many strikes read as a plural)."""
        words = [w for w in (self.third, self.pitch) if w]
        if self.kind in STRUCK and self.tempo == "fast":
            return " ".join([*words, self.kind + "s"])
        return " ".join(["a", *words, self.kind])

    @property
    def third(self) -> str:
        return self.tempo if self.kind in STRUCK else self.timbre

    @property
    def held_out(self) -> bool:
        return any(self.kind == k and self.pitch == p and self.third == t for k, p, t in HELD_OUT)


def random_sound(rng: random.Random) -> Sound:
    kind = rng.choice(KINDS)
    pitch = rng.choice(PITCHES)
    tempo = rng.choice(TEMPOS) if kind in STRUCK else ""
    timbre = rng.choice(TIMBRES) if kind not in ("drum", "noise") or rng.random() < 0.5 else ""
    return Sound(kind, pitch, tempo, timbre)


def training_sound(rng: random.Random) -> Sound:
    while True:
        s = random_sound(rng)
        if not s.held_out:
            return s


def _envelope(n: int, attack: float, release: float) -> np.ndarray:
    t = np.arange(n) / SAMPLE_RATE
    env = np.minimum(1.0, t / max(attack, 1e-4))
    return env * np.minimum(1.0, (n / SAMPLE_RATE - t) / max(release, 1e-4))


def _harmonics(f: float, n: int, bright: float, rng: random.Random) -> np.ndarray:
    t = np.arange(n) / SAMPLE_RATE
    out = np.zeros(n)
    for k in range(1, 9):
        if f * k >= SAMPLE_RATE / 2 - 200:
            break
        out += (1.0 / k ** (2.2 - bright)) * np.sin(2 * np.pi * f * k * t + rng.random() * 6.28)
    return out


def _strike_times(sound: Sound, seconds: float, rng: random.Random) -> list[float]:
    period = 1.0 / STRIKES_PER_S[sound.tempo]
    start = rng.uniform(0.0, min(0.25, period * 0.5))
    return [start + i * period for i in range(int((seconds - start) / period) + 1)]


def _struck(sound: Sound, n: int, f: float, bright: float, rng: random.Random) -> np.ndarray:
    out = np.zeros(n)
    for when in _strike_times(sound, n / SAMPLE_RATE, rng):
        i = int(when * SAMPLE_RATE)
        m = n - i
        t = np.arange(m) / SAMPLE_RATE
        if sound.kind == "bell":
            hit = sum((0.9**j) * (0.6 + 0.5 * bright) ** j * np.exp(-t * (2.5 + 3 * j))
                      * np.sin(2 * np.pi * f * r * t) for j, r in enumerate(BELL_PARTIALS)
                      if f * r < SAMPLE_RATE / 2 - 200)  # fmt: skip
        else:  # a drum: a falling pitch and a short burst of noise
            sweep = f * (1 + 1.5 * np.exp(-t * 40))
            phase = 2 * np.pi * np.cumsum(sweep) / SAMPLE_RATE
            body = np.sin(phase) * np.exp(-t * (9 + f / 120))
            noise = np.random.default_rng(rng.randrange(2**31)).standard_normal(m) * np.exp(-t * 60)
            hit = body + (0.15 + 0.25 * bright) * noise * (f / 400) ** 0.5
        out[i:] += np.asarray(hit)[:m] * rng.uniform(0.8, 1.0)
    return out


def _noise(sound: Sound, n: int, rng: random.Random) -> np.ndarray:
    white = np.random.default_rng(rng.randrange(2**31)).standard_normal(n)
    spectrum = np.fft.rfft(white)
    freqs = np.fft.rfftfreq(n, 1 / SAMPLE_RATE)
    centre = {"low": rng.uniform(120, 300), "": rng.uniform(700, 1400), "high": rng.uniform(3500, 5500)}[
        sound.pitch
    ]
    width = centre * (0.9 if sound.timbre != "soft" else 0.5)
    shape = np.exp(-0.5 * ((freqs - centre) / width) ** 2)
    wobble = 1 + 0.3 * np.sin(2 * np.pi * rng.uniform(0.2, 1.0) * np.arange(n) / SAMPLE_RATE)
    return np.fft.irfft(spectrum * shape, n) * wobble


def render(sound: Sound, seconds: float = 2.048, rng: random.Random | None = None) -> np.ndarray:
    """The sound as float32 samples in [-0.9, 0.9]."""
    rng = rng or random.Random(0)
    n = int(seconds * SAMPLE_RATE)
    lo, hi = PITCH_HZ[sound.pitch]
    f = float(np.exp(rng.uniform(np.log(lo), np.log(hi))))
    bright = {"bright": 1.0, "soft": 0.0, "": 0.5}[sound.timbre]
    if sound.kind == "tone":
        audio = _harmonics(f, n, bright, rng) * _envelope(n, 0.05, 0.1)
    elif sound.kind == "chord":
        audio = sum(_harmonics(f * r, n, bright, rng) for r in (1.0, 1.26, 1.5)) * _envelope(n, 0.08, 0.15)
    elif sound.kind in STRUCK:
        audio = _struck(sound, n, f, bright, rng)
    else:
        audio = _noise(sound, n, rng) * _envelope(n, 0.2, 0.2)
    audio = np.asarray(audio, dtype=np.float64)
    peak = float(np.abs(audio).max()) or 1.0
    return (audio / peak * rng.uniform(0.5, 0.9)).astype(np.float32)
