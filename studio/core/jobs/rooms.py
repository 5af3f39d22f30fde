"""The rooms of the window, and which room a job belongs to: its messages, its Stop and its place in the queue are
shown there and nowhere else."""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from studio.core.jobs import JobKind


class Room(StrEnum):
    IMAGE = "Image"
    CANVAS = "Canvas"
    GALLERY = "Gallery"
    WRITER = "Writer"
    SOUND = "Sound"
    FINETUNE = "Fine-tune"
    MODELS = "Models"


ROOM_OF_KIND = {
    JobKind.IMAGE: Room.IMAGE,
    JobKind.UPSCALE: Room.IMAGE,
    JobKind.PLOT: Room.IMAGE,
    JobKind.ATTENTION: Room.IMAGE,
    JobKind.STEPS: Room.IMAGE,
    JobKind.TEXT: Room.WRITER,
    JobKind.CONTEXT: Room.WRITER,
    JobKind.TEXT_ATTENTION: Room.WRITER,
    JobKind.TEXT_TRAIN: Room.WRITER,
    JobKind.TRAIN: Room.FINETUNE,
    JobKind.SOUND: Room.SOUND,
    JobKind.SPEAK: Room.WRITER,
    JobKind.CAPTION: Room.FINETUNE,
}


def room_of(spec: Any) -> Room:
    """Where a job is asked when its asker does not say (a prompt helper's text job says Image itself)."""
    return ROOM_OF_KIND.get(getattr(spec, "kind", None), Room.IMAGE)  # type: ignore[arg-type]
