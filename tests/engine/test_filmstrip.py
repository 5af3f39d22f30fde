"""The denoising filmstrip: one frame per step, from noise towards the picture, the last frame the picture itself;
kept beside the image (not listed in the gallery), for every sampler kind; re-made from a recipe by the CLI."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from studio.core.image.filmstrip import contact_strip, filmstrip_path, read_filmstrip
from studio.core.image.recipe import ImageContext, freeze_image
from studio.core.jobs.cancel import CancelToken


def render(runtime, model, **values):
    spec = freeze_image({"model": str(model), "prompt": "a red circle", "width": 64, "height": 64, "steps": 6,
                         "seed": 3, "sampler": "Euler", "filmstrip": True, **values}, ImageContext())  # fmt: skip
    assert not isinstance(spec, dict), spec
    return runtime.image_engine.generate(spec, CancelToken(), lambda e: None)


@pytest.mark.parametrize("sampler", ["Euler", "DPM++ 2M", "DDIM", "Euler a", "UniPC"])
def test_one_frame_a_step_ending_on_the_picture(runtime, tiny_sd, sampler):
    (item,) = render(runtime, tiny_sd, sampler=sampler)
    frames = read_filmstrip(filmstrip_path(item.path))
    assert len(frames) == 6
    final = np.asarray(Image.open(item.path).convert("RGB"), int)
    assert np.array_equal(np.asarray(frames[-1], int), final)  # the last frame is the picture (lossless)
    distance = [np.abs(np.asarray(f, int) - final).mean() for f in frames]
    assert distance[0] > distance[-2] >= 0 and distance[0] > 1.0  # from far to near


def test_the_filmstrip_is_not_a_gallery_picture_and_hires_continues_it(runtime, tiny_sd):
    (item,) = render(runtime, tiny_sd, hires_scale=2.0, hires_upscaler="Lanczos", hires_steps=4)
    frames = read_filmstrip(filmstrip_path(item.path))
    assert len(frames) == 6 + 2 and {f.size for f in frames} == {(128, 128)}
    assert all(".steps." not in str(p) for p in runtime.gallery._files())
    strip = contact_strip(frames, every=2, height=32)
    assert strip.height == 32 and strip.width == 5 * 32 + 4 * 4  # frames 0, 2, 4, 6 and the last


def test_explain_steps_remakes_a_filmstrip_from_an_image(runtime, tiny_sd, tmp_path, capsys):
    from studio.cli import main

    spec = freeze_image({"model": str(tiny_sd), "prompt": "a blue square", "width": 64, "height": 64, "steps": 4,
                         "seed": 8, "sampler": "Euler"}, ImageContext())  # fmt: skip
    (item,) = runtime.image_engine.generate(spec, CancelToken(), lambda e: None)
    out = tmp_path / "frames"
    assert main(["explain", "steps", str(item.path), "--out", str(out), "--home", str(tmp_path / "h")]) == 0
    frames = sorted(out.glob("step-*.png"))
    assert [f.name for f in frames] == ["step-01.png", "step-02.png", "step-03.png", "step-04.png"]
    assert np.array_equal(
        np.asarray(Image.open(frames[-1]).convert("RGB")), np.asarray(Image.open(item.path).convert("RGB"))
    )
    assert (out / "strip.png").is_file() and (out / "steps.webp").is_file()
