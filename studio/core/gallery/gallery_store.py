"""The gallery: image files are the truth; an SQLite index (WAL) is a cache rebuilt from them.

Two databases: ``index.sqlite`` (the cache: one row per image file, plus a trigram full-text index over prompts)
and ``library.sqlite`` in the gallery folder (the user's own data: stars, boards and the trash log), which a
reindex never touches. Paths in both are relative to the gallery folder, so the folder can move.
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import stat
import threading
import time
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from PIL import Image

from studio.core.gallery.gallery_db import is_damage, move_aside, open_gallery_db
from studio.core.gallery.gallery_query import (
    ROW_COLUMNS,
    GalleryFilter,
    GalleryRow,
    order_clause,
    text_queries,
    where_clause,
)
from studio.core.gallery.gallery_rows import INSERT_ROW, row_values
from studio.core.gallery.picture_writing import Finishing, screen, write_picture
from studio.core.image.image_metadata import RenderInfo, png_info, studio_record
from studio.core.image.recipe_readers import Recipe, read_recipe
from studio.core.image.specs import GenerateSpec
from studio.core.io.atomic import TEMP_NAME, clean_stale_temps
from studio.core.io.trash import Trash, Trashed
from studio.core.io.untrusted import Unreadable
from studio.core.jobs.errors import ErrorKind, StudioError
from studio.core.sound.audio_files import SOUND_SUFFIXES, read_tags

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp")


@dataclass(frozen=True)
class SavedImage:
    path: Path
    seed: int
    width: int
    height: int
    spec: GenerateSpec
    created: float


@dataclass
class CheckReport:
    orphans: list[str] = field(default_factory=list)  # files the index does not know
    missing: list[str] = field(default_factory=list)  # index rows whose file is gone
    unreadable: list[str] = field(default_factory=list)  # files that are not whole images
    leftovers: list[str] = field(default_factory=list)  # temporary files of interrupted saves (harmless)

    @property
    def ok(self) -> bool:
        return not (self.orphans or self.missing or self.unreadable)


def _row(r: tuple) -> GalleryRow:
    """A GalleryRow from a ``ROW_COLUMNS`` result (the last column is the star, 0 or 1)."""
    return GalleryRow(
        r[0],
        r[1],
        r[2],
        r[3],
        r[4],
        r[5],
        r[6],
        r[7],
        r[8],
        r[9],
        r[10],
        r[11],
        r[12],
        r[13],
        r[14],
        bool(r[15]),
    )


class GalleryStore:
    """Saves results with their recipe, keeps the index in step with the files, answers the browser. Thread-safe."""

    def __init__(self, root: Path, index_file: Path | None = None, *, dated: bool = True):
        """``dated``: results go into YYYY-MM-DD subfolders (the gallery); else straight into ``root``.
        With an ``index_file`` elsewhere (a plain output folder), the library lives beside it too."""
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self._trash = Trash(self.root)
        self._dated = dated
        self._index_file = index_file or self.root / "index.sqlite"
        self._library_file = (
            self.root / "library.sqlite"
            if index_file is None
            else self._index_file.with_name(self._index_file.stem + "-library.sqlite")
        )
        self._lock = threading.RLock()
        self.notices: list[str] = []
        self._db = self._open()
        self._writes = 0  # bumped by every change made here (SQLite's data_version counts other processes')
        self._order_cache: tuple[tuple[bool, int, int], list[int]] | None = None
        self.finish: Finishing | None = None  # set by the runtime: provenance and the content filter

    # -- set-up ------------------------------------------------------------------------------------------------
    def _open(self) -> sqlite3.Connection:
        return open_gallery_db(self._index_file, self._library_file, self.notices)

    def take_notices(self) -> list[str]:
        """What the store had to repair (a damaged index or library), each said once."""
        with self._lock:
            out, self.notices[:] = list(self.notices), []
        return out + (self.finish.take_notices() if self.finish else [])

    def _heal(self, error: BaseException) -> None:
        """A database turned out damaged while in use: reopen (moving the damaged one aside)."""
        with self._lock:
            self.notices.append(f"The gallery database failed while in use ({error}); it was repaired.")
            with contextlib.suppress(sqlite3.Error):
                self._db.close()
            main_ok = lib_ok = False
            try:
                probe = sqlite3.connect(self._index_file)
                main_ok = probe.execute("PRAGMA quick_check(1)").fetchone()[0] == "ok"
                probe.close()
                probe = sqlite3.connect(self._library_file)
                lib_ok = probe.execute("PRAGMA quick_check(1)").fetchone()[0] == "ok"
                probe.close()
            except sqlite3.Error:
                pass
            if not main_ok:
                move_aside(self._index_file)
            if not lib_ok:
                move_aside(self._library_file)
            self._db = self._open()
            self._order_cache = None

    def close(self) -> None:
        with self._lock:
            self._db.close()
            self.closed = True

    closed = False

    @contextlib.contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")
            self._writes += 1

    def rel(self, path: str | Path) -> str:
        p = Path(path)
        try:
            return p.resolve().relative_to(self.root.resolve()).as_posix()
        except ValueError:
            return p.as_posix()

    def path(self, rel: str) -> Path:
        return self.root / rel

    # -- writing results -------------------------------------------------------------------------------------------
    def new_path(self, seed: int, suffix: str = ".png") -> Path:
        day = self.root / time.strftime("%Y-%m-%d") if self._dated else self.root
        day.mkdir(parents=True, exist_ok=True)
        return day / f"{time.strftime('%H%M%S')}-{seed}-{uuid.uuid4().hex[:6]}{suffix}"

    def save(self, image: Image.Image, spec: GenerateSpec, info: RenderInfo) -> SavedImage:
        """Write one picture (atomically) with its own recipe (``GenerateSpec.for_image``), then index it. Raises
        ``StudioError`` on disk problems."""
        target = self.root / "?"
        record = studio_record(spec, info)
        screen(self.finish, image)
        try:
            target = self.new_path(spec.seed)
            write_picture(image, target, png_info(spec, info), record, self.finish)
        except OSError as e:
            raise StudioError(
                ErrorKind.IO,
                f"Could not save the image to {target.parent}: {e.strerror or e}. Free some disk space or choose "
                "another gallery folder; nothing already saved was touched.",
                details=repr(e),
            ) from e
        created = time.time()
        recipe = Recipe(source="studio", prompt=spec.prompt, negative_prompt=spec.negative_prompt, steps=spec.steps,
                        sampler=spec.sampler, schedule=spec.schedule, cfg_scale=spec.cfg_scale, seed=spec.seed,
                        width=image.width, height=image.height, model=spec.model_name,
                        loras=[lo.name for lo in spec.loras], studio_spec=record["spec"])  # fmt: skip
        values = row_values(
            self.rel(target), created, target.stat(), recipe, json.dumps(record, ensure_ascii=False)
        )
        with self._tx() as db:
            db.execute("DELETE FROM images WHERE rel=?", (values[0],))
            db.execute(INSERT_ROW, values)
        return SavedImage(target, spec.seed, image.width, image.height, spec, created)

    # -- keeping the index in step with the files ------------------------------------------------------------------
    def _files(self) -> Iterator[Path]:
        """The image files of the gallery: regular files only (a pipe named *.png would block a reader)."""
        for dirpath, dirnames, filenames in os.walk(self.root):
            dirnames[:] = [d for d in dirnames if not d.startswith(".")]
            for name in filenames:
                if not name.startswith(".") and name.lower().endswith(IMAGE_SUFFIXES + SOUND_SUFFIXES):
                    path = Path(dirpath) / name
                    with contextlib.suppress(OSError):
                        if stat.S_ISREG(path.stat().st_mode):
                            yield path

    def _values_for(self, path: Path, st: os.stat_result) -> tuple:
        """The index row of a file (reads its metadata; call outside the lock). Never raises for a bad file."""
        if path.suffix.lower() in SOUND_SUFFIXES:
            from studio.core.gallery.sound_rows import sound_row

            return sound_row(self.rel(path), path, st, read_tags(path))
        recipe = read_recipe(path)
        record = ""
        if recipe.studio_spec is not None:
            with contextlib.suppress(Exception), Image.open(path) as im:
                record = str(im.info.get("studio", ""))
        return row_values(self.rel(path), st.st_mtime, st, recipe, record)

    def _put(self, db: sqlite3.Connection, values: tuple) -> None:
        db.execute("DELETE FROM images WHERE rel=?", (values[0],))
        db.execute(INSERT_ROW, values)

    def reconcile(self, batch: int = 100) -> dict[str, int]:
        """Index new or changed files and forget vanished ones. Never deletes an image. Files are read outside
        the lock and written in small transactions, so the browser stays responsive meanwhile. A database found
        damaged on the way is repaired and the pass made again; temporary files of interrupted saves (older than
        a few minutes) are cleaned up."""
        clean_stale_temps(self.root, recursive=True)
        try:
            return self._reconcile(batch)
        except sqlite3.DatabaseError as e:
            if not is_damage(e):
                raise
            self._heal(e)
            return self._reconcile(batch)

    def _reconcile(self, batch: int) -> dict[str, int]:
        with self._lock:
            known = {rel: (m, s) for rel, m, s in self._db.execute("SELECT rel, mtime_ns, size FROM images")}
        seen: set[str] = set()
        todo: list[tuple[Path, os.stat_result]] = []
        for path in self._files():
            rel = self.rel(path)
            seen.add(rel)
            try:
                st = path.stat()
            except OSError:
                continue
            if known.get(rel) != (st.st_mtime_ns, st.st_size):
                todo.append((path, st))
        gone = [rel for rel in known if rel not in seen]
        for i in range(0, len(todo), batch):
            rows = [self._values_for(path, st) for path, st in todo[i : i + batch]]
            with self._tx() as db:
                for values in rows:
                    self._put(db, values)
        with self._tx() as db:
            db.executemany("DELETE FROM images WHERE rel=?", [(rel,) for rel in gone])
        added = sum(1 for p, _ in todo if self.rel(p) not in known)
        return {"added": added, "updated": len(todo) - added, "removed": len(gone)}

    def reindex(self) -> dict[str, int]:
        """Rebuild the index from the files alone (stars, boards and trash are kept: they live in the library).
        Works on a damaged index too: it is moved aside and started again."""
        try:
            self._clear_index()
        except sqlite3.DatabaseError as e:
            if not is_damage(e):
                raise
            self._heal(e)
            self._clear_index()
        return self.reconcile()

    def _clear_index(self) -> None:
        with self._tx() as db:
            db.execute("DELETE FROM images")
            db.execute("DELETE FROM prompt_vectors")  # the meanings are computed again
            db.execute("INSERT INTO images_fts(images_fts) VALUES ('delete-all')")
            db.execute("INSERT INTO images_words(images_words) VALUES ('delete-all')")

    def check(self) -> CheckReport:
        report = CheckReport()
        with self._lock:
            known = {rel for (rel,) in self._db.execute("SELECT rel FROM images")}
        on_disk = set()
        for path in self._files():
            rel = self.rel(path)
            on_disk.add(rel)
            if rel not in known:
                report.orphans.append(rel)
            try:
                if path.suffix.lower() in SOUND_SUFFIXES:
                    if isinstance(read_tags(path), Unreadable):
                        raise ValueError(rel)
                else:
                    with Image.open(path) as im:
                        im.verify()
            except Exception:  # noqa: BLE001 - any failure means "not a whole image"
                report.unreadable.append(rel)
        report.missing = sorted(known - on_disk)
        for dirpath, _, filenames in os.walk(self.root):
            report.leftovers += [self.rel(Path(dirpath) / n) for n in filenames if TEMP_NAME.match(n)]
        return report

    # -- for what is built on the index (the prompts' meanings) -------------------------------------------------
    def read(self, sql: str, args: Sequence[Any] = ()) -> list[tuple]:
        with self._lock:
            return self._db.execute(sql, args).fetchall()

    def transaction(self) -> contextlib.AbstractContextManager[sqlite3.Connection]:
        return self._tx()

    def version(self) -> tuple[int, int]:
        """Changes when the index changes, here or in another process."""
        with self._lock:
            return int(self._db.execute("PRAGMA data_version").fetchone()[0]), self._writes

    # -- reading -----------------------------------------------------------------------------------------------
    def count(self) -> int:
        with self._lock:
            return int(self._db.execute("SELECT COUNT(*) FROM images").fetchone()[0])

    def ids(self, f: GalleryFilter | None = None) -> list[int]:
        """The ids of the matching images in display order (cheap even at 100 000 rows)."""
        f = f or GalleryFilter()
        if f == GalleryFilter(text=f.text, newest_first=f.newest_first):
            return self._text_only(f)
        where, args = where_clause(f)
        stars = " JOIN lib.stars s ON s.rel = i.rel" if f.starred else ""  # the join only when it filters
        sql = "SELECT i.id FROM images i" + stars + where + order_clause(f)
        with self._lock:
            return [r[0] for r in self._db.execute(sql, args)]

    def _ordered(self, newest_first: bool) -> list[int]:
        """Every id in display order, kept between calls until the index changes (here or in another process)."""
        version = self._db.execute("PRAGMA data_version").fetchone()[0]
        key = (newest_first, version, self._writes)
        if self._order_cache is None or self._order_cache[0] != key:
            sql = "SELECT i.id FROM images i" + order_clause(GalleryFilter(newest_first=newest_first))
            self._order_cache = (key, [r[0] for r in self._db.execute(sql)])
        return self._order_cache[1]

    def _text_only(self, f: GalleryFilter) -> list[int]:
        """A search with no other filter: the matching ids from the text indexes, kept in the cached order."""
        queries = text_queries(f.text)
        with self._lock:
            ordered = self._ordered(f.newest_first)
            if not queries:
                return list(ordered)
            matches: set[int] | None = None
            for sql, arg in queries:
                found = {r[0] for r in self._db.execute(sql, (arg,))}
                matches = found if matches is None else matches & found
        return [i for i in ordered if i in (matches or set())]

    def rows(self, ids: list[int]) -> list[GalleryRow]:
        """Rows for these ids, in the same order (missing ids are skipped)."""
        if not ids:
            return []
        marks = ",".join("?" * len(ids))
        sql = f"SELECT {ROW_COLUMNS} FROM images i LEFT JOIN lib.stars s ON s.rel = i.rel WHERE i.id IN ({marks})"
        with self._lock:
            found = {r[0]: _row(r) for r in self._db.execute(sql, ids)}
        return [found[i] for i in ids if i in found]

    def row_by_rel(self, rel: str) -> GalleryRow | None:
        with self._lock:
            r = self._db.execute("SELECT id FROM images WHERE rel=?", (rel,)).fetchone()
        return self.rows([r[0]])[0] if r else None

    def children(self, rel: str) -> list[GalleryRow]:
        """Images made from this one (img2img / inpaint), oldest first."""
        absolute = str(self.path(rel))
        with self._lock:
            ids = [
                r[0]
                for r in self._db.execute(
                    "SELECT id FROM images WHERE parent IN (?, ?) ORDER BY created", (rel, absolute)
                )
            ]
        return self.rows(ids)

    def distinct(self, column: str) -> list[str]:
        if column not in ("model", "sampler"):
            raise ValueError(column)
        with self._lock:
            return [
                r[0]
                for r in self._db.execute(
                    f"SELECT DISTINCT {column} FROM images WHERE {column} != '' ORDER BY {column}"
                )
            ]

    def sizes(self) -> list[tuple[int, int]]:
        with self._lock:
            return [
                (w, h)
                for w, h in self._db.execute(
                    "SELECT DISTINCT width, height FROM images WHERE width > 0 ORDER BY width * height, width"
                )
            ]

    def lora_names(self) -> list[str]:
        with self._lock:
            joined = [r[0] for r in self._db.execute("SELECT DISTINCT loras FROM images WHERE loras != ''")]
        return sorted({name for j in joined for name in j.split(",") if name}, key=str.lower)

    def recent(self, limit: int = 50) -> list[SavedImage]:
        """The newest images Studio made (their recipes in one query)."""
        with self._lock:
            rows = self._db.execute(
                "SELECT rel, seed, width, height, record, created FROM images "
                "ORDER BY created DESC, id DESC LIMIT ?",
                (limit,),
            ).fetchall()
        out = []
        for rel, seed, width, height, record, created in rows:
            with contextlib.suppress(ValueError, KeyError, TypeError, RecursionError):
                spec = GenerateSpec.from_dict(json.loads(record)["spec"])
                out.append(SavedImage(self.path(rel), int(seed), width, height, spec, created))
        return out

    # -- the user's library: stars, boards, trash -------------------------------------------------------------------
    def set_starred(self, rels: list[str], starred: bool) -> None:
        with self._tx() as db:
            if starred:
                db.executemany("INSERT OR IGNORE INTO lib.stars VALUES (?)", [(r,) for r in rels])
            else:
                db.executemany("DELETE FROM lib.stars WHERE rel=?", [(r,) for r in rels])

    def boards(self) -> list[tuple[int, str, int]]:
        """(id, name, image count) of each board, by name."""
        with self._lock:
            return [
                tuple(r)
                for r in self._db.execute(
                    "SELECT b.id, b.name, COUNT(bi.rel) FROM lib.boards b LEFT JOIN lib.board_items bi "
                    "ON bi.board_id = b.id GROUP BY b.id ORDER BY b.name COLLATE NOCASE"
                )
            ]

    def create_board(self, name: str) -> int:
        name = name.strip()
        if not name:
            raise StudioError(ErrorKind.INVALID_INPUT, "A board needs a name.", field="board")
        with self._tx() as db:
            found = db.execute("SELECT id FROM lib.boards WHERE name=?", (name,)).fetchone()
            if found:
                return int(found[0])
            return int(db.execute("INSERT INTO lib.boards (name) VALUES (?)", (name,)).lastrowid or 0)

    def delete_board(self, board_id: int) -> None:
        """Forget a board (its images stay in the gallery)."""
        with self._tx() as db:
            db.execute("DELETE FROM lib.board_items WHERE board_id=?", (board_id,))
            db.execute("DELETE FROM lib.boards WHERE id=?", (board_id,))

    def add_to_board(self, board_id: int, rels: list[str]) -> None:
        with self._tx() as db:
            db.executemany(
                "INSERT OR IGNORE INTO lib.board_items VALUES (?, ?)", [(board_id, r) for r in rels]
            )

    def remove_from_board(self, board_id: int, rels: list[str]) -> None:
        with self._tx() as db:
            db.executemany(
                "DELETE FROM lib.board_items WHERE board_id=? AND rel=?", [(board_id, r) for r in rels]
            )

    def trash(self, rels: list[str]) -> tuple[Trashed, ...]:
        """Move images into the trash (``core.io.trash``; undo with ``restore``); their rows leave the index."""
        moves = []
        now = time.time()
        for rel in rels:
            src = self.path(rel)
            if not src.exists():
                continue
            try:
                item = self._trash.put(src)
            except OSError as e:
                raise StudioError(
                    ErrorKind.IO, f"Could not move {rel} to the trash: {e.strerror or e}."
                ) from e
            moves.append(item)
            with self._tx() as db:
                db.execute("DELETE FROM images WHERE rel=?", (rel,))
                db.execute(
                    "INSERT OR REPLACE INTO lib.trash VALUES (?, ?, ?)", (self.rel(item.trashed), rel, now)
                )
        return tuple(moves)

    def restore(self, trashed: tuple[Trashed, ...]) -> list[str]:
        """Undo a ``trash``: the files go back where they were and are indexed again."""
        restored = []
        for item in trashed:
            if not item.trashed.exists():
                continue
            dest = self._trash.restore(item)
            values = self._values_for(dest, dest.stat())
            with self._tx() as db:
                db.execute("DELETE FROM lib.trash WHERE trash_rel=?", (self.rel(item.trashed),))
                self._put(db, values)
            restored.append(self.rel(dest))
        return restored

    def trash_count(self) -> int:
        with self._lock:
            return int(self._db.execute("SELECT COUNT(*) FROM lib.trash").fetchone()[0])

    def empty_trash(self) -> int:
        """Delete the trashed files for good. Returns how many were deleted."""
        count = self._trash.empty()
        with self._tx() as db:
            trashed = [r for (r,) in db.execute("SELECT rel FROM lib.trash")]
            db.execute("DELETE FROM lib.trash")
            db.executemany("DELETE FROM lib.stars WHERE rel=?", [(r,) for r in trashed])
            db.executemany("DELETE FROM lib.board_items WHERE rel=?", [(r,) for r in trashed])
        return count
