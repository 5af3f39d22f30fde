"""The sound engine: one sound or voice model in memory at a time (loading one frees the image and text models),
jobs run on the device thread like any other, results saved into the gallery with their recipe in their tags."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path
from typing import Any

from studio.core.gallery.gallery_store import GalleryStore
from studio.core.gallery.sound_store import save_sound
from studio.core.jobs.cancel import CancelToken
from studio.core.jobs.errors import ErrorKind, StudioError
from studio.core.jobs.events import Event, ItemSaved, Loading, Progress
from studio.core.models.sound_models import SOUND, SPEECH, builtin_sound_model, sound_model
from studio.core.sound.specs import SavedSound, SoundSpec, SoundStep, SpeakSpec, SpokenPiece

Emit = Callable[[Event], None]


class SoundEngine:
    def __init__(
        self, store: GalleryStore, device: Callable[[], str], make_room: Callable[[], None] = lambda: None
    ):
        self.store, self.device, self.make_room = store, device, make_room
        self._loaded: tuple[str, Any] | None = None

    def clear(self) -> None:
        if self._loaded is not None:
            self._loaded = None
            from studio.engine.devices import free_device_memory

            free_device_memory(self.device())

    def _model(self, path: str, want: str, emit: Emit) -> tuple[Path, str, Any]:
        folder = Path(path).expanduser() if path else builtin_sound_model()
        if folder is None:
            raise StudioError(ErrorKind.MODEL_NOT_FOUND, "No sound model: the built-in Tones is missing from this "
                              "install; give a model folder.", field="model")  # fmt: skip
        found = sound_model(folder) if folder.is_dir() else None
        if found is None or found.kind != want:
            what = "sound (MusicGen, Stable Audio Open)" if want == SOUND else "voice (VITS / MMS-TTS)"
            raise StudioError(ErrorKind.MODEL_NOT_FOUND if not folder.exists() else ErrorKind.INVALID_INPUT,
                              f"{folder} is not a {what} model folder.", field="model")  # fmt: skip
        key = f"{folder.resolve()}|{self.device()}"
        if self._loaded is None or self._loaded[0] != key:
            self.clear()
            self.make_room()
            emit(Loading(what=found.label))
            from studio.engine.pipelines import quiet_libraries

            quiet_libraries()  # no "Loading weights" bars on the user's terminal
            if want == SOUND:
                from studio.engine.sound_models import load_sound_model

                self._loaded = (key, load_sound_model(folder, found.family, self.device()))
            else:
                from studio.engine.speech import load_voice

                self._loaded = (key, load_voice(folder, found.family, self.device()))
        return folder, found.label, self._loaded[1]

    def generate(self, spec: SoundSpec, cancel: CancelToken, emit: Emit) -> list[SavedSound]:
        folder, label, model = self._model(spec.model, SOUND, emit)
        spec = dataclasses.replace(spec, model_name=spec.model_name or _name(folder, label))
        steps: list[Any] = []

        def keep(e: Event) -> None:
            if isinstance(e, SoundStep):
                steps.append(e.picture)
            emit(e)

        made = model.make(spec, cancel, keep)
        cancel.raise_if_cancelled()
        saved = save_sound(
            self.store, made.audio, made.sample_rate, spec, Path(spec.out) if spec.out else None
        )
        emit(ItemSaved(item=saved))  # the gallery shows it at once
        return [dataclasses.replace(saved, steps=tuple(steps), tokens=made.tokens)]

    def speak(self, spec: SpeakSpec, cancel: CancelToken, emit: Emit) -> list[SavedSound]:
        from studio.engine.speech import joined

        if not spec.sentences:
            raise StudioError(ErrorKind.INVALID_INPUT, "There is nothing to read.", field="text")
        folder, label, voice = self._model(spec.model, SPEECH, emit)
        spec = dataclasses.replace(spec, model_name=spec.model_name or _name(folder, label))
        voice.speaker(spec.voice)  # an unknown voice is said before anything is read
        pieces = []
        for i, sentence in enumerate(spec.sentences):
            cancel.raise_if_cancelled()
            audio = voice.say(sentence, spec.voice, spec.speed, spec.seed + i)
            pieces.append(audio)
            emit(SpokenPiece(index=i, audio=audio, sample_rate=voice.sample_rate))
            emit(Progress(step=i + 1, total=len(spec.sentences)))
        items: tuple[Any, ...] = ()
        if spec.keep:
            target = Path(spec.out) if spec.out else None
            items = (
                save_sound(self.store, joined(pieces, voice.sample_rate), voice.sample_rate, spec, target),
            )
            emit(ItemSaved(item=items[0]))
        return list(items)


def _name(folder: Path, label: str) -> str:
    """The model's name in a recipe: the built-in's label, else the folder's name."""
    return label if folder == builtin_sound_model() else folder.name
