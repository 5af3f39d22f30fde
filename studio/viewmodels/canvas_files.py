"""The Canvas's files: OpenRaster save and open, a picture added as a layer, the flattened PNG — each read or
written off the GUI thread, the result handed back to the session."""

from __future__ import annotations

import weakref
from pathlib import Path
from typing import Any

from PIL import Image

from studio.core.image.canvas_doc import CanvasDoc, Layer


class CanvasFiles:
    """``canvas``: the CanvasSession (held weakly: no cycle with it)."""

    def __init__(self, canvas: Any):
        self._canvas = weakref.ref(canvas)

    @property
    def canvas(self) -> Any:
        return self._canvas()

    def save(self, path: str) -> None:
        """Save as OpenRaster (.ora), whole or not at all."""
        c = self.canvas
        from studio.core.image.openraster import save_ora
        from studio.viewmodels.background import in_background

        snapshot = CanvasDoc(c.doc.width, c.doc.height, c.doc.layers)
        in_background(c, lambda: save_ora(snapshot, Path(path)), lambda _: self._saved(path), name="canvas-save",
                      on_error=lambda e: c.failed.emit(f"{Path(path).name} could not be saved: {e}"))  # fmt: skip

    def _saved(self, path: str) -> None:
        c = self.canvas
        c.source = path
        c.writer.submit(c.doc.width, c.doc.height, c.doc.layers, path)
        c.statusChanged.emit(f"Saved {Path(path).name}.")

    def open(self, path: str) -> None:
        c = self.canvas
        from studio.core.image.openraster import load_ora
        from studio.viewmodels.background import in_background

        in_background(c, lambda: load_ora(Path(path)), lambda doc: self._opened(doc, path), name="canvas-open",
                      on_error=lambda e: c.failed.emit(str(e)))  # fmt: skip

    def _opened(self, doc: CanvasDoc, path: str) -> None:
        c = self.canvas
        c.replace_doc(doc, path)
        c.statusChanged.emit(f"Opened {Path(path).name}: {len(doc.layers)} layers, {doc.width}×{doc.height}.")

    def import_picture(self, path: str) -> None:
        """A picture file as an image layer at the top left, made smaller to fit the canvas when it is larger."""
        c = self.canvas
        from studio.viewmodels.background import in_background

        fit = (c.doc.width, c.doc.height)

        def read() -> Image.Image:
            from PIL import ImageOps

            from studio.core.io.pictures import open_picture

            with open_picture(path) as raw:
                picture = ImageOps.exif_transpose(raw).convert("RGBA")
            picture.thumbnail(fit, Image.Resampling.LANCZOS)
            return picture

        def place(picture: Image.Image) -> None:
            c.add_layer_of(Layer(Path(path).stem[:200], "image", picture))
            c.changed_now()

        in_background(c, read, place, name="canvas-import",
                      on_error=lambda e: c.failed.emit(f"{Path(path).name} is not a picture Studio can read."))  # fmt: skip

    def export_png(self, path: str) -> None:
        """The flattened picture, with the topmost generated layer's recipe in it."""
        c = self.canvas
        from studio.core.image.openraster import export_png
        from studio.viewmodels.background import in_background

        snapshot = CanvasDoc(c.doc.width, c.doc.height, c.doc.layers)
        in_background(c, lambda: export_png(snapshot, Path(path)),
                      lambda _: c.statusChanged.emit(f"Exported {Path(path).name}."), name="canvas-export",
                      on_error=lambda e: c.failed.emit(f"{Path(path).name} could not be written: {e}"))  # fmt: skip
