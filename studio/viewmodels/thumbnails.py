"""Thumbnails decoded off the GUI thread, at thumbnail size, and kept on disk so the next start is instant."""

from __future__ import annotations

import collections
import contextlib
import hashlib
import os
import threading
from pathlib import Path

from PIL import Image, ImageOps
from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtGui import QImage

from studio.core.gallery.sound_rows import is_sound
from studio.core.io.atomic import temp_path
from studio.core.io.pictures import open_picture
from studio.core.sound.pictures import sound_thumbnail

THUMB_SIZE = 160
MEMORY_ITEMS = 800  # ~60 MB of 160-px RGB thumbnails, far more than a screenful
QUEUE_LIMIT = 256  # scrolling fast: requests older than this many are dropped (those cells are off screen)


def thumb_key(rel: str, stamp: float) -> str:
    return hashlib.sha1(f"{rel}|{stamp!r}".encode()).hexdigest()


class ThumbnailCache(QObject):
    """``get(key, path)`` answers from memory at once, else returns None and loads it in the background;
    ``ready(key)`` says when it has arrived."""

    ready = Signal(str)
    _loaded = Signal(str, QImage)

    def __init__(self, folder: Path, workers: int = 2, parent: QObject | None = None):
        super().__init__(parent)
        self.folder = folder
        self.folder.mkdir(parents=True, exist_ok=True)
        self._memory: collections.OrderedDict[str, QImage] = collections.OrderedDict()
        self._todo: collections.OrderedDict[str, Path] = collections.OrderedDict()
        self._cv = threading.Condition()
        self._stop = False
        self._loaded.connect(self._store, Qt.ConnectionType.QueuedConnection)
        self._threads = [
            threading.Thread(target=self._work, name=f"studio-thumbs-{i}", daemon=True)
            for i in range(workers)
        ]
        for t in self._threads:
            t.start()

    def get(self, key: str, path: Path) -> QImage | None:
        image = self._memory.get(key)
        if image is not None:
            self._memory.move_to_end(key)
            return image
        with self._cv:
            self._todo[key] = path
            self._todo.move_to_end(key)  # newest first: what is on screen now
            while len(self._todo) > QUEUE_LIMIT:
                self._todo.popitem(last=False)
            self._cv.notify()
        return None

    def close(self) -> None:
        with self._cv:
            self._stop = True
            self._todo.clear()
            self._cv.notify_all()
        for t in self._threads:
            t.join(timeout=2)

    def _store(self, key: str, image: QImage) -> None:
        self._memory[key] = image
        while len(self._memory) > MEMORY_ITEMS:
            self._memory.popitem(last=False)
        self.ready.emit(key)

    def _work(self) -> None:
        while True:
            with self._cv:
                while not self._todo and not self._stop:
                    self._cv.wait()
                if self._stop:
                    return
                key, path = self._todo.popitem(last=True)
            image = self._load(key, path)
            if image is not None:
                self._loaded.emit(key, image)

    def _load(self, key: str, path: Path) -> QImage | None:
        cached = self.folder / key[:2] / f"{key}.jpg"
        if cached.is_file():
            image = QImage(str(cached))
            if not image.isNull():
                return image
        if is_sound(path):  # a sound's cell: its waveform over its spectrogram
            made = sound_thumbnail(path, THUMB_SIZE)
            if made is None:
                return None
            return self._keep(cached, made)
        try:
            with open_picture(path) as raw:
                raw.draft("RGB", (THUMB_SIZE, THUMB_SIZE))  # JPEG decodes at a reduced scale
                im = ImageOps.exif_transpose(raw)
                im.thumbnail((THUMB_SIZE, THUMB_SIZE), Image.Resampling.BILINEAR, reducing_gap=2.0)
                rgb = im.convert("RGB")
        except Exception:  # noqa: BLE001 - a broken file shows the "unreadable" cell, never a crash
            return None
        return self._keep(cached, rgb)

    @staticmethod
    def _keep(cached: Path, rgb: Image.Image) -> QImage:
        """The thumbnail kept on disk for the next start, and as a QImage now."""
        cached.parent.mkdir(parents=True, exist_ok=True)
        tmp = temp_path(cached)
        with contextlib.suppress(OSError):
            rgb.save(tmp, "JPEG", quality=85)
            os.replace(tmp, cached)
        data = rgb.tobytes("raw", "RGB")
        return QImage(data, rgb.width, rgb.height, rgb.width * 3, QImage.Format.Format_RGB888).copy()
