"""The canvas's recovery copy, written after every stroke: each layer's picture once per revision
(``<id>-<rev>.png``, whole or not at all), then a manifest naming them (written to a temporary file and renamed). A
kill -9 at any moment leaves the last whole manifest and the pictures it names, so at most the stroke under way
is lost. A writer thread takes the newest state only: fast strokes never queue up behind the disk."""

from __future__ import annotations

import contextlib
import io
import json
import threading
from pathlib import Path
from typing import Any

from PIL import Image, UnidentifiedImageError

from studio.core.image.canvas_doc import KINDS, CanvasDoc, Layer
from studio.core.io.atomic import atomic_write_bytes, atomic_write_text
from studio.core.io.pictures import open_picture

MANIFEST = "manifest.json"


class CanvasJournal:
    def __init__(self, folder: Path):
        self.folder = folder

    def record(self, width: int, height: int, layers: tuple[Layer, ...], source: str = "") -> None:
        """Write this state (``source``: the .ora it was opened from or saved to, if any)."""
        self.folder.mkdir(parents=True, exist_ok=True)
        entries = []
        for lay in layers:
            file = f"{lay.id}-{lay.rev}.png"
            if not (self.folder / file).exists():
                buf = io.BytesIO()
                lay.image.save(buf, format="PNG", compress_level=1)  # fast: written after every stroke
                atomic_write_bytes(self.folder / file, buf.getvalue())
            entries.append({"id": lay.id, "rev": lay.rev, "file": file, "name": lay.name, "kind": lay.kind,
                            "x": lay.x, "y": lay.y, "visible": lay.visible, "opacity": lay.opacity,
                            "recipe": lay.recipe})  # fmt: skip
        manifest = {"version": 1, "width": width, "height": height, "source": source, "layers": entries}
        atomic_write_text(self.folder / MANIFEST, json.dumps(manifest, ensure_ascii=False))
        named = {e["file"] for e in entries} | {MANIFEST}
        for old in self.folder.glob("*.png"):  # earlier revisions, no longer named
            if old.name not in named:
                with contextlib.suppress(OSError):
                    old.unlink()

    def recover(self) -> tuple[CanvasDoc, str] | None:
        """The last whole state and its source, or None when there is none (or it cannot be read)."""
        try:
            data = json.loads((self.folder / MANIFEST).read_text(encoding="utf-8"))
            layers = tuple(self._layer(e) for e in data["layers"])
            return CanvasDoc(int(data["width"]), int(data["height"]), layers), str(data.get("source") or "")
        except (
            OSError,
            ValueError,
            KeyError,
            TypeError,
            UnidentifiedImageError,
            Image.DecompressionBombError,
        ):
            return None

    def _layer(self, e: dict[str, Any]) -> Layer:
        with open_picture(str(self.folder / Path(str(e["file"])).name)) as im:
            image = im.convert("RGBA")
        kind = e["kind"] if e.get("kind") in KINDS else "paint"
        recipe = e.get("recipe") if isinstance(e.get("recipe"), dict) else None
        return Layer(str(e["name"])[:200], kind, image, int(e["x"]), int(e["y"]), bool(e["visible"]),
                     float(e["opacity"]), recipe, str(e["id"])[:32], int(e["rev"]))  # fmt: skip

    def discard(self) -> None:
        for file in [*self.folder.glob("*.png"), self.folder / MANIFEST]:
            with contextlib.suppress(OSError):
                file.unlink()


class JournalWriter:
    """Writes a journal on a thread of its own, newest state first; ``flush`` waits until it is on disk."""

    def __init__(self, journal: CanvasJournal, on_error: Any = None):
        self.journal, self._on_error = journal, on_error
        self._pending: tuple[Any, ...] | None = None
        self._busy = self._closed = False
        self._lock = threading.Condition()
        self._thread = threading.Thread(target=self._run, name="canvas-autosave", daemon=True)
        self._thread.start()

    def submit(self, width: int, height: int, layers: tuple[Layer, ...], source: str = "") -> None:
        with self._lock:
            self._pending = (width, height, layers, source)
            self._lock.notify_all()

    def close(self) -> None:
        """Write what is pending, then let the thread end."""
        self.flush()
        with self._lock:
            self._closed = True
            self._lock.notify_all()

    def flush(self, timeout: float = 10.0) -> bool:
        with self._lock:
            return self._lock.wait_for(lambda: self._pending is None and not self._busy, timeout)

    def _run(self) -> None:
        while True:
            with self._lock:
                self._lock.wait_for(lambda: self._pending is not None or self._closed)
                if self._pending is None:
                    return
                state, self._pending, self._busy = self._pending, None, True
            try:
                self.journal.record(*state)  # type: ignore[misc]
            except OSError as e:  # a full disk: said, and the next stroke tries again
                if self._on_error is not None:
                    self._on_error(e)
            finally:
                with self._lock:
                    self._busy = False
                    self._lock.notify_all()
