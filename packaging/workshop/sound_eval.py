"""Score the built-in sound model on held-out prompts by listening to what it makes — an analysis of the audio,
not a model:

- **pitch words** ("high"/"low"): the spectral centroid falls on the right side of the line between that kind's
  rendered high and low sounds;
- **tempo words** ("slow"/"fast", struck sounds): the onset rate is nearer 1 or 4 strikes a second;
- **kind** (tone, chord, bell, drum, noise): the nearest kind, by a few analysis features (flatness, onset rate,
  how fast the sound decays, how many spectral peaks), to rendered examples of each kind;

the lines and examples are rendered sounds carried through the model's own representation (log-mel picture, then
Griffin-Lim): what a perfect model would make, so the evaluator does not count the vocoder's hiss against it;
- **bell over drum**: "a high bell" has a higher centroid than "a low drum" with the same seed.

    python -m workshop.sound_eval score --model resources/models/tones [--seeds 4]
    python -m workshop.sound_eval check        # the evaluator on rendered ground truth
"""

from __future__ import annotations

import argparse
import json
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from studio.core.sound.analysis import onset_rate, spectral_centroid
from studio.core.sound.spectrogram import stft_magnitude
from workshop.sound_world import HELD_OUT, KINDS, SAMPLE_RATE, STRUCK, Sound, render


def features(audio: np.ndarray, rate: int = SAMPLE_RATE) -> np.ndarray:
    mag = stft_magnitude(audio, 1024, 256)
    power = (mag**2).sum(axis=0) + 1e-12
    flat = np.exp(np.log(mag + 1e-9).mean(axis=0)) / (mag.mean(axis=0) + 1e-9)
    loud = power > power.max() * 1e-3
    spectrum = mag.mean(axis=1)
    peaks = np.sum((spectrum[1:-1] > spectrum[:-2]) & (spectrum[1:-1] > spectrum[2:])
                   & (spectrum[1:-1] > spectrum.max() * 0.2))  # fmt: skip
    db = 10 * np.log10(power / power.max())
    return np.array([float(np.median(flat[loud])) if loud.any() else 1.0, onset_rate(audio, rate),
                     float(np.median(db)), float(np.mean(db > -10)), float(np.log1p(peaks))])  # fmt: skip


@dataclass
class Judge:
    """Lines and class centres fitted on rendered sounds (the evaluator's ground truth)."""

    pitch_line: dict[str, float]
    centres: dict[str, np.ndarray]
    scale: np.ndarray

    @classmethod
    def fit(cls, per_class: int = 24, seed: int = 7) -> Judge:
        """Fitted on rendered sounds as the model's representation carries them: a render's log-mel picture turned
        back into sound by the same Griffin-Lim (what a perfect model would make)."""
        rng = random.Random(seed)
        lines, rows = {}, {}
        for kind in KINDS:
            cent = {p: [spectral_centroid(heard(Sound(kind, p), rng), SAMPLE_RATE) for _ in range(max(3, per_class // 3))]
                    for p in ("high", "low")}  # fmt: skip
            lines[kind] = float(np.sqrt(np.median(cent["high"]) * np.median(cent["low"])))
            rows[kind] = np.stack([features(heard(Sound(kind, rng.choice(("high", "low", ""))), rng))
                                   for _ in range(per_class)])  # fmt: skip
        everything = np.concatenate(list(rows.values()))
        scale = everything.std(axis=0) + 1e-6
        return cls(lines, {k: (v / scale).mean(axis=0) for k, v in rows.items()}, scale)

    def kind(self, audio: np.ndarray) -> str:
        f = features(audio) / self.scale
        return min(self.centres, key=lambda k: float(np.sum((self.centres[k] - f) ** 2)))

    def pitch(self, audio: np.ndarray, kind: str) -> str:
        return "high" if spectral_centroid(audio, SAMPLE_RATE) > self.pitch_line[kind] else "low"

    @staticmethod
    def tempo(audio: np.ndarray) -> str:
        return "fast" if onset_rate(audio, SAMPLE_RATE) > 2.0 else "slow"

    def score(self, sound: Sound, audio: np.ndarray) -> dict[str, bool]:
        out = {"kind": self.kind(audio) == sound.kind}
        if sound.pitch:
            out["pitch"] = self.pitch(audio, sound.kind) == sound.pitch
        if sound.kind in STRUCK and sound.tempo:
            out["tempo"] = self.tempo(audio) == sound.tempo
        return out


def heard(sound: Sound, rng: random.Random) -> np.ndarray:
    """A render, through the model's log-mel picture and Griffin-Lim: the sound a perfect model would make."""
    from studio.engine.sound_spectrogram import griffin_lim
    from workshop.sound_model import FRAMES, SCALE

    return griffin_lim(SCALE.picture(render(sound, rng=rng))[:, :FRAMES], SCALE, rng.randrange(2**31))


def seen_sounds() -> list[Sound]:
    """Two-word prompts ("a high bell", "a low drum", …) of combinations training showed, for comparison."""
    return [Sound(kind, pitch) for kind in KINDS for pitch in ("high", "low")]


def held_out_sounds() -> list[Sound]:
    return [Sound(k, p, t if k in STRUCK else "", "" if k in STRUCK else t) for k, p, t in HELD_OUT]


def tally(results: list[dict[str, bool]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key in ("kind", "pitch", "tempo"):
        marks = [r[key] for r in results if key in r]
        out[key] = f"{100 * sum(marks) / len(marks):.1f} % of {len(marks)}" if marks else "—"
    return out


def check(seeds: int = 8, per_class: int = 24) -> dict[str, Any]:
    judge, rng = Judge.fit(per_class), random.Random(99)
    return tally([judge.score(s, heard(s, rng)) for s in held_out_sounds() for _ in range(seeds)])


def score(model: Path, seeds: int = 4, steps: int = 20, guidance: float = 3.0) -> dict[str, Any]:
    from studio.core.jobs.cancel import CancelToken
    from studio.engine.sound_spectrogram import Tones

    tones, judge = Tones.load(model, "cpu"), Judge.fit()

    def make(prompt: str, seed: int) -> np.ndarray:
        frames = tones.scale.frames(2.0)
        picture = tones.paint(prompt, "", frames, steps, guidance, seed, CancelToken(), lambda i, x: None)
        return tones.to_audio(picture, seed)

    held_out = [judge.score(s, make(s.prompt, 1000 + i)) for s in held_out_sounds() for i in range(seeds)]
    seen = [judge.score(s, make(s.prompt, 1000 + i)) for s in seen_sounds() for i in range(seeds)]
    bell_over_drum = [spectral_centroid(make("a high bell", 2000 + i), SAMPLE_RATE)
                      > spectral_centroid(make("a low drum", 2000 + i), SAMPLE_RATE) for i in range(seeds * 2)]  # fmt: skip
    return {"held out": tally(held_out), "seen (two words)": tally(seen),
            "bell over drum": f"{sum(bell_over_drum)} of {len(bell_over_drum)} seeds",
            "held-out prompts": [s.prompt for s in held_out_sounds()]}  # fmt: skip


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("stage", choices=["score", "check"])
    p.add_argument("--model", type=Path, default=Path("resources/models/tones"))
    p.add_argument("--seeds", type=int, default=4)
    a = p.parse_args(argv)
    print(json.dumps(check() if a.stage == "check" else score(a.model, a.seeds), indent=2))


if __name__ == "__main__":
    main()
