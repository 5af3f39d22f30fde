"""Which sound or speech model a folder holds, read from its own JSON files (never its code): the family the
engine runs it with, and a label for the Models room."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from studio.core.io.untrusted import obj, read_json, text
from studio.core.models.builtin_models import BUILTIN_SOUND_DIRS

SOUND, SPEECH = "sound", "speech"
PIPELINES = {  # diffusers pipelines of sound, by class name
    "StableAudioPipeline": ("stable-audio", "Stable Audio Open (diffusers)"),
    "AudioLDM2Pipeline": ("audioldm2", "AudioLDM 2 (diffusers)"),
}
TRANSFORMERS = {  # transformers models of sound and speech, by model_type
    "musicgen": (SOUND, "musicgen", "MusicGen (transformers)"),
    "vits": (SPEECH, "vits", "VITS / MMS text-to-speech (transformers)"),
}


@dataclass(frozen=True)
class SoundModel:
    kind: str  # "sound" | "speech"
    family: str  # "tones" | "stable-audio" | "audioldm2" | "musicgen" | "vits"
    label: str


def sound_model(folder: Path) -> SoundModel | None:
    """What sound or speech model ``folder`` is, or None when it is none (or unreadable)."""
    card = obj(read_json(folder / "studio.json", max_bytes=1 << 20, max_depth=8))
    if card.get("kind") == SOUND and (folder / "spectrogram.json").is_file() and (folder / "unet").is_dir():
        return SoundModel(SOUND, "tones", text(card.get("label")) or "Studio spectrogram diffusion")
    index = obj(read_json(folder / "model_index.json", max_bytes=1 << 20, max_depth=8))
    if (cls := text(index.get("_class_name"))) in PIPELINES:
        family, label = PIPELINES[cls]
        return SoundModel(SOUND, family, label)
    config = obj(read_json(folder / "config.json", max_bytes=4 << 20, max_depth=16))
    model_type = text(config.get("model_type"))
    if model_type in TRANSFORMERS:
        return SoundModel(*TRANSFORMERS[model_type])
    return None


def builtin_sound_model() -> Path | None:
    """The built-in sound model's folder, when this install has it."""
    return next((d for d in BUILTIN_SOUND_DIRS if sound_model(d)), None)
