"""The Canvas room's state: the layered picture (``CanvasDoc``), the active layer, the box the next picture is
generated into, the staging area of results waiting to be accepted, and the recovery copy written after every
stroke. Jobs go through the one queue as the Canvas room's own; the Image room's draft gives their recipe."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PIL import Image
from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QImage

from studio.core.image.canvas_doc import CanvasDoc, Layer
from studio.core.image.canvas_journal import CanvasJournal, JournalWriter
from studio.core.image.selection import SelectionMade
from studio.core.jobs.events import Cancelled, Failed, Finished, ItemSaved, Preview, Started
from studio.core.jobs.rooms import Room
from studio.viewmodels.bridge import EventBridge, UiEvent, pil_to_qimage

NAMES = {"paint": "Paint", "mask": "Mask (repaint here)", "control": "Control", "image": "Image"}


def to_pil(image: QImage) -> Image.Image:
    rgba = image.convertToFormat(QImage.Format.Format_RGBA8888)
    return Image.frombuffer("RGBA", (rgba.width(), rgba.height()), bytes(rgba.constBits()), "raw", "RGBA",
                            rgba.bytesPerLine(), 1).copy()  # fmt: skip


def _read_rgba(path: str) -> Image.Image:
    from studio.core.io.pictures import open_picture

    with open_picture(path) as im:
        return im.convert("RGBA")


class CanvasSession(QObject):
    changed = Signal()  # the layers: their pictures, order or properties
    activeChanged = Signal(str)
    boxChanged = Signal()
    stagingChanged = Signal()
    statusChanged = Signal(str)
    failed = Signal(str)  # a problem the user must see
    liveChanged = Signal(bool)

    def __init__(
        self,
        generation: Any,
        queue: Any,
        bridge: EventBridge,
        recovery: Path,
        size: tuple[int, int] = (512, 512),
    ):
        super().__init__()
        self.generation, self.queue = generation, queue
        self.journal = CanvasJournal(recovery)
        self.writer = JournalWriter(self.journal, on_error=lambda e: None)
        self.source = ""  # the .ora this canvas was opened from or saved to
        self.staging: list[tuple[QImage, dict[str, Any]]] = []  # (picture, recipe)
        self.staged = 0
        self._jobs: set[str] = set()
        self._cache: dict[tuple[str, int], QImage] = {}
        found = self.journal.recover()
        if found is not None:
            self.doc, self.source = found
        else:
            self.doc = CanvasDoc(
                *size, (Layer("Background", "paint", Image.new("RGBA", size, (255, 255, 255, 255))),)
            )
        self.active = self.doc.layers[-1].id if self.doc.layers else ""
        self.box = (0, 0, self.doc.width, self.doc.height)
        self.recovered = found is not None
        self.live, self.live_strength = False, 0.5
        self._live: str | None = None  # the live frame's job, while one is wanted
        self._live_started = self._live_stale = False
        self._live_recipe: dict[str, Any] = {}
        self._selections: dict[
            str, str
        ] = {}  # a selection job → the layer it cuts out ("": a new mask layer)
        bridge.arrived.connect(self._on_event)

    # -- the layers --------------------------------------------------------------------------------------------
    def qimage(self, layer: Layer) -> QImage:
        key = (layer.id, layer.rev)
        if key not in self._cache:
            if len(self._cache) > 64:
                self._cache.clear()
            self._cache[key] = pil_to_qimage(layer.image)
        return self._cache[key]

    def _changed(self) -> None:
        if self.doc.get(self.active) is None and self.doc.layers:
            self.active = self.doc.layers[-1].id
            self.activeChanged.emit(self.active)
        self.writer.submit(self.doc.width, self.doc.height, self.doc.layers, self.source)
        self.changed.emit()

    def set_active(self, layer_id: str) -> None:
        if self.doc.get(layer_id) is not None and layer_id != self.active:
            self.active = layer_id
            self.activeChanged.emit(layer_id)

    def stroke(self, layer_id: str, image: QImage) -> None:
        """A layer's picture after a stroke of the brush or the eraser (with live painting on, a new frame)."""
        self.doc.paint(layer_id, to_pil(image))
        self._changed()
        self.want_frame()

    def add_layer(self, kind: str = "paint") -> Layer:
        layer = Layer(
            NAMES.get(kind, kind.title()), kind, Image.new("RGBA", (self.doc.width, self.doc.height))
        )
        self.doc.add(layer, above=self.active)
        self.active = layer.id
        self._changed()
        self.activeChanged.emit(layer.id)
        return layer

    def set_layer(self, layer_id: str, **changes: Any) -> None:
        self.doc.update(layer_id, **changes)
        self._changed()

    def scale_layer(self, layer_id: str, factor: float) -> None:
        layer = self.doc.get(layer_id)
        if layer is None or not 0.05 <= factor <= 20:
            return
        size = (max(1, round(layer.image.width * factor)), max(1, round(layer.image.height * factor)))
        self.doc.paint(layer_id, layer.image.resize(size, Image.Resampling.LANCZOS))
        self._changed()

    def remove_layer(self, layer_id: str) -> None:
        self.doc.remove(layer_id)
        self._changed()

    def move_layer(self, layer_id: str, delta: int) -> None:
        self.doc.move(layer_id, delta)
        self._changed()

    def undo(self) -> None:
        if self.doc.undo():
            self._changed()

    def redo(self) -> None:
        if self.doc.redo():
            self._changed()

    def replace_doc(self, doc: CanvasDoc, source: str) -> None:
        """A canvas opened from a file (or a new one)."""
        self.doc, self.source = doc, source
        self.active = doc.layers[-1].id if doc.layers else ""
        self.set_box(0, 0, doc.width, doc.height)
        self.discard()
        self._changed()
        self.activeChanged.emit(self.active)

    # -- generating into the box ---------------------------------------------------------------------------------
    def set_box(self, x0: float, y0: float, x1: float, y1: float) -> None:
        """The box the next picture is made in: inside the canvas, its sides multiples of 8, at least 64 px."""
        x0, x1 = sorted((max(0, min(self.doc.width, round(x0))), max(0, min(self.doc.width, round(x1)))))
        y0, y1 = sorted((max(0, min(self.doc.height, round(y0))), max(0, min(self.doc.height, round(y1)))))
        w = max(64, (x1 - x0) // 8 * 8)
        h = max(64, (y1 - y0) // 8 * 8)
        x0, y0 = max(0, min(x0, self.doc.width - w)), max(0, min(y0, self.doc.height - h))
        self.box = (x0, y0, min(self.doc.width, x0 + w), min(self.doc.height, y0 + h))
        self.boxChanged.emit()
        self.want_frame()

    def _picture_under_box(self) -> dict[str, Any]:
        """The box's size and, when something is painted there, its picture (over white) as the init image."""
        x0, y0, x1, y1 = self.box
        under = self.doc.flatten(self.box)
        overrides: dict[str, Any] = {"width": x1 - x0, "height": y1 - y0, "init_image": None, "mask": None,
                                     "outpaint": "", "hires_scale": 1.0}  # fmt: skip
        if under.getchannel("A").getbbox():
            background = Image.new("RGBA", under.size, (255, 255, 255, 255))
            picture = Image.alpha_composite(background, under).convert("RGB")
            overrides["init_image"] = self.generation.store_input(pil_to_qimage(picture), "canvas")
        return overrides

    # -- live painting: a frame after every stroke, stale frames dropped -----------------------------------------
    def set_live(self, on: bool) -> None:
        self.live = on
        self.liveChanged.emit(on)
        if on:
            steps = int(self.generation.value("steps"))
            if steps > 8:
                self.statusChanged.emit(f"Live painting wants a few-step model (LCM, Turbo, Lightning); at {steps} "
                                        "steps a frame takes a while.")  # fmt: skip
            self.want_frame()
        elif self._live is not None:
            self.queue.cancel(self._live)

    def want_frame(self) -> None:
        """A frame of the box as it is now: a frame not yet begun is dropped for it; one under way finishes and
        this one follows (so the newest strokes are always shown next, and the brush never waits)."""
        if not self.live:
            return
        if self._live is not None:
            if self._live_started:
                self._live_stale = True
                return
            self.queue.cancel(self._live)
        overrides = self._picture_under_box()
        if not overrides["init_image"]:
            return
        frozen = self.generation.freeze_with({**overrides, "strength": self.live_strength, "batch_size": 1,
                                              "batch_count": 1, "details": [], "hires_scale": 1.0})  # fmt: skip
        if isinstance(frozen, dict):
            self.failed.emit(next(iter(frozen.values())))
            self._live = None
            return
        from studio.core.image.detail_job import LiveSpec

        self._live, self._live_started, self._live_stale = (
            self.queue.enqueue(LiveSpec(frozen), Room.CANVAS),
            False,
            False,
        )
        self._live_recipe = frozen.to_dict()

    def _live_event(self, ui: UiEvent) -> None:
        e = ui.event
        if isinstance(e, Started):
            self._live_started = True
        elif isinstance(e, Preview) and ui.image is not None:
            self.staging, self.staged = [(ui.image, self._live_recipe)], 0
            self.stagingChanged.emit()
        elif isinstance(e, Finished | Cancelled | Failed):
            self._live = None
            if isinstance(e, Failed):
                self.failed.emit(e.error.user_message if e.error else "The live frame could not be made.")
            elif self._live_stale:
                self.want_frame()

    def generate(self) -> str | None:
        """Queue a picture for the box: from nothing (text to image), from what is under it (image to image), or
        filling what the mask layers (or the box's empty part) leave open (inpainting). Its results wait in the
        staging area."""
        x0, y0, x1, y1 = self.box
        under = self.doc.flatten(self.box)
        overrides = self._picture_under_box()
        if overrides["init_image"]:
            mask = self.doc.mask_of(self.box)
            empty = under.getchannel("A").point(lambda a: 255 if a < 128 else 0)
            if mask is None and empty.getbbox():
                mask = empty  # the empty part of the box is filled; what is there stays
            if mask is not None:
                overrides["mask"] = self.generation.store_input(pil_to_qimage(mask.convert("RGB")), "mask")
        frozen = self.generation.freeze_with(overrides)
        if isinstance(frozen, dict):
            self.failed.emit(next(iter(frozen.values())))
            return None
        job = self.queue.enqueue(frozen, Room.CANVAS)
        self._jobs.add(job)
        self.statusChanged.emit(
            f"Generating {frozen.image_count} picture(s) into the {x1 - x0}×{y1 - y0} box…"
        )
        return job

    def stop(self) -> bool:
        return bool(self.queue.cancel_running(Room.CANVAS))

    def _on_event(self, ui: UiEvent) -> None:
        e = ui.event
        if e.job_id and e.job_id == self._live:
            self._live_event(ui)
            return
        if e.job_id not in self._jobs:
            return
        if isinstance(e, SelectionMade):
            self._selected(e.job_id, e.path)
        elif isinstance(e, ItemSaved) and ui.image is not None:
            self.staging.append((ui.image, e.item.spec.to_dict()))
            self.staged = len(self.staging) - 1
            self.stagingChanged.emit()
        elif isinstance(e, Failed):
            self._jobs.discard(e.job_id)
            self.failed.emit(e.error.user_message if e.error else "The picture could not be made.")
        elif isinstance(e, Finished | Cancelled):
            self._jobs.discard(e.job_id)
            self.statusChanged.emit("Stopped." if isinstance(e, Cancelled) else
                                    "Done: accept a result (Enter), see the others (← →) or discard it (Esc).")  # fmt: skip

    # -- selecting (Segment Anything) --------------------------------------------------------------------------------
    def select_at(self, x: float, y: float) -> str | None:
        """Select the thing under the point in the whole picture: a new mask layer with its outline."""
        if not (0 <= x < self.doc.width and 0 <= y < self.doc.height):
            return None
        background = Image.new("RGBA", (self.doc.width, self.doc.height), (255, 255, 255, 255))
        picture = Image.alpha_composite(background, self.doc.flatten()).convert("RGB")
        return self._segment(picture, [f"{round(x)},{round(y)}"], cutout=False, target="")

    def remove_background(self, layer_id: str) -> str | None:
        """The layer's background made transparent (Segment Anything, and ViTMatte's edges where present)."""
        layer = self.doc.get(layer_id)
        if layer is None:
            return None
        return self._segment(layer.image.convert("RGB"), [], cutout=True, target=layer_id)

    def _segment(self, picture: Image.Image, points: list[str], cutout: bool, target: str) -> str | None:
        from studio.core.image.selection import SelectionDraft, freeze_selection
        from studio.core.models.model_library import DETECTOR, MATTING, SEGMENTER, find_vision_model

        source = self.generation.store_input(pil_to_qimage(picture), "canvas")
        out = str(
            Path(source).with_name(
                f"{Path(source).stem}-{'cutout' if cutout else 'selection'}-{len(self._jobs)}.png"
            )
        )
        folders = list(self.generation.library.model_dirs)
        found = {
            kind: [p] for kind in (SEGMENTER, DETECTOR, MATTING) if (p := find_vision_model(kind, folders))
        }
        frozen = freeze_selection(
            SelectionDraft(source, out, points, cutout=cutout), found, lambda _: picture.size
        )
        if isinstance(frozen, dict):
            self.failed.emit(next(iter(frozen.values())))
            return None
        job = self.queue.enqueue(frozen, Room.CANVAS)
        self._jobs.add(job)
        self._selections[job] = target
        self.statusChanged.emit("Removing the background…" if cutout else "Selecting…")
        return job

    def _selected(self, job: str, path: str) -> None:
        """A selection's file arrived: read off the GUI thread, then a mask layer (or the layer cut out)."""
        from studio.viewmodels.background import in_background

        target = self._selections.pop(job, "")
        in_background(self, lambda: _read_rgba(path), lambda image: self._apply_selection(image, target),
                      name="canvas-selection", on_error=lambda e: self.failed.emit(f"The selection could not be read: {e}"))  # fmt: skip

    def _apply_selection(self, image: Image.Image, target: str) -> None:
        if target and self.doc.get(target) is not None:
            self.doc.paint(target, image)
            self.statusChanged.emit("The background is transparent now (Ctrl+Z brings it back).")
        else:
            white = Image.new("RGBA", image.size, (255, 255, 255, 255))
            white.putalpha(image.convert("L"))
            layer = Layer("Selection", "mask", white)
            self.doc.add(layer, above=self.active)
            self.active = layer.id
            self.activeChanged.emit(layer.id)
            self.statusChanged.emit(
                "Selected: a mask layer — the next picture repaints it (hide it to keep it)."
            )
        self._changed()

    # -- the staging area --------------------------------------------------------------------------------------
    def cycle(self, delta: int) -> None:
        if self.staging:
            self.staged = (self.staged + delta) % len(self.staging)
            self.stagingChanged.emit()

    def accept(self) -> Layer | None:
        """The staged result becomes a generated layer over the box, with its recipe."""
        if not self.staging:
            return None
        picture, recipe = self.staging[self.staged]
        x0, y0, x1, y1 = self.box
        image = to_pil(picture).resize((x1 - x0, y1 - y0), Image.Resampling.LANCZOS)
        count = sum(1 for lay in self.doc.layers if lay.kind == "generated") + 1
        layer = Layer(f"Generated {count}", "generated", image, x0, y0, recipe=recipe)
        self.doc.add(layer, above=self.active)
        self.active = layer.id
        self.discard()
        self._changed()
        self.activeChanged.emit(layer.id)
        return layer

    def discard(self) -> None:
        self.staging, self.staged = [], 0
        self.stagingChanged.emit()

    # -- files (off the GUI thread) --------------------------------------------------------------------------------
    def save(self, path: str) -> None:
        """Save as OpenRaster (.ora), whole or not at all."""
        from studio.core.image.openraster import save_ora
        from studio.viewmodels.background import in_background

        snapshot = CanvasDoc(self.doc.width, self.doc.height, self.doc.layers)
        in_background(self, lambda: save_ora(snapshot, Path(path)), lambda _: self._saved(path), name="canvas-save",
                      on_error=lambda e: self.failed.emit(f"{Path(path).name} could not be saved: {e}"))  # fmt: skip

    def _saved(self, path: str) -> None:
        self.source = path
        self.writer.submit(self.doc.width, self.doc.height, self.doc.layers, path)
        self.statusChanged.emit(f"Saved {Path(path).name}.")

    def open(self, path: str) -> None:
        from studio.core.image.openraster import load_ora
        from studio.viewmodels.background import in_background

        in_background(self, lambda: load_ora(Path(path)), lambda doc: self._opened(doc, path), name="canvas-open",
                      on_error=lambda e: self.failed.emit(str(e)))  # fmt: skip

    def _opened(self, doc: CanvasDoc, path: str) -> None:
        self.replace_doc(doc, path)
        self.statusChanged.emit(
            f"Opened {Path(path).name}: {len(doc.layers)} layers, {doc.width}×{doc.height}."
        )

    def new(self, width: int, height: int) -> None:
        size = (max(64, min(8192, width)), max(64, min(8192, height)))
        background = Layer("Background", "paint", Image.new("RGBA", size, (255, 255, 255, 255)))
        self.replace_doc(CanvasDoc(*size, (background,)), "")

    def export_png(self, path: str) -> None:
        """The flattened picture, with the topmost generated layer's recipe in it."""
        from studio.core.image.openraster import export_png
        from studio.viewmodels.background import in_background

        snapshot = CanvasDoc(self.doc.width, self.doc.height, self.doc.layers)
        in_background(self, lambda: export_png(snapshot, Path(path)),
                      lambda _: self.statusChanged.emit(f"Exported {Path(path).name}."), name="canvas-export",
                      on_error=lambda e: self.failed.emit(f"{Path(path).name} could not be written: {e}"))  # fmt: skip
