"""Keep a read-only file mapping out of the process's resident memory while a library copies from it.

OpenVINO reads a converted network's weights through a mapping of its ``.bin`` file and, when it compiles the
network, repacks them into memory of its own; the compiled network still holds the mapping, so every page it read
stays counted in Studio's resident memory — the weights twice. ``released(path)`` tells the kernel, while the
compile runs and once more after it, that Studio no longer needs those pages in its resident set
(``madvise(MADV_DONTNEED)``). Only read-only mappings are touched: a page needed again is read back from the page
cache, so nothing can change or be lost. Linux only; elsewhere it does nothing."""

from __future__ import annotations

import contextlib
import ctypes
import functools
import os
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

MADV_DONTNEED = 4
EVERY_S = 0.05  # how often the pages are let go while the copy runs: the overshoot stays a few MB


def mappings(path: Path) -> list[tuple[int, int]]:
    """(start, end) of this process's read-only mappings of ``path``."""
    real = os.path.realpath(path)
    found: list[tuple[int, int]] = []
    try:
        with open("/proc/self/maps", encoding="utf-8", errors="replace") as maps:
            for line in maps:
                parts = line.split(None, 5)
                if len(parts) == 6 and parts[5].strip() == real and "w" not in parts[1]:
                    start, end = (int(x, 16) for x in parts[0].split("-"))
                    found.append((start, end))
    except OSError:
        return []
    return found


@functools.cache
def _madvise() -> Any:
    libc = ctypes.CDLL(None, use_errno=True)
    libc.madvise.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
    return libc.madvise


def release(path: Path) -> int:
    """Let go of the resident pages of ``path``'s read-only mappings; the bytes released from the mappings."""
    if not sys.platform.startswith("linux"):
        return 0
    released = 0
    for start, end in mappings(path):
        if _madvise()(start, end - start, MADV_DONTNEED) == 0:
            released += end - start
    return released


@contextlib.contextmanager
def released(path: Path) -> Iterator[None]:
    """Keep ``path``'s mapped pages out of the resident set while the block runs, and after it."""
    if not sys.platform.startswith("linux"):
        yield
        return
    stop = threading.Event()

    def run() -> None:
        while not stop.wait(EVERY_S):
            release(path)

    thread = threading.Thread(target=run, name="studio-mapped-pages", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()
        release(path)
