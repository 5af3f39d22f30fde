"""A sound job (music, effects, ambience from a prompt) and a speech job (text read aloud), declared once as
frozen specs whose knobs are the recipe's fields; what such a job reports and makes."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from studio.core.io.dataclass_io import from_dict
from studio.core.jobs import MAX_SEED, RANDOM_SEED, JobKind
from studio.core.jobs.events import Event
from studio.core.jobs.fields import derived, knob

SPEC_VERSION = 1
FORMATS = ("flac", "ogg", "wav")
MAX_SECONDS = 47.0  # Stable Audio Open's longest; MusicGen's is 30 (the engine says so when asked for more)


@dataclass(frozen=True)
class SoundSpec:
    kind: ClassVar[JobKind] = JobKind.SOUND
    # fmt: off
    prompt: str = derived(None, "the sound to make", default="")
    negative_prompt: str = knob("", label="Negative prompt", help="What the sound should not be (diffusion "
        "models).", metavar="TEXT")
    model: str = knob("", custom=True, label="Model", help="A sound model folder: MusicGen, Stable Audio Open or "
        "Studio's own (default: the built-in Tones).", metavar="PATH")
    seconds: float = knob(2.0, label="Length", help="How long the sound is.", minimum=0.5, maximum=MAX_SECONDS,
        step=0.5, decimals=1, unit="s")
    steps: int = knob(20, label="Steps", help="Denoising steps (diffusion models; MusicGen writes a token every "
        "20 ms instead).", minimum=1, maximum=200)
    guidance: float = knob(3.0, label="Guidance", help="How closely the sound follows the prompt "
        "(classifier-free guidance; 1: off).", minimum=1.0, maximum=15.0, step=0.5, decimals=1, cli="--guidance")
    seed: int = knob(0, draft=RANDOM_SEED, label="Seed", help="The same seed, prompt and model make the same "
        "sound; −1 draws a new one.", minimum=RANDOM_SEED, maximum=MAX_SEED, special=((RANDOM_SEED, "random"),))
    format: str = knob("flac", label="File type", help="FLAC (lossless), OGG Vorbis (small) or WAV; the recipe is "
        "kept in the file's own tags.", choices=FORMATS)
    explain: bool = knob(False, label="Keep the steps", help="Keep what the model made at each step: the "
        "spectrogram of every denoising step, or MusicGen's audio tokens.", cli="--explain")
    out: str = derived(None, "where the file goes (default: the gallery)", default="")
    model_name: str = derived(None, "the model's name, for the gallery", default="")
    spec_version: int = derived(None, "the spec's version", default=SPEC_VERSION)
    # fmt: on

    def to_dict(self) -> dict[str, Any]:
        return {"kind": str(self.kind), **dataclasses.asdict(self)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SoundSpec:
        """From a saved recipe (untrusted): ``ShapeError`` names the field that does not fit."""
        known = {f.name for f in dataclasses.fields(cls)}
        return from_dict(cls, {k: v for k, v in data.items() if k in known}, "sound recipe")

    def for_file(self) -> SoundSpec:
        """The recipe a file keeps: not where it was written, nor whether its steps were watched."""
        return dataclasses.replace(self, explain=False, out="")


@dataclass(frozen=True)
class SpeakSpec:
    """Text read aloud by a text-to-speech model, one sentence after another (``sentences``), each reported as it
    is made (``SpokenPiece``); ``keep`` saves the whole as one file in the gallery (or ``out``)."""

    kind: ClassVar[JobKind] = JobKind.SPEAK
    # fmt: off
    model: str = knob("", label="Voice model", help="A text-to-speech model folder (VITS / MMS-TTS, SpeechT5) "
        "(default: the library's first).", metavar="PATH")
    voice: str = knob("", label="Voice", help="The speaker, where the model has several (a number or a name).",
        metavar="VOICE")
    speed: float = knob(1.0, label="Speed", help="Speaking rate (1: the model's own).", minimum=0.5, maximum=2.0,
        step=0.05, decimals=2)
    seed: int = knob(0, draft=RANDOM_SEED, label="Seed", help="The same seed reads the same way; −1 draws a new "
        "one.", minimum=RANDOM_SEED, maximum=MAX_SEED, special=((RANDOM_SEED, "random"),))
    format: str = knob("flac", label="File type", help="FLAC, OGG Vorbis or WAV.", choices=FORMATS)
    sentences: tuple[str, ...] = derived(None, "the text, a sentence a piece", default=())
    keep: bool = derived(None, "save the whole reading as one file", default=True)
    out: str = derived(None, "where the file goes (default: the gallery)", default="")
    album: str = derived(None, "the story an exported chapter belongs to (its file's ALBUM tag)", default="")
    track: int = derived(None, "the chapter's number (its file's TRACKNUMBER tag; 0: none)", default=0)
    model_name: str = derived(None, "the model's name", default="")
    spec_version: int = derived(None, "the spec's version", default=SPEC_VERSION)
    # fmt: on

    @property
    def text(self) -> str:
        return " ".join(self.sentences)

    def to_dict(self) -> dict[str, Any]:
        return {"kind": str(self.kind), **dataclasses.asdict(self)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SpeakSpec:
        known = {f.name for f in dataclasses.fields(cls)}
        return from_dict(cls, {k: v for k, v in data.items() if k in known}, "speech recipe")


@dataclass(frozen=True)
class SavedSound:
    """A sound on disk, with its recipe; ``steps`` (spectrogram pictures, one per denoising step) and ``tokens``
    (MusicGen's codebooks × frames) when the job was asked to keep them."""

    path: Path
    spec: Any  # SoundSpec or SpeakSpec
    seconds: float
    sample_rate: int
    created: float
    steps: tuple[Any, ...] = ()
    tokens: tuple[tuple[int, ...], ...] = ()


@dataclass(frozen=True)
class SpokenPiece(Event):
    """One sentence of a reading, ready to play: ``index`` into the spec's sentences."""

    index: int = 0
    audio: Any = None  # float32 numpy samples
    sample_rate: int = 0


@dataclass(frozen=True)
class SoundStep(Event):
    """The spectrogram a diffusion sound model holds after ``step`` of ``total`` (a PIL picture)."""

    step: int = 0
    total: int = 0
    picture: Any = None
