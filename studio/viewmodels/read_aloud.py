"""The Writer's *Read aloud*: the selection or the whole story, sentence by sentence — each sentence played as soon
as the voice has made it, its place in the text told so the editor can light it up — and *Export reading*: the
story as audio files, a chapter a track.

A reading belongs to the document it was asked in: switching documents stops it (nothing is read over, or lit up
in, another story)."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, Signal

from studio.core.jobs.events import Cancelled, Failed, Finished
from studio.core.jobs.rooms import Room
from studio.core.sound.reading import Sentence, chapters, sentences
from studio.core.sound.recipe import freeze_speech
from studio.viewmodels.background import in_background
from studio.viewmodels.bridge import EventBridge, UiEvent
from studio.viewmodels.job_queue import JobQueue
from studio.viewmodels.sound_player import SoundPlayer


class ReadAloud(QObject):
    speaking = Signal(int, int)  # the sentence being heard: start, end in the document (-1, -1: none)
    said = Signal(str)  # a sentence for the status line
    busyChanged = Signal(bool)
    speakersKnown = Signal(str, int)  # a voice model and how many speakers it has (read off the GUI thread)

    def __init__(self, queue: JobQueue, bridge: EventBridge, voices: Callable[[], list[Path]],
                 player: SoundPlayer | None = None):  # fmt: skip
        super().__init__()
        self.queue, self.voices = queue, voices
        self.player = player or SoundPlayer(self)
        self.player.playingChanged.connect(self._played)
        self.player.unavailable.connect(self.said.emit)
        self.voice, self.voice_name, self.speed = "", "", 1.0
        self.job: str | None = None
        self.exports: list[str] = []
        self._spans: list[Sentence] = []
        self._ready: list[tuple[int, Any, int]] = []  # (index, samples, rate) made and not yet heard
        self._heard = -1
        self.owner: Any = None  # the document the reading belongs to
        bridge.arrived.connect(self._on_event)

    def choose_voice(self, voice: str) -> None:
        """Read with ``voice`` (a model folder); its speakers are read from its config off the GUI thread."""
        from studio.core.models.sound_models import speakers

        self.voice, self.voice_name = voice, ""
        if not voice:
            self.speakersKnown.emit(voice, 1)
            return
        in_background(self, lambda: speakers(Path(voice)), lambda count: self.speakersKnown.emit(voice, count),
                      name="studio-voice-speakers")  # fmt: skip

    def _draft(self) -> dict[str, Any]:
        return {"model": self.voice, "voice": self.voice_name, "speed": self.speed}

    @property
    def busy(self) -> bool:
        return self.job is not None or self.player.playing or bool(self._ready)

    def read(self, text: str, offset: int = 0, owner: Any = None) -> bool:
        """Read ``text`` (which starts at ``offset`` in the document ``owner``)."""
        self.stop()
        if not self.voice:
            self.said.emit("No voice model: get “MMS-TTS English (VITS)” in the Models room.")
            return False
        spec = freeze_speech(self._draft(), text, keep=False)
        if isinstance(spec, dict):
            self.said.emit(next(iter(spec.values())))
            return False
        self._spans = [s for s in sentences(text, offset) if s.spoken]
        self.owner, self._heard = owner, -1
        self.job = self.queue.enqueue(spec, Room.WRITER)
        self.busyChanged.emit(True)
        self.said.emit(f"Reading {len(self._spans)} sentence{'s' * (len(self._spans) != 1)} aloud…")
        return True

    def stop(self) -> None:
        self._heard = -1  # what the player says next is a stop, not the end of the reading
        if self.job is not None:
            self.queue.cancel(self.job)
            self.job = None
        self._ready.clear()
        self.player.stop()
        self.speaking.emit(-1, -1)
        self.busyChanged.emit(False)

    def _on_event(self, ui: UiEvent) -> None:
        from studio.core.sound.specs import SpokenPiece

        e = ui.event
        if e.job_id in self.exports and isinstance(e, Finished | Failed | Cancelled):
            self.exports.remove(e.job_id)
            if isinstance(e, Finished) and e.items:
                self.said.emit(f"Exported {e.items[0].path.name}.")
            elif isinstance(e, Failed) and e.error:
                self.said.emit(e.error.user_message)
            return
        if self.job is None or e.job_id != self.job:
            return
        if isinstance(e, SpokenPiece):
            self._ready.append((e.index, e.audio, e.sample_rate))
            if not self.player.playing:
                self._next()
        elif isinstance(e, Failed | Cancelled | Finished):
            self.job = None
            if isinstance(e, Failed) and e.error:
                self.said.emit(e.error.user_message)
            if not self.busy:
                self._finish()

    def _next(self) -> None:
        if not self._ready:
            if self.job is None:
                self._finish()
            return
        index, audio, rate = self._ready.pop(0)
        self._heard = index
        span = self._spans[index] if index < len(self._spans) else None
        self.player.load(audio, rate)
        if span is not None:
            self.speaking.emit(span.start, span.end)
        if not self.player.play():
            self.stop()

    def _played(self, playing: bool) -> None:
        if not playing and self._heard >= 0:
            self._next()  # the next sentence, or (none left, none coming) the end

    def _finish(self) -> None:
        self._heard = -1
        self.speaking.emit(-1, -1)
        self.busyChanged.emit(False)
        self.said.emit("Read to the end.")

    def export(self, text: str, title: str, target: Path) -> list[Path]:
        """The story as audio: one file at ``target`` when it has no chapters, else a file a chapter beside it
        ("NAME - 01 - TITLE.flac"), each tagged with the story and its track number. Returns the files asked for."""
        if not self.voice:
            self.said.emit("No voice model: get “MMS-TTS English (VITS)” in the Models room.")
            return []
        parts = chapters(text, untitled=title)
        out = []
        for number, chapter in enumerate(parts, start=1):
            file = target if len(parts) == 1 else target.with_name(
                f"{target.stem} - {number:02d} - {_safe(chapter.title)}{target.suffix}")  # fmt: skip
            spec = freeze_speech(self._draft(), text[chapter.start : chapter.end], out=str(file))
            if isinstance(spec, dict):
                continue
            spec = dataclasses.replace(spec, album=title, track=number if len(parts) > 1 else 0)
            self.exports.append(self.queue.enqueue(spec, Room.WRITER))
            out.append(file)
        self.said.emit(
            f"Exporting {len(out)} track{'s' * (len(out) != 1)}…" if out else "There is nothing to read."
        )
        return out


def _safe(title: str) -> str:
    return "".join(c if c.isalnum() or c in " -_" else "_" for c in title).strip()[:60] or "chapter"
