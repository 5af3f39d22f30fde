"""The jobs that show how a picture comes about, run on the image engine: the X/Y/Z plot (each cell a normal image,
then the labelled grid) and *where each word acts* (the picture made again while its cross-attention is recorded)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PIL import Image

from studio.core.gallery.gallery_store import SavedImage
from studio.core.image.attention import AttentionSpec
from studio.core.image.filmstrip import StepsSpec
from studio.core.image.image_metadata import RenderInfo
from studio.core.image.plot import PlotSpec
from studio.core.jobs.cancel import CancelToken
from studio.core.jobs.errors import ErrorKind, StudioError
from studio.core.jobs.events import ItemSaved, Note
from studio.engine.pipelines import FLOW_FAMILIES

if TYPE_CHECKING:
    from studio.engine.image import Emit, ImageEngine


def plot(engine: ImageEngine, spec: PlotSpec, cancel: CancelToken, emit: Emit) -> list[SavedImage]:
    """An X/Y/Z plot: every cell made as a normal image (its own recipe), then the grid with labelled axes,
    saved as one more picture carrying the first cell's recipe and A1111's plot fields."""
    from studio.core.image.plot import compose_grid

    saved: list[SavedImage] = []
    pictures: list[Image.Image] = []
    for cell in spec.cells:
        cancel.raise_if_cancelled()
        (item,) = engine.generate(cell, cancel, emit)[:1]
        saved.append(item)
        with Image.open(item.path) as im:
            pictures.append(im.convert("RGB"))
    grid = compose_grid(pictures, spec)
    model = engine.cache.get(spec.cells[0].model)
    info = engine._render_info(spec.cells[0], model, emit)
    fields = [("Script", "X/Y/Z plot")]
    for letter, axis in zip("XYZ", spec.axes, strict=False):
        fields += [(f"{letter} Type", axis.name), (f"{letter} Values", ", ".join(axis.values))]
    item_info = RenderInfo(**{**info.__dict__, "postprocess": tuple(fields)})
    grid_item = engine.store.save(grid, spec.cells[0], item_info)
    emit(ItemSaved(item=grid_item))
    return [*saved, grid_item]


def attention(engine: ImageEngine, spec: AttentionSpec, cancel: CancelToken, emit: Emit) -> list[SavedImage]:
    """*Where each word acts*: the picture made again while its cross-attention is recorded; each word's map
    written over the picture (``WORD.png``) and alone (``WORD.map.png``) in ``spec.out``."""
    import numpy as np

    from studio.core.image.attention import overlay, word_positions
    from studio.core.image.tokens import ClipTokens, tokenizer_folder
    from studio.engine.attention_maps import AttentionRecorder, install

    inner = spec.spec.replace(batch_count=1, batch_size=1, hires_scale=1.0, cpu_engine="torch")
    if spec.spec.cpu_engine.startswith("openvino"):
        emit(Note(text="Attention maps are read from torch's attention layers: the picture is made again with "
                       "torch (the same seed gives a very close picture)."))  # fmt: skip
    model = engine.load(inner, emit)
    if model.family in FLOW_FAMILIES or getattr(model.base, "unet", None) is None:
        raise StudioError(ErrorKind.INVALID_INPUT, "Attention maps are read from a UNet's cross-attention "
                          "(SD 1.x/2.x, SDXL).", field="model")  # fmt: skip
    folder = tokenizer_folder(spec.spec.model)
    if folder is None:
        raise StudioError(ErrorKind.INVALID_INPUT, "This model's tokenizer is not known.", field="model")
    tokens = ClipTokens(folder)
    prompt = spec.spec.prompts_of(0)[0]
    positions = {w: word_positions(prompt, w, tokens.ids) for w in spec.words}
    missing = [w for w, where in positions.items() if not where]
    if missing:
        raise StudioError(
            ErrorKind.INVALID_INPUT, f"“{missing[0]}” is not a word of the prompt.", field="prompt"
        )
    factor = model.base.vae_scale_factor
    recorder = AttentionRecorder(positions, (spec.spec.height // factor, spec.spec.width // factor))
    unet = model.base.unet
    before = install(unet, recorder)
    out = Path(spec.out)
    out.mkdir(parents=True, exist_ok=True)
    try:  # the picture is the one the user has: made again into the maps' folder, not added to the gallery
        with scratch_store(engine, out):
            saved = engine.generate(inner, cancel, quiet(emit))
    finally:
        unet.set_attn_processor(before)
    with Image.open(saved[0].path) as im:
        picture = im.convert("RGB")
    for word, heat in recorder.maps.items():
        drawn, alone = overlay(picture, np.asarray(heat))
        safe = "".join(c if c.isalnum() or c in "-_" else "_" for c in word)[:60] or "word"
        drawn.save(out / f"{safe}.png")
        alone.save(out / f"{safe}.map.png")
    return saved


def steps(engine: ImageEngine, spec: StepsSpec, cancel: CancelToken, emit: Emit) -> list[SavedImage]:
    """*Steps* of a picture made without its filmstrip: made again (same recipe, same seed) to record the steps;
    the filmstrip is written beside the picture the user has, and no second copy enters the gallery."""
    import tempfile

    from studio.core.image.filmstrip import filmstrip_path
    from studio.core.io.atomic import atomic_write_bytes

    with tempfile.TemporaryDirectory(prefix="studio-steps-") as folder, scratch_store(engine, Path(folder)):
        saved = engine.generate(
            spec.spec.replace(batch_count=1, batch_size=1, filmstrip=True), cancel, quiet(emit)
        )
        made = filmstrip_path(saved[0].path)
        if not made.is_file():
            raise StudioError(ErrorKind.INVALID_INPUT, "This model gave no steps to record.", field="model")
        atomic_write_bytes(filmstrip_path(Path(spec.image)), made.read_bytes())
    return []


class _ScratchStore:
    """Where a picture made again only to be explained goes: a plain PNG in ``folder``, never the gallery."""

    def __init__(self, folder: Path):
        self.folder = folder

    def save(self, image: Image.Image, spec: Any, info: RenderInfo) -> SavedImage:
        import time

        path = self.folder / f"picture-{info.index}.png"
        image.save(path)
        return SavedImage(path, spec.seed, image.width, image.height, spec, time.time())


@contextlib.contextmanager
def scratch_store(engine: ImageEngine, folder: Path) -> Iterator[_ScratchStore]:
    """While the block runs, the engine saves into ``folder`` (its device thread is the only one using it)."""
    store, engine.store = engine.store, _ScratchStore(folder)  # type: ignore[assignment]
    try:
        yield engine.store  # type: ignore[misc]
    finally:
        engine.store = store


def quiet(emit: Emit) -> Emit:
    """``emit`` without ItemSaved: a picture made again to be explained is not a new result."""
    return lambda event: None if isinstance(event, ItemSaved) else emit(event)
