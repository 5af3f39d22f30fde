"""Regional prompts, the two modes measured on the shipped Shapes model: how well each half holds its own prompt
(the share of plainly green pixels in the left half, of yellow in the right; "a red circle" with the left half
"... on a green background" and the right "... on a yellow background") and the time per picture, against the same
job without regions, over the same seeds, in one process.

    python tests/benchmarks/bench_regions.py [--seeds 8] [--size 64]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))


def main() -> None:
    from PIL import Image

    from studio.core.gallery.gallery_store import GalleryStore
    from studio.core.image.specs import GenerateSpec
    from studio.core.io.hashing import HashCache
    from studio.core.jobs.cancel import CancelToken
    from studio.core.models.builtin_models import BUILTIN_IMAGE_DIRS
    from studio.engine.image import ImageEngine
    from tests.engine.test_regional_prompts import HALVES, halves

    parser = argparse.ArgumentParser()
    parser.add_argument("--seeds", type=int, default=8)
    parser.add_argument("--size", type=int, default=64)
    args = parser.parse_args()
    home = Path(tempfile.mkdtemp())
    engine = ImageEngine(GalleryStore(home / "gallery"), HashCache(home / "hashes.json"))
    base = GenerateSpec(model=str(BUILTIN_IMAGE_DIRS[0]), prompt="a red circle", width=args.size, height=args.size,
                        steps=20, cfg_scale=5.0, sampler="DPM++ 2M", schedule="Karras", cpu_engine="torch")  # fmt: skip
    runs = {"no regions": base, "attention": base.replace(regions=HALVES),
            "denoise": base.replace(regions=HALVES, region_mode="denoise")}  # fmt: skip
    engine.generate(base.replace(steps=2), CancelToken(), lambda e: None)  # loaded and warm
    rows = {}
    for name, spec in runs.items():
        held, seconds = [], []
        for seed in range(args.seeds):
            started = time.perf_counter()
            item = engine.generate(spec.replace(seed=seed), CancelToken(), lambda e: None)[0]
            seconds.append(time.perf_counter() - started)
            held.append(halves(item.path))
            Image.open(item.path).close()
        rows[name] = (statistics.mean(g for g, _ in held), min(g for g, _ in held),
                      statistics.mean(y for _, y in held), min(y for _, y in held), statistics.median(seconds))  # fmt: skip
    plain = rows["no regions"][4]
    print(f"{args.seeds} seeds at {args.size}², 20 steps, torch on the CPU")
    print(
        f"{'mode':<12} {'left green':>11} {'(worst)':>8} {'right yellow':>13} {'(worst)':>8} {'s/picture':>10} {'÷ plain':>8}"
    )
    for name, (g, gmin, y, ymin, s) in rows.items():
        print(f"{name:<12} {g:>11.2f} {gmin:>8.2f} {y:>13.2f} {ymin:>8.2f} {s:>10.2f} {s / plain:>8.2f}")


if __name__ == "__main__":
    main()
