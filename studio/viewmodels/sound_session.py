"""The Sound room's state: the recipe being drafted, the job it asked for and what that job shows — the spectrogram
of each denoising step, then the sound itself (decoded off the GUI thread into its waveform, spectrogram, audio
tokens and what its analysis hears), ready to play."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QImage

from studio.core.jobs.events import Cancelled, Failed, Finished, Loading, Progress
from studio.core.jobs.rooms import Room
from studio.core.models.builtin_models import BUILTIN_SOUND_DIRS
from studio.core.sound.recipe import SOUND, freeze_sound
from studio.core.sound.specs import SavedSound, SoundStep
from studio.viewmodels.background import in_background
from studio.viewmodels.bridge import EventBridge, UiEvent, pil_to_qimage
from studio.viewmodels.job_queue import JobQueue

WAVE_SIZE = (720, 90)
SPECTRUM_SIZE = (720, 160)


@dataclass
class HeardSound:
    """A finished sound, ready for the room: its samples and its pictures."""

    saved: SavedSound
    samples: Any
    sample_rate: int
    waveform: QImage
    spectrogram: QImage
    heard: str  # the analysis in one line
    tokens: QImage | None = None
    steps: list[QImage] = field(default_factory=list)


def hear(saved: SavedSound) -> HeardSound:
    """Decode and draw a saved sound (on a worker thread)."""
    from studio.core.sound.analysis import analyse
    from studio.core.sound.audio_files import decode
    from studio.core.sound.pictures import spectrogram_picture, token_picture, waveform_picture

    decoded = decode(Path(saved.path))
    if not isinstance(decoded, tuple):
        raise ValueError(f"{Path(saved.path).name}: {decoded}")
    samples, rate = decoded
    tokens = pil_to_qimage(token_picture(saved.tokens, WAVE_SIZE[0])) if saved.tokens else None
    return HeardSound(saved, samples, rate, pil_to_qimage(waveform_picture(samples, *WAVE_SIZE)),
                      pil_to_qimage(spectrogram_picture(samples, rate, *SPECTRUM_SIZE)),
                      analyse(samples, rate).describe(), tokens,
                      [pil_to_qimage(p) for p in saved.steps])  # fmt: skip


class SoundSession(QObject):
    changed = Signal(str)
    errorsChanged = Signal(dict)
    status = Signal(str)
    progress = Signal(float)
    stepAdded = Signal(QImage, int, int)  # a denoising step's spectrogram, step, total
    resultReady = Signal(object)  # HeardSound
    busyChanged = Signal(bool)

    def __init__(self, queue: JobQueue, bridge: EventBridge, models_of: Callable[[], list[Path]] = list):
        super().__init__()
        self.queue, self.models_of = queue, models_of
        self._values: dict[str, Any] = {**SOUND.defaults(), "prompt": ""}
        self.job: str | None = None
        self.results: list[HeardSound] = []
        bridge.arrived.connect(self._on_event)

    # -- the draft (the binding's Session) -----------------------------------------------------------------------
    def value(self, name: str) -> Any:
        return self._values.get(name)

    def set(self, name: str, value: Any) -> None:
        if self._values.get(name) != value:
            self._values[name] = value
            self.changed.emit(name)

    def model_choices(self) -> list[tuple[str, str]]:
        """(label, path): the built-in Tones first ("" is it: the engine finds it, or says it is missing), then the
        library's sound models (scanned off the GUI thread; nothing is read here)."""
        builtin = {d.resolve() for d in BUILTIN_SOUND_DIRS}
        return [("Tones (built-in demo)", "")] + [
            (p.name, str(p)) for p in self.models_of() if p.resolve() not in builtin
        ]

    # -- the job -------------------------------------------------------------------------------------------------
    @property
    def busy(self) -> bool:
        return self.job is not None

    def generate(self) -> bool:
        draft = {k: v for k, v in self._values.items() if k != "prompt"}
        spec = freeze_sound(draft, str(self._values.get("prompt") or ""))
        if isinstance(spec, dict):
            self.errorsChanged.emit(spec)
            self.status.emit(next(iter(spec.values())))
            return False
        self.errorsChanged.emit({})
        self.job = self.queue.enqueue(spec, Room.SOUND)
        self.busyChanged.emit(True)
        self.status.emit("Queued…")
        return True

    def stop(self) -> bool:
        if self.job is None:
            return False
        self.queue.cancel(self.job)
        return True

    def _done(self, text: str) -> None:
        self.job = None
        self.busyChanged.emit(False)
        self.status.emit(text)

    def _on_event(self, ui: UiEvent) -> None:
        e = ui.event
        if self.job is None or e.job_id != self.job:
            return
        if isinstance(e, Loading):
            self.status.emit(f"Loading {e.what}…")
        elif isinstance(e, Progress):
            self.progress.emit(e.step / max(1, e.total))
            self.status.emit(f"Step {e.step} of {e.total}")
        elif isinstance(e, SoundStep) and ui.image is not None:
            self.stepAdded.emit(ui.image, e.step, e.total)
        elif isinstance(e, Finished):
            self._done("Done." if e.items else "Done: nothing was made.")
            for saved in e.items:
                self._hear(saved)
        elif isinstance(e, Failed):
            err = e.error
            if err is not None and err.field:
                self.errorsChanged.emit({err.field: err.user_message})
            self._done(err.user_message if err else "The sound could not be made.")
        elif isinstance(e, Cancelled):
            self._done("Stopped.")

    def _hear(self, saved: SavedSound) -> None:
        in_background(self, lambda: hear(saved), self._heard, name="studio-sound-hear",
                      on_error=lambda err: self.status.emit(str(err)))  # fmt: skip

    def _heard(self, sound: HeardSound) -> None:
        self.results.insert(0, sound)
        self.resultReady.emit(sound)

    def open(self, path: Path) -> None:
        """A sound file (the gallery's, or any): decoded off the GUI thread, then shown like a result."""
        from studio.core.sound.audio_files import read_tags
        from studio.core.sound.specs import SoundSpec

        def work() -> HeardSound:
            tags = read_tags(path)
            spec = (getattr(tags, "record", None) or {}).get("spec") or {}
            try:
                recipe = SoundSpec.from_dict(spec)
            except Exception:  # noqa: BLE001 - another tool's file: shown with no recipe
                recipe = SoundSpec(prompt=getattr(tags, "title", "") or path.name)
            return hear(
                SavedSound(path, recipe, getattr(tags, "seconds", 0.0), getattr(tags, "sample_rate", 0), 0.0)
            )

        in_background(
            self, work, self._heard, name="studio-sound-open", on_error=lambda err: self.status.emit(str(err))
        )
