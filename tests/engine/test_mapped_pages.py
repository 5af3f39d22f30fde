"""Letting go of a read-only mapping's resident pages (what keeps the OpenVINO engine's weights in memory once, not
twice): the pages leave the process's resident memory, and the bytes read through the mapping are unchanged."""

import mmap
import sys

import pytest

from studio.engine.mapped_pages import mappings, release, released

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="madvise on Linux only")


def resident_file_mb() -> float:
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("RssFile:")) / 1024


def test_the_pages_of_a_mapped_file_leave_resident_memory_and_read_the_same(tmp_path):
    path = tmp_path / "weights.bin"
    data = bytes(range(256)) * (64 * 4096)  # 64 MiB
    path.write_bytes(data)
    with open(path, "rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as view:
        before = resident_file_mb()
        assert view[:] == data  # every page read: resident
        touched = resident_file_mb()
        assert touched - before > 48 and len(mappings(path)) == 1
        assert release(path) == len(data)
        assert touched - resident_file_mb() > 48
        with released(path):
            assert view[:] == data  # read again while letting go: the same bytes
        assert resident_file_mb() - before < 16


def test_a_writable_mapping_is_never_touched(tmp_path):
    path = tmp_path / "notes.bin"
    path.write_bytes(b"\0" * (4 << 20))
    with open(path, "r+b") as f, mmap.mmap(f.fileno(), 0) as view:
        view[:5] = b"hello"  # not yet written back: letting go of this page would lose it
        assert mappings(path) == [] and release(path) == 0
        assert view[:5] == b"hello"
