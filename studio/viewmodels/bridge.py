"""The one road from worker threads to the GUI thread: typed events re-emitted as a queued Qt signal."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtGui import QImage

from studio.core.jobs.events import Event, ItemSaved, Preview
from studio.core.sound.specs import SavedSound, SoundStep


@dataclass(frozen=True)
class UiEvent:
    """An event plus any image already decoded off the GUI thread."""

    event: Event
    image: QImage | None = None


def pil_to_qimage(image: Any) -> QImage:
    rgb = image.convert("RGBA")
    data = rgb.tobytes("raw", "RGBA")
    return QImage(data, rgb.width, rgb.height, rgb.width * 4, QImage.Format.Format_RGBA8888).copy()


class EventBridge(QObject):
    """``post`` may be called from any thread; ``arrived`` is delivered on the thread this object lives in."""

    arrived = Signal(object)

    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        self._relay.connect(self.arrived.emit, Qt.ConnectionType.QueuedConnection)

    _relay = Signal(object)

    def post(self, event: Event) -> None:
        image = None
        if isinstance(event, Preview) and event.image is not None:
            image = pil_to_qimage(event.image)  # decoded here, on the worker thread
        elif (
            isinstance(event, ItemSaved) and event.item is not None and not isinstance(event.item, SavedSound)
        ):
            image = QImage(str(event.item.path))
        elif isinstance(event, SoundStep) and event.picture is not None:
            image = pil_to_qimage(event.picture)
        self._relay.emit(UiEvent(event, image))
