"""The gallery: PNG files are the truth; an SQLite index (WAL) is a cache rebuilt from them."""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from PIL import Image

from studio.core.errors import ErrorKind, StudioError
from studio.core.image_metadata import RenderInfo, png_info, studio_record
from studio.core.specs import GenerateSpec

_SCHEMA = """
CREATE TABLE IF NOT EXISTS images (
    path TEXT PRIMARY KEY,
    created REAL NOT NULL,
    prompt TEXT NOT NULL,
    negative_prompt TEXT NOT NULL,
    model TEXT NOT NULL,
    sampler TEXT NOT NULL,
    seed INTEGER NOT NULL,
    width INTEGER NOT NULL,
    height INTEGER NOT NULL,
    steps INTEGER NOT NULL,
    cfg_scale REAL NOT NULL,
    record TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS images_created ON images(created);
"""
INDEX_VERSION = 1


@dataclass(frozen=True)
class SavedImage:
    path: Path
    seed: int
    width: int
    height: int
    spec: GenerateSpec
    created: float


def fsync_dir(path: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def write_png_atomic(image: Image.Image, target: Path, pnginfo=None) -> None:
    """Write a PNG so that ``target`` is either absent or complete: temp file, fsync, rename, fsync dir."""
    tmp = target.with_name(f".{target.name}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        with open(tmp, "wb") as f:
            image.save(f, format="PNG", pnginfo=pnginfo, compress_level=4)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    fsync_dir(target.parent)


class GalleryStore:
    """Saves results with their recipe and keeps a searchable index of them. Thread-safe."""

    def __init__(self, root: Path, index_file: Path | None = None, *, dated: bool = True):
        """``dated``: results go into YYYY-MM-DD subfolders (the gallery); else straight into ``root``."""
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self._dated = dated
        self._index_file = index_file or self.root / "index.sqlite"
        self._lock = threading.Lock()
        self._db = sqlite3.connect(self._index_file, check_same_thread=False, timeout=10.0)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA busy_timeout=10000")
        self._db.executescript(_SCHEMA)
        self._db.execute(f"PRAGMA user_version={INDEX_VERSION}")
        self._db.commit()

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def _new_path(self, seed: int) -> Path:
        day = self.root / time.strftime("%Y-%m-%d") if self._dated else self.root
        day.mkdir(parents=True, exist_ok=True)
        return day / f"{time.strftime('%H%M%S')}-{seed}-{uuid.uuid4().hex[:6]}.png"

    def save(self, image: Image.Image, spec: GenerateSpec, info: RenderInfo) -> SavedImage:
        """Write one result (atomically) and index it. Raises ``StudioError`` on disk problems."""
        target = self._new_path(info.seed)
        try:
            write_png_atomic(image, target, png_info(spec, info))
        except OSError as e:
            raise StudioError(
                ErrorKind.IO,
                f"Could not save the image to {target.parent}: {e.strerror or e}. Free some disk space or choose "
                "another gallery folder; nothing already saved was touched.",
                details=repr(e),
            ) from e
        created = time.time()
        record = json.dumps(studio_record(spec, info), ensure_ascii=False)
        with self._lock:
            self._db.execute(
                "INSERT OR REPLACE INTO images VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
                (str(target), created, spec.prompt, spec.negative_prompt, spec.model_name, spec.sampler,
                 str(info.seed), image.width, image.height, spec.steps, spec.cfg_scale, record),
            )
            self._db.commit()
        return SavedImage(target, info.seed, image.width, image.height, spec, created)

    def count(self) -> int:
        with self._lock:
            return int(self._db.execute("SELECT COUNT(*) FROM images").fetchone()[0])

    def recent(self, limit: int = 50) -> list[SavedImage]:
        with self._lock:
            rows = self._db.execute(
                "SELECT path, seed, width, height, record, created FROM images ORDER BY created DESC LIMIT ?",
                (limit,),
            ).fetchall()
        out = []
        for path, seed, w, h, record, created in rows:
            spec = GenerateSpec.from_dict(json.loads(record)["spec"])
            out.append(SavedImage(Path(path), int(seed), w, h, spec, created))
        return out
