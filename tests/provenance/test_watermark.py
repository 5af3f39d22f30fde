"""The invisible watermark: it reads back from the pixels alone (a lossless re-save), on the built-in model's flat,
saturated pictures too; pictures without it do not read as marked; it costs little in the pixels."""

import io

import numpy as np
import pytest
from PIL import Image

from studio.core.io.paths import RESOURCES
from studio.provenance import watermark as wm


def _tiles():
    """The 96 pictures of the built-in Shapes model's sample sheet (64 px: flat colours, white, black)."""
    sheet = Image.open(RESOURCES / "screenshots" / "shapes-samples.png").convert("RGB")
    return [sheet.crop((x, y, x + 64, y + 64)) for y in range(0, 512, 64) for x in range(0, 768, 64)]


def _resaved(image, fmt="PNG", **kw):
    buf = io.BytesIO()
    image.save(buf, fmt, **kw)
    return Image.open(io.BytesIO(buf.getvalue()))


def test_every_built_in_picture_keeps_the_mark_through_a_lossless_resave():
    tiles = _tiles()
    found = [wm.read(_resaved(wm.embed(t))) for t in tiles]
    assert all(r.mark == "studio" for r in found), [r.wrong_bits for r in found]
    psnr = [wm.psnr(t, wm.embed(t)) for t in tiles]
    assert np.median(psnr) > 40 and min(psnr) > 33  # measured: median 43.2 dB, lowest 35.8 dB


def test_unmarked_pictures_do_not_read_as_marked():
    rng = np.random.default_rng(1)
    pictures = [*_tiles(), Image.fromarray(rng.integers(0, 256, (256, 256, 3), dtype=np.uint8))]
    pictures += [Image.new("RGB", (128, 128), c) for c in ("white", "black", (0, 0, 255), (255, 255, 0))]
    assert not any(wm.read(p).found for p in pictures)


def test_a_large_picture_is_marked_everywhere_and_the_sdxl_mark_is_told_apart():
    rng = np.random.default_rng(0)
    smooth = Image.fromarray(rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)).resize(
        (512, 512), Image.BICUBIC
    )
    marked = wm.embed(smooth)
    assert wm.read(marked) == wm.MarkReading("studio", 0, 4096)
    assert wm.psnr(smooth, marked) > 40
    sdxl = wm.embed(smooth, np.packbits(np.array(wm.SDXL_BITS, dtype=np.uint8)).tobytes())
    assert wm.read(sdxl).mark == "sdxl"


def test_alpha_is_kept_and_tiny_pictures_are_left_alone():
    rgba = Image.new("RGBA", (96, 96), (200, 100, 50, 128))
    marked = wm.embed(rgba)
    assert marked.mode == "RGBA" and marked.getchannel("A").getextrema() == (128, 128)
    assert wm.read(marked).mark == "studio"
    tiny = Image.new("RGB", (16, 16), "red")
    assert wm.embed(tiny) is tiny and not wm.read(tiny).found


@pytest.mark.parametrize("size", [(64, 48), (100, 37), (33, 200)])
def test_odd_sizes_are_marked_where_whole_blocks_fit(size):
    rng = np.random.default_rng(2)
    picture = Image.fromarray(rng.integers(0, 256, (8, 8, 3), dtype=np.uint8)).resize(size, Image.BICUBIC)
    marked = wm.embed(picture)
    assert marked.size == picture.size
    # the pixels outside whole 8×8 blocks are untouched
    right = (size[0] // 8) * 8
    assert np.array_equal(np.asarray(marked)[:, right:], np.asarray(picture)[:, right:])
