"""Writing a file so that it is either the old version or the new one, never a mix: a temporary file beside it
with a name no other writer uses, fsync, rename over it, fsync the folder. Readers therefore never see half a
file, and two processes saving the same file at once never write into each other's temporary file.

Also here: an inter-process lock for read-modify-write cycles (settings, the queue), and the clean-up of the
temporary files that interrupted writes leave behind (only Studio's own, recognised by their name).
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import BinaryIO

# ".<target name>.<8 hex digits>.tmp": what atomic_write (and temp_path) name their temporary files and folders
TEMP_NAME = re.compile(r"^\..+\.[0-9a-f]{8}\.tmp$")
STALE_AFTER_S = 15 * 60  # a write takes seconds; an older temporary file is an interrupted one


def fsync_dir(path: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def temp_path(target: Path) -> Path:
    """A temporary name beside ``target`` that no other writer uses (and that ``clean_stale_temps`` knows)."""
    return target.with_name(f".{target.name}.{uuid.uuid4().hex[:8]}.tmp")


def atomic_write(target: Path, write: Callable[[BinaryIO], object]) -> None:
    tmp = temp_path(target)
    try:
        with open(tmp, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    fsync_dir(target.parent)


@contextlib.contextmanager
def atomic_path(target: Path) -> Iterator[Path]:
    """For writers that want a path (a library's ``save(path)``): a temporary path beside ``target``, published
    (fsync, rename) when the block ends, removed when it fails."""
    tmp = temp_path(target)
    try:
        yield tmp
        fd = os.open(tmp, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    fsync_dir(target.parent)


def atomic_write_bytes(target: Path, data: bytes) -> None:
    atomic_write(target, lambda f: f.write(data))


def atomic_write_text(target: Path, text: str) -> None:
    atomic_write_bytes(target, text.encode("utf-8"))


def free_name(folder: Path, name: str, sep: str = "-", start: int = 1) -> Iterator[Path]:
    """``folder/name``, then ``name-1``, ``name-2``, … (stem and suffix kept; ``sep`` and ``start`` give
    "Title 2.md", "Title 3.md" where a name is shown to the user)."""
    base = Path(name)
    yield folder / name
    n = start
    while True:
        yield folder / f"{base.stem}{sep}{n}{base.suffix}"
        n += 1


def first_free(folder: Path, name: str, sep: str = "-", start: int = 1) -> Path:
    """The first of ``free_name``'s paths that does not exist yet."""
    return next(p for p in free_name(folder, name, sep, start) if not p.exists())


def atomic_copy_new(source: Path, folder: Path, name: str) -> Path:
    """Copy ``source`` into ``folder`` as ``name`` (or the next free variant): written under a temporary name,
    fsynced, then published without ever overwriting a file that appeared meanwhile. Returns the new path."""
    folder.mkdir(parents=True, exist_ok=True)
    tmp = temp_path(folder / name)
    try:
        with open(source, "rb") as src, open(tmp, "wb") as out:
            shutil.copyfileobj(src, out, 8 << 20)
            out.flush()
            os.fsync(out.fileno())
        for dest in free_name(folder, name):
            if dest.exists() or dest.is_symlink():
                continue
            try:
                os.link(tmp, dest)  # fails if dest exists: never overwrites
            except FileExistsError:
                continue
            except OSError:  # no hard links here (some file systems): the next best thing
                os.replace(tmp, dest)
            fsync_dir(folder)
            return dest
    finally:
        with contextlib.suppress(OSError):
            tmp.unlink()
    raise AssertionError("unreachable")


@contextlib.contextmanager
def file_lock(lock_file: Path, timeout: float = 10.0) -> Iterator[None]:
    """Hold an exclusive inter-process lock on ``lock_file`` (created if needed) for a read-modify-write.
    After ``timeout`` seconds the work goes ahead without it (a stuck process must not freeze another)."""
    lock_file.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(lock_file, os.O_RDWR | os.O_CREAT, 0o644)
    locked = False
    try:
        deadline = time.monotonic() + timeout
        while True:
            try:
                _lock(fd)
                locked = True
                break
            except OSError:
                if time.monotonic() > deadline:
                    break
                time.sleep(0.01)
        yield
    finally:
        if locked:
            with contextlib.suppress(OSError):
                _unlock(fd)
        os.close(fd)


if sys.platform == "win32":  # pragma: no cover - Windows
    import msvcrt

    def _lock(fd: int) -> None:
        msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)

    def _unlock(fd: int) -> None:
        msvcrt.locking(fd, msvcrt.LK_UNLCK, 1)

else:
    import fcntl

    def _lock(fd: int) -> None:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)

    def _unlock(fd: int) -> None:
        fcntl.flock(fd, fcntl.LOCK_UN)


def clean_stale_temps(
    folder: Path, *, recursive: bool = False, older_than_s: float = STALE_AFTER_S, max_entries: int = 200_000
) -> int:
    """Delete the temporary files (and folders) of interrupted writes in ``folder``: only names of Studio's own
    pattern, only older than ``older_than_s`` (another process may be writing a fresh one right now).
    Returns how many bytes were freed. Never follows links; never raises."""
    freed = 0
    now = time.time()
    seen = 0
    stack = [Path(folder)]
    while stack:
        current = stack.pop()
        try:
            entries = list(os.scandir(current))
        except OSError:
            continue
        for entry in entries:
            seen += 1
            if seen > max_entries:
                return freed
            try:
                is_dir = entry.is_dir(follow_symlinks=False)
                if TEMP_NAME.match(entry.name):
                    st = entry.stat(follow_symlinks=False)
                    if now - st.st_mtime < older_than_s:
                        continue
                    if is_dir:
                        freed += _tree_size(Path(entry.path))
                        shutil.rmtree(entry.path, ignore_errors=True)
                    else:
                        freed += st.st_size
                        os.unlink(entry.path)
                elif is_dir and recursive:
                    stack.append(Path(entry.path))
            except OSError:
                continue
    return freed


def _tree_size(folder: Path) -> int:
    total = 0
    for dirpath, _dirs, files in os.walk(folder):
        for name in files:
            with contextlib.suppress(OSError):
                total += os.lstat(os.path.join(dirpath, name)).st_size
    return total
