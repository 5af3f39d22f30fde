"""The Canvas's selecting: the thing under a click becomes a mask layer, and a layer loses its background —
Segment Anything (and ViTMatte's edges) run as the room's own jobs; their files are read off the GUI thread."""

from __future__ import annotations

import weakref
from pathlib import Path
from typing import Any

from PIL import Image

from studio.core.image.canvas_doc import Layer, on_white
from studio.core.image.selection import SelectionDraft, SelectionMade, freeze_selection
from studio.core.jobs.rooms import Room
from studio.viewmodels.bridge import UiEvent, pil_to_qimage


def _read_rgba(path: str) -> Image.Image:
    from studio.core.io.pictures import open_picture

    with open_picture(path) as im:
        return im.convert("RGBA")


class CanvasSelection:
    """``canvas``: the CanvasSession (its document, draft, queue and signals)."""

    def __init__(self, canvas: Any):
        self._canvas = weakref.ref(
            canvas
        )  # no cycle with the session: it is freed on the GUI thread, by count
        self.jobs: dict[str, str] = {}  # a selection job → the layer it cuts out ("": a new mask layer)

    @property
    def canvas(self) -> Any:
        return self._canvas()

    def select_at(self, x: float, y: float) -> str | None:
        """Select the thing under the point in the whole picture: a new mask layer with its outline."""
        doc = self.canvas.doc
        if not (0 <= x < doc.width and 0 <= y < doc.height):
            return None
        return self._segment(self._whole(), [f"{round(x)},{round(y)}"], cutout=False, target="")

    def select_words(self, words: str) -> str | None:
        """Select what the words name (an open-vocabulary detector's boxes, outlined by Segment Anything)."""
        if not words.strip():
            return None
        return self._segment(self._whole(), [], cutout=False, target="", text=words.strip())

    def _whole(self) -> Image.Image:
        return on_white(self.canvas.doc.flatten())

    def remove_background(self, layer_id: str) -> str | None:
        """The layer's background made transparent (Segment Anything, and ViTMatte's edges where present)."""
        layer = self.canvas.doc.get(layer_id)
        if layer is None:
            return None
        return self._segment(layer.image.convert("RGB"), [], cutout=True, target=layer_id)

    def _segment(self, picture: Image.Image, points: list[str], cutout: bool, target: str,
                 text: str = "") -> str | None:  # fmt: skip
        from studio.core.models.model_library import DETECTOR, MATTING, SEGMENTER, find_vision_model

        c = self.canvas
        source = c.generation.store_input(pil_to_qimage(picture), "canvas")
        out = str(Path(source).with_name(f"{Path(source).stem}-{'cutout' if cutout else 'selection'}.png"))
        folders = list(c.generation.library.model_dirs)
        found = {
            kind: [p] for kind in (SEGMENTER, DETECTOR, MATTING) if (p := find_vision_model(kind, folders))
        }
        frozen = freeze_selection(
            SelectionDraft(source, out, points, text=text, cutout=cutout), found, lambda _: picture.size
        )
        if isinstance(frozen, dict):
            c.failed.emit(next(iter(frozen.values())))
            return None
        job = c.queue.enqueue(frozen, Room.CANVAS)
        self.jobs[job] = target
        c.statusChanged.emit("Removing the background…" if cutout else "Selecting…")
        return job

    def on_event(self, ui: UiEvent) -> None:
        from studio.core.jobs.events import Cancelled, Failed
        from studio.viewmodels.background import in_background

        e, c = ui.event, self.canvas
        if isinstance(e, SelectionMade):
            target = self.jobs.pop(e.job_id, "")
            in_background(c, lambda: _read_rgba(e.path), lambda image: self._apply(image, target),
                          name="canvas-selection", on_error=lambda x: c.failed.emit(f"The selection could not be read: {x}"))  # fmt: skip
        elif isinstance(e, Failed | Cancelled):
            self.jobs.pop(e.job_id, None)
            if isinstance(e, Failed):
                c.failed.emit(e.error.user_message if e.error else "Nothing could be selected.")

    def _apply(self, image: Image.Image, target: str) -> None:
        c = self.canvas
        if target and c.doc.get(target) is not None:
            c.doc.paint(target, image)
            c.statusChanged.emit("The background is transparent now (Ctrl+Z brings it back).")
        else:
            white = Image.new("RGBA", image.size, (255, 255, 255, 255))
            white.putalpha(image.convert("L"))
            c.add_layer_of(Layer("Selection", "mask", white))
            c.statusChanged.emit(
                "Selected: a mask layer — the next picture repaints it (hide it to keep it)."
            )
        c.changed_now()
