"""The creative upscale: the upscaled picture re-diffused tile by tile (with a tile ControlNet where the library
has one), blended so that no seam shows, saved as its source's child with what was done written down."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from studio import cli
from studio.core.image.tiled_refine import ramp, tile_boxes
from studio.core.models.builtin_models import BUILTIN_IMAGE_DIRS
from tests.provenance.helpers import without_watermark

SHAPES = BUILTIN_IMAGE_DIRS[0]


def test_tiles_cover_the_picture_and_overlap():
    boxes = tile_boxes(200, 130, 64, 8)
    covered = np.zeros((130, 200), int)
    for x0, y0, x1, y1 in boxes:
        assert (x1 - x0, y1 - y0) == (64, 64)
        covered[y0:y1, x0:x1] += 1
    assert covered.min() >= 1
    xs = sorted({b[0] for b in boxes})
    assert all(
        b - a <= 64 - 8 for a, b in zip(xs, xs[1:], strict=False)
    )  # each overlaps the next by 8 px or more
    assert tile_boxes(56, 48, 64, 8) == [(0, 0, 56, 48)]  # a small picture: one tile, its own size
    assert tile_boxes(60, 60, 64, 8)[-1] == (
        4,
        4,
        60,
        60,
    )  # sides of no multiple of 8: the last tile ends there
    assert (
        ramp(8, 4, True, False)[:4] == [0.125, 0.375, 0.625, 0.875] and ramp(8, 4, True, False)[4:] == [1] * 4
    )


@pytest.fixture()
def picture(tmp_path):
    """Flat colours, as the built-in Shapes model paints them: a seam between tiles would stand out."""
    from PIL import ImageDraw

    path = tmp_path / "disc.png"
    im = Image.new("RGB", (96, 96), (40, 70, 210))
    ImageDraw.Draw(im).ellipse((20, 24, 70, 74), fill=(220, 30, 30))
    im.save(path)
    return path


def refine(home, picture, model, capsys, *extra):
    without_watermark(home)  # the seams are measured in the pixels themselves
    code = cli.main(["--home", str(home), "upscale", str(picture), "--scale", "2", "--creativity", "0.3",
                     "--refine-tile", "64", "--model", str(model), "--prompt", "a red circle on a blue background",
                     "--steps", "20", "--seed", "5", "--json", *extra])  # fmt: skip
    out, err = capsys.readouterr()
    assert code == 0, err
    return json.loads(out.strip().splitlines()[-1])["path"], err


@pytest.mark.skipif(not (SHAPES / "model_index.json").is_file(), reason="Shapes is not in this checkout")
def test_a_refined_upscale_has_no_seams_and_says_what_was_done(picture, tmp_path, capsys):
    path, err = refine(tmp_path / "home", picture, SHAPES, capsys)
    assert "No tile ControlNet" in err
    with Image.open(path) as im:
        assert im.size == (192, 192)
        text = im.info["parameters"]
        pixels = np.asarray(im.convert("RGB"), np.float32)
    assert "Postprocess upscale by: 2" in text and "Tiled refine creativity: 0.3" in text
    assert "Tiled refine structure: none" in text
    with Image.open(picture) as src:
        plain = np.asarray(src.convert("RGB").resize((192, 192), Image.Resampling.LANCZOS), np.float32)
    assert np.abs(pixels - plain).mean() > 1  # re-diffused, not only upscaled
    # Where a tile begins or ends, the picture changes from one column to the next no more than a smooth picture
    # does. Measured: at most 3.1 (median 0.6) here; the same tiles pasted without the ramps step by up to 12.8.
    steps = np.abs(np.diff(pixels, axis=1)).mean(axis=(0, 2))
    boxes = tile_boxes(192, 192, 64, 8)
    edges = sorted({x0 for x0, _, _, _ in boxes if x0 > 0} | {x1 - 1 for _, _, x1, _ in boxes if x1 < 192})
    assert max(steps[x - 1] for x in edges) < 5, [round(float(steps[x - 1]), 2) for x in edges]


def test_with_a_tile_controlnet_in_the_library_it_holds_the_structure(tiny_sd, picture, tmp_path, capsys):
    from tests.tiny_models import save_tiny_controlnet

    home = tmp_path / "home"
    save_tiny_controlnet(tiny_sd, home / "models" / "ControlNet" / "control_tiny_tile.safetensors", "file")
    path, err = refine(home, picture, tiny_sd, capsys, "--structure", "0.8", "--steps", "4")
    assert "No tile ControlNet" not in err
    with Image.open(path) as im:
        assert "Tiled refine structure: 0.8" in im.info["parameters"]


def test_bad_refine_options_get_a_sentence(tiny_sd, picture, tmp_path, capsys):
    code = cli.main(
        ["--home", str(tmp_path), "upscale", str(picture), "--creativity", "2", "--model", str(tiny_sd)]
    )
    assert code == 2 and "--creativity is 0–1" in capsys.readouterr().err
    code = cli.main(["--home", str(tmp_path), "upscale", str(picture), "--creativity", "0.3", "--refine-tile", "100",
                     "--model", str(tiny_sd)])  # fmt: skip
    assert code == 2 and "--refine-tile: a multiple of 64" in capsys.readouterr().err
