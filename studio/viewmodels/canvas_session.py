"""The Canvas room's state: the layered picture (``CanvasDoc``), the active layer, the box the next picture is
generated into, the staging area of results waiting to be accepted, and the recovery copy written after every
stroke. Jobs go through the one queue as the Canvas room's own; the Image room's draft gives their recipe."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PIL import Image
from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QImage

from studio.core.image.canvas_doc import CanvasDoc, Layer, on_white
from studio.core.image.canvas_journal import CanvasJournal, JournalWriter
from studio.core.jobs.events import Cancelled, Failed, Finished, ItemSaved
from studio.core.jobs.rooms import Room
from studio.viewmodels.bridge import EventBridge, UiEvent, pil_to_qimage
from studio.viewmodels.canvas_files import CanvasFiles
from studio.viewmodels.canvas_live import LivePainting
from studio.viewmodels.canvas_selection import CanvasSelection

UNNAMED_REGION = "Region: rename me to what goes here"
NAMES = {
    "paint": "Paint",
    "mask": "Mask (repaint here)",
    "control": "Control (for the ControlNet unit)",
    "image": "Image",
    "region": UNNAMED_REGION,
}


def to_pil(image: QImage) -> Image.Image:
    rgba = image.convertToFormat(QImage.Format.Format_RGBA8888)
    return Image.frombuffer("RGBA", (rgba.width(), rgba.height()), bytes(rgba.constBits()), "raw", "RGBA",
                            rgba.bytesPerLine(), 1).copy()  # fmt: skip


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
        white = Image.new("RGBA", size, (255, 255, 255, 255))
        self.doc = CanvasDoc(*size, (Layer("Background", "paint", white),))
        self.active = self.doc.layers[-1].id
        self.box = (0, 0, self.doc.width, self.doc.height)
        self.recovered = False
        self.live = LivePainting(self)
        self.selection = CanvasSelection(self)
        self.files = CanvasFiles(self)
        bridge.arrived.connect(self._on_event)
        from studio.viewmodels.background import in_background

        # the recovery copy of the last session is read off the GUI thread; it comes back unless painting began
        in_background(self, self.journal.recover, self._recover, name="canvas-recover")

    def _recover(self, found: tuple[CanvasDoc, str] | None) -> None:
        if found is None or self.doc.undoable:
            return
        self.recovered = True
        self.replace_doc(*found)
        self.statusChanged.emit(
            "The canvas you were painting was brought back (it is saved after every stroke)."
        )

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
        self.live.want_frame()

    def add_layer(self, kind: str = "paint") -> Layer:
        blank = Image.new("RGBA", (self.doc.width, self.doc.height))
        layer = Layer(NAMES.get(kind, kind.title()), kind, blank)
        self.add_layer_of(layer)
        self._changed()
        return layer

    def add_layer_of(self, layer: Layer) -> None:
        """``layer`` above the active one, and active (the caller says when the change is done)."""
        self.doc.add(layer, above=self.active)
        self.active = layer.id
        self.activeChanged.emit(layer.id)

    def changed_now(self) -> None:
        self._changed()

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
        self.live.want_frame()

    def picture_under_box(self, under: Image.Image | None = None) -> dict[str, Any]:
        """The box's size and, when something is painted there, its picture (over white) as the init image
        (``under``: the box's picture when the caller has it already)."""
        x0, y0, x1, y1 = self.box
        under = self.doc.flatten(self.box) if under is None else under
        overrides: dict[str, Any] = {"width": x1 - x0, "height": y1 - y0, "init_image": None, "mask": None,
                                     "outpaint": "", "hires_scale": 1.0}  # fmt: skip
        if under.getchannel("A").getbbox():
            overrides["init_image"] = self.generation.store_input(pil_to_qimage(on_white(under)), "canvas")
        return overrides

    def generate(self) -> str | None:
        """Queue a picture for the box: from nothing (text to image), from what is under it (image to image), or
        filling what the mask layers (or the box's empty part) leave open (inpainting). Its results wait in the
        staging area."""
        x0, y0, x1, y1 = self.box
        under = self.doc.flatten(self.box)
        overrides = self.picture_under_box(under)
        if overrides["init_image"]:
            mask = self.doc.mask_of(self.box)
            empty = under.getchannel("A").point(lambda a: 255 if a < 128 else 0)
            if mask is None and empty.getbbox():
                mask = empty  # the empty part of the box is filled; what is there stays
            if mask is not None:
                overrides["mask"] = self.generation.store_input(pil_to_qimage(mask.convert("RGB")), "mask")
        guides = self._guide_layers()
        if isinstance(guides, str):
            self.failed.emit(guides)
            return None
        frozen = self.generation.freeze_with({**overrides, **guides})
        if isinstance(frozen, dict):
            self.failed.emit(next(iter(frozen.values())))
            return None
        job = self.queue.enqueue(frozen, Room.CANVAS)
        self._jobs.add(job)
        self.statusChanged.emit(
            f"Generating {frozen.image_count} picture(s) into the {x1 - x0}×{y1 - y0} box…"
        )
        return job

    def _guide_layers(self) -> dict[str, Any] | str:
        """The region layers inside the box (each layer's name its prompt, its opacity its weight), after the
        Image room's regions; the control layers' picture as the image of the Image room's ControlNet units."""
        regions: list[Any] = list(self.generation.value("regions"))
        for layer in self.doc.layers:
            alpha = self.doc.alpha_of(layer, self.box) if layer.visible and layer.kind == "region" else None
            if alpha is None:
                continue
            if layer.name == UNNAMED_REGION or not layer.name.strip():
                return "Name the region layer with what goes there (double-click it in the layers list)."
            mask = self.generation.store_input(pil_to_qimage(alpha.convert("RGB")), "region")
            regions.append({"prompt": layer.name, "mask": mask, "weight": round(layer.opacity, 2)})
        out: dict[str, Any] = {"regions": regions}
        control = self.doc.flatten(self.box, kinds=("control",))
        if control.getchannel("A").getbbox():
            units = [dict(u) for u in self.generation.value("controls") if isinstance(u, dict)]
            if not units:
                return ("A control layer steers through a ControlNet unit: add one in the Image room's ControlNet "
                        "section (its model and preprocessor); the layer gives it its picture.")  # fmt: skip
            path = self.generation.store_input(pil_to_qimage(on_white(control)), "control")
            out["controls"] = [{**u, "image": path} for u in units]
        return out

    def stop(self) -> bool:
        return bool(self.queue.cancel_running(Room.CANVAS))

    def _on_event(self, ui: UiEvent) -> None:
        e = ui.event
        if e.job_id and e.job_id == self.live.job:
            self.live.on_event(ui)
        elif e.job_id in self.selection.jobs:
            self.selection.on_event(ui)
        elif e.job_id not in self._jobs:
            return
        elif isinstance(e, ItemSaved) and ui.image is not None:
            self.stage([*self.staging, (ui.image, e.item.spec.to_dict())])
        elif isinstance(e, Failed):
            self._jobs.discard(e.job_id)
            self.failed.emit(e.error.user_message if e.error else "The picture could not be made.")
        elif isinstance(e, Finished | Cancelled):
            self._jobs.discard(e.job_id)
            self.statusChanged.emit("Stopped." if isinstance(e, Cancelled) else
                                    "Done: accept a result (Enter), see the others (← →) or discard it (Esc).")  # fmt: skip

    # -- the staging area --------------------------------------------------------------------------------------
    def stage(self, results: list[tuple[QImage, dict[str, Any]]]) -> None:
        """The results waiting over the box (the newest shown)."""
        self.staging, self.staged = results, len(results) - 1
        self.stagingChanged.emit()

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
        self.add_layer_of(layer)
        self.discard()
        self._changed()
        return layer

    def discard(self) -> None:
        self.staging, self.staged = [], 0
        self.stagingChanged.emit()

    def new(self, width: int, height: int) -> None:
        size = (max(64, min(8192, width)), max(64, min(8192, height)))
        background = Layer("Background", "paint", Image.new("RGBA", size, (255, 255, 255, 255)))
        self.replace_doc(CanvasDoc(*size, (background,)), "")
