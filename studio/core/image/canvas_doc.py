"""The canvas: a sized picture made of layers (paint, image, generated, mask, control), each an RGBA picture at a
position, with its name, visibility, opacity and — for a generated layer — the recipe that made it. A state is an
immutable tuple of layers: an edit makes a new state, so undo and redo keep states, not diffs (the pictures
themselves are shared between states until one changes)."""

from __future__ import annotations

import dataclasses
import uuid
from dataclasses import dataclass, field
from typing import Any

from PIL import Image

KINDS = ("paint", "image", "generated", "mask", "control", "region")
MAX_SIDE = 8192
HISTORY = 60  # states kept for undo


def on_white(image: Image.Image) -> Image.Image:
    """An RGBA picture over white, as RGB (what a model reads of a canvas: empty is white)."""
    return Image.alpha_composite(
        Image.new("RGBA", image.size, (255, 255, 255, 255)), image.convert("RGBA")
    ).convert("RGB")


def new_id() -> str:
    return uuid.uuid4().hex[:12]


@dataclass(frozen=True)
class Layer:
    """One layer. ``rev`` counts changes to its picture (the autosave writes a layer again only when it grew)."""

    name: str
    kind: str
    image: Image.Image = field(compare=False)
    x: int = 0
    y: int = 0
    visible: bool = True
    opacity: float = 1.0
    recipe: dict[str, Any] | None = field(default=None, compare=False)
    id: str = field(default_factory=new_id)
    rev: int = 0

    def with_image(self, image: Image.Image, **changes: Any) -> Layer:
        return dataclasses.replace(self, image=image.convert("RGBA"), rev=self.rev + 1, **changes)

    def replace(self, **changes: Any) -> Layer:
        return dataclasses.replace(self, **changes)

    @property
    def box(self) -> tuple[int, int, int, int]:
        return (self.x, self.y, self.x + self.image.width, self.y + self.image.height)


class CanvasDoc:
    """The canvas's size, its layers (bottom first) and their history."""

    def __init__(self, width: int, height: int, layers: tuple[Layer, ...] = ()):
        if not (1 <= width <= MAX_SIDE and 1 <= height <= MAX_SIDE):
            raise ValueError(f"a canvas is 1–{MAX_SIDE} px a side (given {width}×{height})")
        self.width, self.height = width, height
        self.layers: tuple[Layer, ...] = layers
        self._undo: list[tuple[Layer, ...]] = []
        self._redo: list[tuple[Layer, ...]] = []

    # -- edits (each one undoable) -----------------------------------------------------------------------------
    def commit(self, layers: tuple[Layer, ...]) -> None:
        """Make ``layers`` the new state."""
        if layers == self.layers and all(
            a.image is b.image for a, b in zip(layers, self.layers, strict=True)
        ):
            return
        self._undo.append(self.layers)
        del self._undo[:-HISTORY]
        self._redo.clear()
        self.layers = layers

    def add(self, layer: Layer, above: str | None = None) -> Layer:
        """``layer`` on top (or just above the layer ``above``)."""
        layers = list(self.layers)
        at = next((i + 1 for i, lay in enumerate(layers) if lay.id == above), len(layers))
        layers.insert(at, layer)
        self.commit(tuple(layers))
        return layer

    def update(self, layer_id: str, **changes: Any) -> None:
        self.commit(tuple(lay.replace(**changes) if lay.id == layer_id else lay for lay in self.layers))

    def paint(self, layer_id: str, image: Image.Image) -> None:
        """The layer's picture after a stroke (or a fill, a paste)."""
        self.commit(tuple(lay.with_image(image) if lay.id == layer_id else lay for lay in self.layers))

    def remove(self, layer_id: str) -> None:
        self.commit(tuple(lay for lay in self.layers if lay.id != layer_id))

    def move(self, layer_id: str, delta: int) -> None:
        """Up (+1) or down (−1) the stack."""
        layers = list(self.layers)
        i = self.index(layer_id)
        j = max(0, min(len(layers) - 1, i + delta))
        layers.insert(j, layers.pop(i))
        self.commit(tuple(layers))

    @property
    def undoable(self) -> bool:
        """Whether anything was changed (and can be undone)."""
        return bool(self._undo)

    def undo(self) -> bool:
        if not self._undo:
            return False
        self._redo.append(self.layers)
        self.layers = self._undo.pop()
        return True

    def redo(self) -> bool:
        if not self._redo:
            return False
        self._undo.append(self.layers)
        self.layers = self._redo.pop()
        return True

    # -- reading -----------------------------------------------------------------------------------------------
    def index(self, layer_id: str) -> int:
        return next(i for i, lay in enumerate(self.layers) if lay.id == layer_id)

    def get(self, layer_id: str) -> Layer | None:
        return next((lay for lay in self.layers if lay.id == layer_id), None)

    def flatten(self, box: tuple[int, int, int, int] | None = None, kinds: tuple[str, ...] = ("paint", "image",
                "generated")) -> Image.Image:  # fmt: skip
        """The visible layers of ``kinds`` composed (RGBA), over the whole canvas or ``box``."""
        x0, y0, x1, y1 = box or (0, 0, self.width, self.height)
        out = Image.new("RGBA", (x1 - x0, y1 - y0), (0, 0, 0, 0))
        for lay in self.layers:
            if not lay.visible or lay.kind not in kinds or lay.opacity <= 0:
                continue
            image = lay.image
            if lay.opacity < 1:
                alpha = image.getchannel("A").point(lambda a, o=lay.opacity: round(a * o))
                image = image.copy()
                image.putalpha(alpha)
            dx, dy = lay.x - x0, lay.y - y0
            sx, sy = max(0, -dx), max(0, -dy)
            if sx < image.width and sy < image.height and dx < out.width and dy < out.height:
                out.alpha_composite(image, dest=(max(0, dx), max(0, dy)), source=(sx, sy))
        return out

    def alpha_of(self, layer: Layer, box: tuple[int, int, int, int]) -> Image.Image | None:
        """Where ``layer`` is painted inside ``box`` (grey, its opacity aside), or None when nowhere."""
        only = CanvasDoc(self.width, self.height, (layer.replace(visible=True, opacity=1.0),))
        alpha = only.flatten(box, kinds=(layer.kind,)).getchannel("A")
        return alpha if alpha.getbbox() else None

    def mask_of(self, box: tuple[int, int, int, int]) -> Image.Image | None:
        """The visible mask layers over ``box`` as one grey picture (white: repaint), or None when nothing is
        painted there."""
        masks = self.flatten(box, kinds=("mask",))
        alpha = masks.getchannel("A")
        return alpha if alpha.getbbox() else None
