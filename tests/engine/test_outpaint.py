"""Outpainting: the canvas grows by the sides asked, the picture's own pixels stay (away from the blended seam),
the new area is painted, and the recipe says it — in the window's recipe, on the command line, read back."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from studio.core.image.outpaint import SEAM, outpaint_canvas
from studio.core.image.recipe import ImageContext, freeze_image
from studio.core.jobs.cancel import CancelToken


@pytest.fixture()
def picture(tmp_path):
    path = tmp_path / "picture.png"
    Image.effect_noise((96, 96), 60).convert("RGB").save(path)
    return path


def test_the_canvas_holds_the_picture_and_the_mask_covers_the_new_area_and_the_seam():
    pic = Image.new("RGB", (40, 30), (200, 30, 30))
    canvas, mask = outpaint_canvas(pic, (10, 0, 6, 2), (56, 32))
    assert canvas.size == mask.size == (56, 32)
    assert canvas.getpixel((10, 0)) == (200, 30, 30) and canvas.getpixel((49, 29)) == (200, 30, 30)
    m = np.asarray(mask)
    assert m[:, :10].min() == 255 and m[:, 50:].min() == 255 and m[30:, :].min() == 255  # the new area
    assert m[:, 10 : 10 + SEAM].min() == 255  # a band of the picture along the left edge is repainted
    assert m[0:14, 10 + SEAM : 50 - SEAM].max() == 0  # the rest of the picture is kept (no top padding)
    r, g, b = canvas.getpixel((2, 15))
    assert r > g and r > b  # the new area starts from the picture's colours


def test_outpainting_grows_the_canvas_and_keeps_the_picture(tiny_sd, picture, tmp_path):
    from studio.core.image.from_image import draft_from_image
    from studio.runtime import build_runtime

    spec = freeze_image({"model": str(tiny_sd), "prompt": "a red circle", "width": 96, "height": 96, "steps": 4,
                         "seed": 2, "init_image": str(picture), "outpaint": "48,0,40,12"}, ImageContext())  # fmt: skip
    assert spec.mode == "outpaint" and spec.outpaint_size == (184, 112)  # 108 rounded up to a multiple of 8
    rt = build_runtime(tmp_path / "home")
    rt.settings.watermark = False  # the kept picture is compared exactly
    try:
        (item,) = rt.image_engine.generate(spec, CancelToken(), lambda e: None)
    finally:
        rt.close(5)
    with Image.open(item.path) as im:
        out = np.asarray(im.convert("RGB"), int)
        params = im.info["parameters"]
    original = np.asarray(Image.open(picture).convert("RGB"), int)
    margin = SEAM + 3 * spec.mask_blur  # the seam band and the feathering
    kept = out[0 : 96 - margin, 48 + margin : 48 + 96 - margin]
    assert np.array_equal(kept, original[0 : 96 - margin, margin : 96 - margin])
    prior, _ = outpaint_canvas(Image.open(picture), spec.outpaint, spec.outpaint_size)
    assert np.abs(out[:, :40] - np.asarray(prior, int)[:, :40]).mean() > 2  # the model painted the new area
    assert 'Outpaint: "48,0,40,12"' in params and "Denoising strength" not in params
    draft, notes = draft_from_image(item.path)
    assert tuple(draft["outpaint"]) == (48, 0, 40, 12) and not notes
    again = freeze_image(draft, ImageContext())
    assert again.outpaint == (48, 0, 40, 12) and again.seed == spec.seed


@pytest.mark.parametrize(
    ("values", "words"),
    [
        ({"outpaint": "0,0,64,0"}, "needs an init image"),
        ({"outpaint": "0,0,64,0", "init_image": "P", "mask": "P"}, "not both"),
        ({"outpaint": "0,0,4096,0", "init_image": "P"}, "above 4096"),
        ({"outpaint": "64,64", "init_image": "P"}, "four pixel counts"),
        ({"outpaint": "a,b,c,d", "init_image": "P"}, "four pixel counts"),
    ],
)
def test_outpainting_that_cannot_run_is_said_beside_the_field(values, words, tiny_sd, picture):
    values = {k: (str(picture) if v == "P" else v) for k, v in values.items()}
    problems = freeze_image({"model": str(tiny_sd), "prompt": "x", **values}, ImageContext())
    assert words in problems["outpaint"]


def test_outpaint_on_the_command_line(tiny_sd, picture, tmp_path, capsys):
    from studio.cli import main

    code = main(["generate", "a red circle", "--model", str(tiny_sd), "--init-image", str(picture), "--width", "96",
                 "--height", "96", "--steps", "3", "--outpaint", "0,0,64,0", "--json", "--home",
                 str(tmp_path / "h")])  # fmt: skip
    assert code == 0
    line = json.loads(capsys.readouterr().out)
    assert (line["width"], line["height"]) == (160, 96)
