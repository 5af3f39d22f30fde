"""The gallery's two SQLite databases, opened so that damage never stops Studio.

``index.sqlite`` is a cache of the image files: when it is damaged (garbage, truncated, a folder in its place, a
schema Studio does not know) it is moved aside — kept for inspection — and started again empty; the files rebuild
it. ``library.sqlite`` holds the user's own data (stars, boards, the trash log): when *it* is damaged it is moved
aside the same way (nothing is deleted) and the user is told that their stars and boards are in the kept file.
Either way one sentence goes to ``notices`` for the window and the command line to show once.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import time
from pathlib import Path

from studio.core.io.atomic import file_lock

INDEX_VERSION = 3
INDEX_SCHEMA = """
CREATE TABLE IF NOT EXISTS images (
    id INTEGER PRIMARY KEY,
    rel TEXT NOT NULL UNIQUE,
    created REAL NOT NULL,
    mtime_ns INTEGER NOT NULL,
    size INTEGER NOT NULL,
    source TEXT NOT NULL,
    prompt TEXT NOT NULL,
    negative_prompt TEXT NOT NULL,
    model TEXT NOT NULL,
    sampler TEXT NOT NULL,
    seed TEXT NOT NULL,
    width INTEGER NOT NULL,
    height INTEGER NOT NULL,
    steps INTEGER NOT NULL,
    cfg_scale REAL NOT NULL,
    loras TEXT NOT NULL,
    parent TEXT NOT NULL,
    record TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS images_created ON images(created);
CREATE INDEX IF NOT EXISTS images_parent ON images(parent);
CREATE INDEX IF NOT EXISTS images_model ON images(model);
CREATE INDEX IF NOT EXISTS images_sampler ON images(sampler);
CREATE INDEX IF NOT EXISTS images_size ON images(width, height);
CREATE VIRTUAL TABLE IF NOT EXISTS images_fts USING fts5(prompt, content='images', content_rowid='id',
                                                         tokenize='trigram');
CREATE VIRTUAL TABLE IF NOT EXISTS images_words USING fts5(prompt, content='images', content_rowid='id',
                                                           tokenize='unicode61', prefix='1 2');
-- what each prompt means, as a sentence-embedding model sees it (search by meaning); computed when asked
CREATE TABLE IF NOT EXISTS prompt_vectors (prompt TEXT PRIMARY KEY, model TEXT NOT NULL, vector BLOB NOT NULL);
CREATE TRIGGER IF NOT EXISTS images_ai AFTER INSERT ON images BEGIN
    INSERT INTO images_fts(rowid, prompt) VALUES (new.id, new.prompt);
    INSERT INTO images_words(rowid, prompt) VALUES (new.id, new.prompt);
END;
CREATE TRIGGER IF NOT EXISTS images_ad AFTER DELETE ON images BEGIN
    INSERT INTO images_fts(images_fts, rowid, prompt) VALUES ('delete', old.id, old.prompt);
    INSERT INTO images_words(images_words, rowid, prompt) VALUES ('delete', old.id, old.prompt);
END;
"""
INDEX_COLUMNS = [
    "id",
    "rel",
    "created",
    "mtime_ns",
    "size",
    "source",
    "prompt",
    "negative_prompt",
    "model",
    "sampler",
    "seed",
    "width",
    "height",
    "steps",
    "cfg_scale",
    "loras",
    "parent",
    "record",
]
LIBRARY_SCHEMA = """
CREATE TABLE IF NOT EXISTS lib.stars (rel TEXT PRIMARY KEY);
CREATE TABLE IF NOT EXISTS lib.boards (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE);
CREATE TABLE IF NOT EXISTS lib.board_items (board_id INTEGER NOT NULL, rel TEXT NOT NULL,
                                            PRIMARY KEY (board_id, rel));
CREATE TABLE IF NOT EXISTS lib.trash (trash_rel TEXT PRIMARY KEY, rel TEXT NOT NULL, trashed REAL NOT NULL);
"""
LIBRARY_COLUMNS = {
    "stars": ["rel"],
    "boards": ["id", "name"],
    "board_items": ["board_id", "rel"],
    "trash": ["trash_rel", "rel", "trashed"],
}
_CORRUPTION = ("malformed", "not a database", "no such table", "no such column", "disk i/o", "corrupt",
               "unable to open", "file is not", "has no column")  # fmt: skip


def is_damage(error: BaseException) -> bool:
    """Whether an SQLite error means a damaged or foreign database (not a busy one: that is only waited out)."""
    return isinstance(error, sqlite3.DatabaseError) and any(w in str(error).lower() for w in _CORRUPTION)


def move_aside(path: Path) -> Path | None:
    """Rename a damaged database (and its -wal/-shm files) to ``<name>.damaged-<time>``; None if it could not be."""
    kept = path.with_name(f"{path.name}.damaged-{time.strftime('%Y%m%d-%H%M%S')}")
    n = 1
    while kept.exists():
        n += 1
        kept = path.with_name(f"{path.name}.damaged-{time.strftime('%Y%m%d-%H%M%S')}-{n}")
    try:
        os.replace(path, kept)
    except FileNotFoundError:
        return None
    except OSError:
        return None
    for suffix in ("-wal", "-shm", "-journal"):
        side = path.with_name(path.name + suffix)
        with contextlib.suppress(OSError):
            os.replace(side, kept.with_name(kept.name + suffix))
    return kept


def _columns(db: sqlite3.Connection, schema: str, table: str) -> list[str]:
    return [r[1] for r in db.execute(f"PRAGMA {schema}.table_info({table})")]


def _open_index(path: Path) -> sqlite3.Connection:
    """The index, checked: raises sqlite3.DatabaseError (or OSError) when it is damaged or foreign."""
    db = sqlite3.connect(path, check_same_thread=False, timeout=10.0, isolation_level=None)
    try:
        db.execute("PRAGMA busy_timeout=10000")
        db.execute("PRAGMA journal_mode=WAL")
        version = db.execute("PRAGMA user_version").fetchone()[0]
        names = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        if version == INDEX_VERSION and "images" in names and _columns(db, "main", "images") != INDEX_COLUMNS:
            raise sqlite3.DatabaseError(
                "its images table has columns Studio does not know"
            )  # foreign: kept aside
        if version not in (0, INDEX_VERSION):
            _drop_all(
                db
            )  # an index of another Studio version is a cache: start it again, the files rebuild it
        db.executescript(INDEX_SCHEMA)
        db.execute(f"PRAGMA user_version={INDEX_VERSION}")
        db.execute("SELECT COUNT(*), MAX(created) FROM images").fetchone()  # reads the table through
        db.execute("SELECT rowid FROM images_fts LIMIT 1").fetchall()
        db.execute("SELECT rowid FROM images_words LIMIT 1").fetchall()
        return db
    except BaseException:
        db.close()
        raise


def _drop_all(db: sqlite3.Connection) -> None:
    rows = db.execute(
        "SELECT type, name FROM sqlite_master WHERE type IN ('table','trigger','view') AND name NOT LIKE 'sqlite_%' "
        "AND name NOT LIKE 'images_fts_%' AND name NOT LIKE 'images_words_%'"
    ).fetchall()
    for kind, name in rows:
        with contextlib.suppress(sqlite3.DatabaseError):
            db.execute(f'DROP {kind.upper()} IF EXISTS "{name}"')


def _attach_library(db: sqlite3.Connection, path: Path) -> None:
    db.execute("ATTACH DATABASE ? AS lib", (str(path),))
    try:
        db.execute("PRAGMA lib.journal_mode=WAL")
        db.executescript(LIBRARY_SCHEMA)
        for table, columns in LIBRARY_COLUMNS.items():
            found = _columns(db, "lib", table)
            if found != columns:
                raise sqlite3.DatabaseError(
                    f"library table {table} has no column set {columns} (found {found})"
                )
            db.execute(f"SELECT COUNT(*) FROM lib.{table}").fetchone()
    except BaseException:
        with contextlib.suppress(sqlite3.DatabaseError):
            db.execute("DETACH DATABASE lib")
        raise


def open_gallery_db(index_file: Path, library_file: Path, notices: list[str]) -> sqlite3.Connection:
    """The index with the library attached as ``lib``; damaged files are moved aside and started again. Opened
    under an inter-process lock: two Studios starting at once on a new gallery must not take each other's
    half-created schema for damage."""
    with file_lock(index_file.with_name(f".{index_file.name}.lock")):
        return _open_gallery_db(index_file, library_file, notices)


def _open_gallery_db(index_file: Path, library_file: Path, notices: list[str]) -> sqlite3.Connection:
    try:
        db = _open_index(index_file)
    except (sqlite3.DatabaseError, OSError) as e:
        kept = move_aside(index_file)
        try:
            db = _open_index(index_file)
        except (sqlite3.DatabaseError, OSError):
            db = _open_index(Path(":memory:"))
            notices.append(
                f"The gallery index {index_file} could not be opened ({e}); this session uses a "
                "temporary index. Your images are safe: they are the files in the gallery folder."
            )
        else:
            where = f"the damaged file was kept as {kept.name}" if kept else "it could not be kept"
            notices.append(
                f"The gallery index was damaged ({e}); {where}, and the index is being rebuilt from "
                "your image files. No image was lost."
            )
    try:
        _attach_library(db, library_file)
    except (sqlite3.DatabaseError, OSError) as e:
        kept = move_aside(library_file)
        try:
            _attach_library(db, library_file)
        except (sqlite3.DatabaseError, OSError):
            _attach_library(db, Path(":memory:"))
            notices.append(
                f"The gallery library {library_file} (stars, boards, trash) could not be opened ({e}); "
                "this session keeps them in memory only."
            )
        else:
            where = f"The damaged file was kept as {kept.name}" if kept else "It could not be kept"
            notices.append(
                f"The gallery library (your stars, boards and trash list) was damaged ({e}) and "
                f"started again empty. {where}; your images themselves are safe."
            )
    return db
