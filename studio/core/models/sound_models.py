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


def memory_words(size_on_disk: int, family: str, free: int | None, where: str) -> str:
    """What loading a sound or voice model takes, before it is loaded: its weights at full precision (Studio's own
    Tones keeps its UNet in fp16 on disk) and a working margin for the longest sound (latents, the KV cache of
    MusicGen's tokens, Griffin-Lim's spectrogram), against the free memory of ``where``."""
    weights = size_on_disk * (2 if family == "tones" else 1)
    need = int(weights * 1.25 + 256 * 2**20)
    words = f"Memory: about {need / 2**30:.1f} GB to load and run (weights {weights / 2**30:.2f} GB)"
    if free is None:
        return words + "."
    verdict = "fits" if need <= free else "does not fit"
    return f"{words}; {verdict} in the {free / 2**30:.1f} GB free on {where}."


def speakers(folder: Path) -> int:
    """How many voices a VITS model has (``num_speakers`` in its config; 1 when it does not say)."""
    count = obj(read_json(folder / "config.json", max_bytes=4 << 20, max_depth=16)).get("num_speakers")
    return count if isinstance(count, int) and 1 <= count <= 10_000 else 1
