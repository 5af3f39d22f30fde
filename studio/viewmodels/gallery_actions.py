"""The Gallery room's commands and questions: what the room asks of the gallery, answered here, so that the page
never reaches into the store. Commands that touch many files — import, export, rebuilding the index — run off the
GUI thread and say when they are done."""

from __future__ import annotations

import shutil
import time
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QImage

from studio.core.gallery.gallery_query import GalleryRow
from studio.core.gallery.sound_rows import is_sound, sound_recipe
from studio.core.image.recipe_readers import Recipe, read_recipe
from studio.core.io.atomic import first_free
from studio.core.sound.pictures import sound_thumbnail
from studio.viewmodels.background import in_background
from studio.viewmodels.bridge import pil_to_qimage
from studio.viewmodels.gallery_model import GalleryModel

PICTURES = (".png", ".jpg", ".jpeg", ".webp")


class GalleryActions(QObject):
    imported = Signal(int)  # how many pictures were copied in (and indexed)
    exported = Signal(int, str)  # how many pictures, and the folder
    reindexed = Signal()
    loaded = Signal(str, QImage, object)  # (rel, the picture, its Recipe): what the viewer shows
    verified = Signal(str, object)  # (rel, its CredentialsReport): the Content credentials panel
    failed = Signal(str)  # a command that could not be done, in a sentence

    def __init__(self, model: GalleryModel, parent: QObject | None = None):
        super().__init__(parent)
        self.model = model
        self.store = model.store

    # -- questions -----------------------------------------------------------------------------------------------
    @property
    def closed(self) -> bool:
        return bool(self.store.closed)

    @property
    def root(self) -> Path:
        return Path(self.store.root)

    def choices(self) -> dict[str, list[tuple[str, Any]]]:
        """What the filters offer: models, samplers, sizes, LoRAs and boards (label, value)."""
        store = self.store
        return {
            "model": [(m, m) for m in store.distinct("model")],
            "sampler": [(s, s) for s in store.distinct("sampler")],
            "size": [(f"{w}×{h}", (w, h)) for w, h in store.sizes()],
            "lora": [(n, n) for n in store.lora_names()],
            "board": [(f"{name} ({n})", bid) for bid, name, n in store.boards()],
        }

    def count(self) -> int:
        return int(self.store.count())

    def trash_count(self) -> int:
        return int(self.store.trash_count())

    def path(self, rel: str) -> Path:
        return Path(self.store.path(rel))

    def parent_rel(self, row: GalleryRow) -> str:
        return str(self.store.rel(row.parent)) if Path(row.parent).is_absolute() else row.parent

    def has_parent(self, row: GalleryRow) -> bool:
        return bool(row.parent) and self.store.row_by_rel(self.parent_rel(row)) is not None

    def made_from(self, rel: str) -> list[GalleryRow]:
        """The pictures made from this one (image to image, inpainting), oldest first."""
        return list(self.store.children(rel))

    def boards(self) -> list[tuple[int, str, int]]:
        return list(self.store.boards())

    # -- boards (a few rows of the library: quick) ---------------------------------------------------------------
    def create_board(self, name: str) -> int:
        return int(self.store.create_board(name))

    def delete_board(self, board: int) -> None:
        self.store.delete_board(board)

    def add_to_board(self, board: int, rels: list[str]) -> None:
        self.store.add_to_board(board, rels)

    def remove_from_board(self, board: int, rels: list[str]) -> None:
        self.store.remove_from_board(board, rels)

    def load(self, rel: str) -> None:
        """Read one picture and its recipe off the GUI thread (a large PNG, a slow disk); ``loaded`` answers."""
        path = self.path(rel)

        finish = self.store.finish

        def work() -> tuple[QImage, Recipe, Any]:
            from studio.provenance.verify import verify

            if is_sound(path):  # its waveform over its spectrogram, its recipe from its tags; no credentials
                picture = sound_thumbnail(path, 512)
                return pil_to_qimage(picture) if picture else QImage(), sound_recipe(path), None
            return QImage(str(path)), read_recipe(path), verify(path, finish.anchors() if finish else b"")

        def done(got: tuple[QImage, Recipe, Any]) -> None:
            self.loaded.emit(rel, got[0], got[1])
            if got[2] is None:
                return
            if not self.closed:  # the window may have closed (and the gallery with it) meanwhile
                self.model.set_verdict(rel, int(got[2].verdict))
            self.verified.emit(rel, got[2])

        in_background(self, work, done, name="studio-gallery-view", on_error=self._failed)

    # -- commands over many files: off the GUI thread -------------------------------------------------------------
    def import_files(self, paths: list[str]) -> None:
        """Copy pictures from other tools into the gallery (the originals untouched) and index them; ``imported``
        says how many."""
        store = self.store

        def work() -> int:
            dest = Path(store.root) / "imported" / time.strftime("%Y-%m-%d")
            done = 0
            for p in map(Path, paths):
                if not p.is_file() or p.suffix.lower() not in PICTURES:
                    continue
                dest.mkdir(parents=True, exist_ok=True)
                shutil.copy2(p, first_free(dest, p.name))
                done += 1
            if done:
                store.reconcile()
            return done

        in_background(self, work, self.imported.emit, name="studio-gallery-import", on_error=self._failed)

    def export(self, paths: list[Path], folder: str, with_metadata: bool = True, fmt: str = "") -> None:
        """Copy pictures to ``folder`` — as they are, or in ``fmt`` (png, jpeg, webp), with their recipes or their
        pixels only; Studio's own are signed as such copies. ``exported`` says how many."""
        finish = self.store.finish

        def work() -> int:
            from studio.core.image.image_metadata import COPY_FORMATS, copy_bytes
            from studio.core.io.atomic import atomic_write_bytes
            from studio.core.io.pictures import open_picture

            done = 0
            for src in paths:
                if not src.is_file():
                    continue
                if with_metadata and not fmt:  # the file itself: its credentials intact
                    shutil.copy2(src, Path(folder) / src.name)
                    done += 1
                    continue
                kind = fmt or {".jpg": "jpeg", ".jpeg": "jpeg", ".webp": "webp"}.get(
                    src.suffix.lower(), "png"
                )
                with open_picture(src) as im:
                    im.load()
                    info, pixels = dict(im.info), im.convert("RGBA" if "A" in im.getbands() else "RGB")
                data = (finish.seal_copy(src, pixels, info, kind, with_metadata) if finish
                        else copy_bytes(pixels, info, kind, with_metadata))  # fmt: skip
                atomic_write_bytes(Path(folder) / (src.stem + COPY_FORMATS[kind][1]), data)
                done += 1
            return done

        in_background(self, work, lambda n: self.exported.emit(n, folder), name="studio-gallery-export",
                      on_error=self._failed)  # fmt: skip

    def reindex(self) -> None:
        """Rebuild the index from the files alone (stars, boards and the trash are kept)."""
        in_background(self, self.store.reindex, lambda _: self.reindexed.emit(), name="studio-gallery-reindex",
                      on_error=self._failed)  # fmt: skip

    def _failed(self, e: BaseException) -> None:
        self.failed.emit(getattr(e, "user_message", None) or f"{getattr(e, 'strerror', None) or e}")
