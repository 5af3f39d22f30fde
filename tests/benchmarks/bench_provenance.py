"""Provenance, measured: what the watermark and the signed Content Credentials cost, against the same work
without them, in one process — a whole job of the built-in Shapes model (64 px), and a 1024² picture's watermark
and signature alone — and what the watermark does to the pixels (PSNR) and what it survives.

    python tests/benchmarks/bench_provenance.py [--jobs 12]
"""

from __future__ import annotations

import argparse
import io
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("PYTHON_KEYRING_BACKEND", "keyring.backends.fail.Keyring")
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))


def _median_ms(fn, repeat: int = 15) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return statistics.median(times) * 1000


def jobs(count: int, home: Path) -> None:
    """A whole 64-px job of the built-in model, with and without the provenance (the same engine, alternating)."""
    from studio.core.gallery.gallery_store import GalleryStore
    from studio.core.image.specs import GenerateSpec
    from studio.core.io.hashing import HashCache
    from studio.core.jobs.cancel import CancelToken
    from studio.core.models.builtin_models import BUILTIN_IMAGE_DIRS
    from studio.core.models.recommended import recommended_settings
    from studio.engine.image import ImageEngine
    from studio.provenance.sealing import Policy, Sealer

    model = str(BUILTIN_IMAGE_DIRS[0])
    engine = ImageEngine(GalleryStore(home / "gallery"), HashCache(home / "hashes.json"))
    sealer = Sealer(home / "credentials", lambda: Policy())
    spec = GenerateSpec(model=model, prompt="a red circle", cpu_engine="torch").replace(
        **recommended_settings(model)
    )
    engine.generate(spec, CancelToken(), lambda e: None)  # loaded and warm
    sealer.signing()  # the identity made once, before timing
    plain, sealed = [], []
    for seed in range(count):
        for finish, into in ((None, plain), (sealer, sealed)):
            engine.store.finish = finish
            started = time.perf_counter()
            engine.generate(spec.replace(seed=seed), CancelToken(), lambda e: None)
            into.append(time.perf_counter() - started)
    a, b = statistics.median(plain), statistics.median(sealed)
    print(f"Shapes, {spec.width}² px, {spec.steps} steps, torch on the CPU, {count} jobs each, alternating:")
    print(f"  without provenance {a * 1000:7.1f} ms/job;  with watermark + Content Credentials {b * 1000:7.1f} "
          f"ms/job;  cost {100 * (b - a) / a:+.1f} %")  # fmt: skip


def large(home: Path) -> None:
    """A 1024² picture: the watermark and the signature alone (the PNG is encoded either way)."""
    import numpy as np
    from PIL import Image

    from studio.core.image.content_claim import Claim
    from studio.provenance import watermark
    from studio.provenance.content_credentials import Signing
    from studio.provenance.signing_identity import load_identity

    rng = np.random.default_rng(0)
    picture = Image.fromarray(rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)).resize(
        (1024, 1024), Image.BICUBIC
    )
    buf = io.BytesIO()
    picture.save(buf, "PNG", compress_level=4)
    png = buf.getvalue()
    signing = Signing(load_identity(home / "credentials"))
    claim = Claim(title="bench.png", model="shapes", recipe={"prompt": "a red circle", "steps": 20})
    mark = _median_ms(lambda: watermark.embed(picture))
    sign = _median_ms(lambda: signing.sign(png, "image/png", claim))
    encode = _median_ms(lambda: picture.save(io.BytesIO(), "PNG", compress_level=4), 5)
    print("1024² picture (medians of 15):")
    print(f"  watermark {mark:5.1f} ms + signing {sign:5.1f} ms = {mark + sign:5.1f} ms  (the PNG encode itself: "
          f"{encode:.0f} ms)")  # fmt: skip


def pixels() -> None:
    """The watermark's cost in the pixels, and what it survives."""
    import numpy as np
    from PIL import Image

    from studio.core.io.paths import RESOURCES
    from studio.provenance import watermark as wm

    sheet = Image.open(RESOURCES / "screenshots" / "shapes-samples.png").convert("RGB")
    tiles = [sheet.crop((x, y, x + 64, y + 64)) for y in range(0, 512, 64) for x in range(0, 768, 64)]
    psnr = [wm.psnr(t, wm.embed(t)) for t in tiles]
    print(
        f"PSNR on the 96 Shapes pictures (64 px): median {statistics.median(psnr):.1f} dB, lowest {min(psnr):.1f}"
    )
    rng = np.random.default_rng(0)
    smooth = Image.fromarray(rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)).resize(
        (1024, 1024), Image.BICUBIC
    )
    big = sheet.resize((1024, 1024), Image.LANCZOS)
    for name, picture in (("smooth 1024²", smooth), ("Shapes sheet 1024²", big)):
        marked = wm.embed(picture)
        print(f"{name}: PSNR {wm.psnr(picture, marked):.1f} dB; the mark read back after:")
        for what, fmt, kw in (("a lossless re-save (PNG)", "PNG", {}), ("JPEG q95", "JPEG", {"quality": 95}),
                              ("JPEG q90", "JPEG", {"quality": 90}), ("WebP q90", "WEBP", {"quality": 90})):  # fmt: skip
            buf = io.BytesIO()
            marked.save(buf, fmt, **kw)
            got = wm.read(Image.open(io.BytesIO(buf.getvalue())))
            print(f"    {what:<26} {'found' if got.found else 'lost':<6} ({got.wrong_bits} of 48 bits wrong)")
        half = wm.read(marked.resize((512, 512), Image.LANCZOS))
        print(
            f"    {'a resize to half':<26} {'found' if half.found else 'lost':<6} ({half.wrong_bits} of 48 bits wrong)"
        )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--jobs", type=int, default=12)
    args = parser.parse_args()
    from studio.engine.precision import cpu_caps

    print(f"CPU: {cpu_caps()}")
    home = Path(tempfile.mkdtemp())
    jobs(args.jobs, home)
    large(home)
    pixels()


if __name__ == "__main__":
    main()
