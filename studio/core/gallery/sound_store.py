"""Sounds in the gallery: written whole (FLAC, OGG Vorbis or WAV, the recipe in the file's own tags) beside the
pictures, indexed in the same table — a row with no size, its source ``sound`` — so that search, stars, boards and
the trash treat them like any result. Any tool's sound file dropped into the gallery is indexed from its tags."""

from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from studio.core.gallery.gallery_rows import INSERT_ROW
from studio.core.gallery.gallery_store import GalleryStore
from studio.core.gallery.sound_rows import sound_row
from studio.core.io.atomic import atomic_write_bytes
from studio.core.jobs.errors import ErrorKind, StudioError
from studio.core.sound.audio_files import encode, read_tags
from studio.core.sound.specs import SavedSound, SoundSpec, SpeakSpec


def one_line(spec: SoundSpec | SpeakSpec, model: str) -> str:
    """The recipe as a player's comment field shows it."""
    if isinstance(spec, SpeakSpec):
        return (f"{spec.text[:300]}\nVoice model: {model}, Voice: {spec.voice or 'default'}, Speed: {spec.speed}, "
                f"Seed: {spec.seed}")  # fmt: skip
    negative = f"\nNegative prompt: {spec.negative_prompt}" if spec.negative_prompt else ""
    return (f"{spec.prompt}{negative}\nSteps: {spec.steps}, Guidance: {spec.guidance}, Seed: {spec.seed}, "
            f"Length: {spec.seconds} s, Model: {model}")  # fmt: skip


def write_sound(audio: Any, sample_rate: int, spec: SoundSpec | SpeakSpec, target: Path,
                extra: dict[str, str] | None = None) -> None:  # fmt: skip
    """The file, whole or not at all, with its recipe in its tags; ``StudioError`` (IO) when the disk says no."""
    record = {"spec": spec.to_dict(), "software": "Studio"}
    title = spec.prompt if isinstance(spec, SoundSpec) else spec.text
    try:
        data = encode(audio, sample_rate, spec.format, record, title, one_line(spec, spec.model_name), extra)
        atomic_write_bytes(target, data)
    except OSError as e:
        raise StudioError(ErrorKind.IO, f"Could not save the sound to {target.parent}: {e.strerror or e}. Free some "
                          "disk space or choose another folder; nothing already saved was touched.",
                          details=repr(e)) from e  # fmt: skip


def save_sound(store: GalleryStore, audio: Any, sample_rate: int, spec: SoundSpec | SpeakSpec,
               target: Path | None = None) -> SavedSound:  # fmt: skip
    """Write one sound into the gallery (or ``target``) and index it."""
    target = target or store.new_path(spec.seed, "." + spec.format)
    chapter = None
    if isinstance(spec, SpeakSpec) and spec.track:
        chapter = {"ALBUM": spec.album, "TRACKNUMBER": str(spec.track)}
    kept = spec.for_file() if isinstance(spec, SoundSpec) else replace(spec, out="")
    write_sound(audio, sample_rate, kept, target, chapter)
    created = time.time()
    if store.root.resolve() in target.resolve().parents:
        values = sound_row(store.rel(target), target, target.stat(), read_tags(target))
        with store.transaction() as db:
            db.execute("DELETE FROM images WHERE rel=?", (values[0],))
            db.execute(INSERT_ROW, values)
    seconds = (len(audio) / sample_rate) if sample_rate else 0.0
    return SavedSound(target, spec, seconds, sample_rate, created)
