"""The gallery at scale: 100 000 indexed images (first paint, search, model memory), a reindex of 10 000 real
files, and the GUI thread's longest stall while scrolling through 10 000 real thumbnails.

    .venv/bin/python tests/benchmarks/bench_gallery.py [--rows 100000] [--files 10000]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
sys.path.insert(0, str(Path(__file__).parent))

WORDS = [
    "red",
    "fox",
    "castle",
    "dusk",
    "portrait",
    "lighthouse",
    "storm",
    "forest",
    "misty",
    "cat",
    "dog",
    "dragon",
    "neon",
    "city",
    "night",
    "river",
    "mountain",
    "sunset",
    "ocean",
    "robot",
    "garden",
    "winter",
    "cozy",
    "cabin",
    "painting",
    "watercolor",
    "photo",
    "cinematic",
    "golden",
]


def fill_index(store, n: int) -> None:
    """n rows straight into the index (the files are not needed to measure queries and the grid model)."""
    from studio.core.gallery.gallery_store import _INSERT

    rng = random.Random(0)
    t0 = time.time() - n
    with store._tx() as db:
        for i in range(n):
            prompt = " ".join(rng.choice(WORDS) for _ in range(rng.randint(5, 14)))
            db.execute(
                _INSERT,
                (
                    f"2026-01-01/{i:06d}.png",
                    t0 + i,
                    0,
                    0,
                    "studio",
                    prompt,
                    "lowres",
                    rng.choice(["sd15", "sdxl", "shapes"]),
                    rng.choice(["Euler a", "DPM++ 2M"]),
                    str(i),
                    512,
                    512,
                    25,
                    7.0,
                    "",
                    "",
                    "",
                ),
            )


def make_files(root: Path, n: int) -> None:
    from PIL import Image
    from PIL.PngImagePlugin import PngInfo

    rng = random.Random(1)
    day = root / "2026-02-02"
    day.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        info = PngInfo()
        prompt = " ".join(rng.choice(WORDS) for _ in range(8))
        info.add_text(
            "parameters", f"{prompt}\nSteps: 20, Sampler: Euler a, CFG scale: 7, Seed: {i}, Size: 128x128"
        )
        color = (rng.randrange(256), rng.randrange(256), rng.randrange(256))
        Image.new("RGB", (128, 128), color).save(day / f"{i:05d}.png", pnginfo=info, compress_level=1)


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--rows", type=int, default=100_000)
    p.add_argument("--files", type=int, default=10_000)
    a = p.parse_args()

    from PySide6.QtWidgets import QApplication

    from studio.core.gallery.gallery_query import GalleryFilter
    from studio.core.gallery.gallery_store import GalleryStore
    from studio.ui.common.theme import apply_theme
    from studio.ui.gallery.gallery_page import GalleryPage
    from studio.viewmodels.gallery_model import GalleryModel
    from studio.viewmodels.thumbnails import ThumbnailCache

    app = QApplication([])
    apply_theme(app, "light")
    tmp = Path(tempfile.mkdtemp(prefix="studio-bench-gallery-"))
    out: dict[str, float] = {}

    # -- 100 000 rows: first paint, search, memory --------------------------------------------------------------
    big = GalleryStore(tmp / "big")
    fill_index(big, a.rows)
    big.close()
    t = time.perf_counter()
    store = GalleryStore(tmp / "big")
    model = GalleryModel(store, ThumbnailCache(tmp / "thumbs-big"))
    page = GalleryPage(model)
    page.resize(1300, 850)
    page.show()
    app.processEvents()
    page.grid.viewport().repaint()
    out["first_paint_ms"] = (time.perf_counter() - t) * 1000
    # the grid model's own memory: every id, plus the pages of rows read while scrolling the whole list
    tracemalloc.start()
    probe = GalleryModel(store, model.thumbs)
    probe.refresh()
    for r in range(0, probe.rowCount(), 97):
        probe.row(r)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    out["grid_model_peak_mb"] = peak / 1e6
    times = []
    for word in ("fox", "lighthouse storm", "neon city night", "zzz", "ca"):
        t = time.perf_counter()
        store.ids(GalleryFilter(text=word))
        times.append((time.perf_counter() - t) * 1000)
    out["search_median_ms"], out["search_max_ms"] = statistics.median(times), max(times)
    t = time.perf_counter()
    page.search.setText("red fox")
    page._debounce.stop()
    page.apply_filter()
    app.processEvents()
    out["search_and_repaint_ms"] = (time.perf_counter() - t) * 1000
    out["rows"] = model.rowCount() and store.count()
    page.close()
    model.thumbs.close()
    store.close()

    # -- 10 000 real files: reindex, then scroll the grid ---------------------------------------------------------
    files = GalleryStore(tmp / "files")
    t = time.perf_counter()
    make_files(files.root, a.files)
    out["make_files_s"] = time.perf_counter() - t
    t = time.perf_counter()
    files.reindex()
    out["reindex_s"] = time.perf_counter() - t
    out["reindex_files_per_s"] = a.files / out["reindex_s"]
    model = GalleryModel(files, ThumbnailCache(tmp / "thumbs-files"))
    page = GalleryPage(model)
    page.resize(1300, 850)
    page.show()
    app.processEvents()
    bar = page.grid.verticalScrollBar()
    from gui_gaps import GapRecorder

    timer = GapRecorder()
    timer.start()
    t = time.perf_counter()
    step = max(1, bar.maximum() // 600)  # about 600 scroll steps from top to bottom: 10 s of steady scrolling
    while bar.value() < bar.maximum():
        bar.setValue(bar.value() + step)
        deadline = time.perf_counter() + 0.016
        while time.perf_counter() < deadline:
            app.processEvents()
    out["scroll_s"] = time.perf_counter() - t
    timer.stop()
    timer.gaps = timer.gaps[1:]
    out["scroll_gui_max_gap_ms"], out["scroll_gui_p99_gap_ms"] = timer.summary()
    page.close()
    model.thumbs.close()
    files.close()
    print(json.dumps({k: round(v, 2) for k, v in out.items()}, indent=1))


if __name__ == "__main__":
    main()
