"""Text read aloud by the text-to-speech models transformers carries (VITS, as Meta's MMS-TTS voices are): one
sentence at a time, each handed on as soon as it is made, so reading starts after the first sentence."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from studio.core.jobs.errors import ErrorKind, StudioError

PAUSE_S = 0.25  # silence between two sentences of a reading


class Vits:
    def __init__(self, folder: Path, device: str):
        from transformers import AutoTokenizer, VitsModel

        try:
            self.tokenizer = AutoTokenizer.from_pretrained(folder)
            self.model = VitsModel.from_pretrained(folder, use_safetensors=True).to(device).eval()  # type: ignore[arg-type]  # transformers types .to oddly
        except (
            ImportError
        ) as e:  # a voice that reads phonemes needs phonemizer and espeak-ng, which Studio lacks
            raise StudioError(ErrorKind.MODEL_INVALID, f"{folder.name} reads phonemes, which needs the phonemizer "
                              "library and espeak-ng; Studio reads voices that take letters (MMS-TTS languages "
                              "with phonemize: false, such as English).", field="model", details=str(e)) from e  # fmt: skip
        except (OSError, ValueError, KeyError, TypeError) as e:
            raise StudioError(ErrorKind.MODEL_INVALID, f"{folder.name} could not be loaded as a voice: {e}",
                              field="model") from e  # fmt: skip
        self.device = device
        self.sample_rate = int(self.model.config.sampling_rate)

    def voices(self) -> list[str]:
        """The speakers' names: numbers, as multi-speaker VITS models number them ([] for one voice)."""
        count = int(getattr(self.model.config, "num_speakers", 1) or 1)
        return [str(i) for i in range(count)] if count > 1 else []

    def speaker(self, voice: str) -> int | None:
        voices = self.voices()
        if not voice:
            return 0 if voices else None
        if voice not in voices:
            having = f"its voices are 0–{len(voices) - 1}" if voices else "it has one voice"
            raise StudioError(
                ErrorKind.INVALID_INPUT, f"This model has no voice {voice!r}: {having}.", field="voice"
            )
        return int(voice)

    def say(self, text: str, voice: str, speed: float, seed: int) -> np.ndarray:
        import torch

        inputs = self.tokenizer(text, return_tensors="pt").to(self.device)
        if inputs["input_ids"].shape[-1] == 0:
            return np.zeros(0, np.float32)
        self.model.speaking_rate = speed
        torch.manual_seed(seed % 2**63)
        with torch.inference_mode():
            out = self.model(**inputs, speaker_id=self.speaker(voice)).waveform
        return out[0].float().cpu().numpy()


def load_voice(folder: Path, family: str, device: str) -> Any:
    if family == "vits":
        return Vits(folder, device)
    raise StudioError(
        ErrorKind.MODEL_INVALID, f"{folder.name} is not a voice model Studio can run.", field="model"
    )


def joined(pieces: list[np.ndarray], sample_rate: int) -> np.ndarray:
    """The sentences one after another, a short pause between them."""
    pause = np.zeros(int(PAUSE_S * sample_rate), np.float32)
    out: list[np.ndarray] = []
    for piece in pieces:
        out += [piece.astype(np.float32), pause] if len(piece) else []
    return np.concatenate(out[:-1]) if out else np.zeros(0, np.float32)
