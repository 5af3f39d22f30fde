"""The creative upscale's memory: the peak resident memory a refined upscale adds, at two output sizes with the same
512-px tile, against the output picture's own buffers (its float32 sums and weights, and the picture itself).
Bounded by the tile, the peak grows with the output only by those buffers; a whole-picture img2img pass instead
grows with the picture's area (its latents and attention), which is also measured for the smaller size.

The model is bench_finishing's SD-shaped one with random weights (an 8× VAE, a 2-level UNet with attention).

    python tests/benchmarks/bench_tiled_refine.py
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("STUDIO_OPENVINO", "0")
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
MB = 1024 * 1024


def main() -> None:
    from PIL import Image

    from studio.core.gallery.gallery_store import GalleryStore
    from studio.core.image.specs import GenerateSpec
    from studio.core.image.tiled_refine import RefineUpscaleSpec
    from studio.core.io.hashing import HashCache
    from studio.core.jobs.cancel import CancelToken
    from studio.engine.image import ImageEngine
    from studio.engine.tiled_refine import refine_upscale
    from tests.benchmarks.bench_finishing import PeakRss, build_model

    work = Path(tempfile.mkdtemp())
    build_model(work / "model")
    engine = ImageEngine(GalleryStore(work / "gallery"), HashCache(work / "hashes.json"))
    recipe = GenerateSpec(model=str(work / "model"), prompt="a harbour", steps=8, seed=1, sampler="Euler")
    source = work / "source.png"
    Image.effect_noise((256, 256), 64).convert("RGB").save(source)
    engine.generate(
        recipe.replace(width=64, height=64, steps=2), CancelToken(), lambda e: None
    )  # loaded, warm
    print("output   tile  peak added  output buffers (sums, weights, picture)")
    for scale in (4.0, 8.0):  # 1024² and 2048²
        spec = RefineUpscaleSpec(str(source), recipe, scale, "Lanczos", 0.3, 0.6, 512)
        with PeakRss() as peak:
            refine_upscale(engine, spec, CancelToken(), lambda e: None)
        side = int(256 * scale)
        buffers = side * side * (3 * 4 + 4 + 3 * 2)  # float32 sums and weights; the upscaled and the result
        print(f"{side}²   512   {peak.added / MB:8.0f} MB   {buffers / MB:8.0f} MB")
    whole = recipe.replace(width=1024, height=1024, init_image=str(source), strength=0.3)
    with PeakRss() as peak:
        engine.generate(whole, CancelToken(), lambda e: None)
    print(f"1024²   none  {peak.added / MB:8.0f} MB   (one image-to-image pass over the whole picture)")


if __name__ == "__main__":
    main()
