"""Hires fix and upscaling: the requested size from every upscaler, the recipe in AUTOMATIC1111's words (and back),
model upscalers run in tiles like one pass, upscaled copies as the source's children — and bad files refused."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from studio.core.image.finders import upscaler_finder
from studio.core.image.recipe import ImageContext, freeze_image
from studio.core.image.upscale_recipe import freeze_upscale
from studio.core.jobs.cancel import CancelToken
from studio.core.jobs.errors import StudioError
from tests.tiny_models import save_tiny_upscaler, spandrel_installed

needs_spandrel = pytest.mark.skipif(not spandrel_installed(), reason="spandrel is not installed")


@pytest.fixture(scope="module")
def upscalers(tmp_path_factory):
    folder = tmp_path_factory.mktemp("models")
    if spandrel_installed():
        save_tiny_upscaler(folder / "upscalers" / "tiny-x2.safetensors", 2)
        save_tiny_upscaler(folder / "upscalers" / "tiny-x4.safetensors", 4)
    return folder


@pytest.fixture()
def runtime(tmp_path):
    from studio.runtime import build_runtime

    rt = build_runtime(tmp_path / "home")
    yield rt
    rt.close(5)


def hires(tiny_sd, upscalers, **values):
    draft = {"model": str(tiny_sd), "prompt": "a red circle", "width": 64, "height": 48, "steps": 4, "seed": 3,
             "hires_scale": 2, "hires_steps": 2, "hires_denoise": 0.5, **values}  # fmt: skip
    return freeze_image(draft, ImageContext(upscalers=upscaler_finder([upscalers])))


@pytest.mark.parametrize("upscaler", ["Latent", "Lanczos", pytest.param("tiny-x4", marks=needs_spandrel)])
def test_hires_fix_makes_the_requested_size_and_says_how(upscaler, tiny_sd, upscalers, runtime):
    from studio.core.image.from_image import draft_from_image
    from studio.core.jobs.events import Progress

    spec = hires(tiny_sd, upscalers, hires_upscaler=upscaler)
    events: list = []
    (item,) = runtime.image_engine.generate(spec, CancelToken(), events.append)
    with Image.open(item.path) as im:
        assert im.size == (128, 96)
        params = im.info["parameters"]
    assert f"Hires upscale: 2, Hires steps: 2, Hires upscaler: {upscaler}" in params
    assert "Size: 64x48" in params and "Denoising strength: 0.5" in params
    steps = [e.step for e in events if isinstance(e, Progress)]
    assert steps == [1, 2, 3, 4, 5] and {e.total for e in events if isinstance(e, Progress)} == {5}
    draft, notes = draft_from_image(item.path)  # Studio's own spec: exact
    assert (draft["hires_scale"], draft["hires_steps"], draft["hires_denoise"]) == (2.0, 2, 0.5)
    assert not notes


def test_an_a1111_hires_recipe_is_carried_over(tmp_path):
    from PIL.PngImagePlugin import PngInfo

    from studio.core.image.from_image import draft_from_image

    meta = PngInfo()
    meta.add_text("parameters", "a cat\nSteps: 20, Sampler: Euler a, CFG scale: 7, Seed: 1, Size: 512x512, "
                  "Denoising strength: 0.45, Hires upscale: 1.5, Hires steps: 12, Hires upscaler: R-ESRGAN 4x+")  # fmt: skip
    png = tmp_path / "a.png"
    Image.new("RGB", (768, 768)).save(png, pnginfo=meta)
    draft, notes = draft_from_image(png)
    assert (draft["hires_scale"], draft["hires_steps"], draft["hires_denoise"]) == (1.5, 12, 0.45)
    assert (
        draft["hires_upscaler"] == "R-ESRGAN 4x+"
    )  # looked up by name when frozen: a clear message if absent
    problems = freeze_image({**draft, "model": "m"}, ImageContext())
    assert "R-ESRGAN 4x+" in problems["hires_upscaler"] and "not found" in problems["hires_upscaler"]


def test_hires_fix_is_refused_where_it_cannot_run(tiny_sd, upscalers, tmp_path):
    init = tmp_path / "init.png"
    Image.new("RGB", (64, 48)).save(init)
    assert "text to image" in hires(tiny_sd, upscalers, init_image=str(init))["hires_scale"]
    assert "above 4096" in hires(tiny_sd, upscalers, width=2056, height=2048)["hires_scale"]
    assert "below one step" in hires(tiny_sd, upscalers, hires_steps=1, hires_denoise=0.5)["hires_denoise"]


@needs_spandrel
def test_a_model_upscaler_in_tiles_matches_one_pass(upscalers):
    from pathlib import Path

    from studio.engine.upscale import load_model_upscaler, run_tiled, upscale

    up = load_model_upscaler(upscalers / "upscalers" / "tiny-x2.safetensors")
    assert (up.scale, up.architecture) == (2, "RealESRGAN Compact")
    picture = Image.effect_noise((300, 170), 60).convert("RGB")
    tiles: list = []
    tiled = run_tiled(up, picture, tile=96, overlap=16, on_tile=lambda d, t: tiles.append((d, t)))
    whole = run_tiled(up, picture, tile=1024)
    assert tiled.size == whole.size == (600, 340) and tiles[-1] == (8, 8)
    assert np.abs(np.asarray(tiled, int) - np.asarray(whole, int)).max() <= 2
    assert upscale(picture, (450, 255), up).size == (450, 255)  # ×1.5 with a ×2 model: model, then Lanczos
    assert Path(up.path).name == "tiny-x2.safetensors"


@needs_spandrel
def test_files_that_are_not_upscalers_are_refused_clearly(tmp_path, upscalers):
    import torch
    from safetensors.torch import save_file

    from studio.engine.upscale import load_model_upscaler

    lora = tmp_path / "lora.safetensors"
    save_file({"lora_unet_down_blocks_0.lora_down.weight": torch.zeros(4, 8)}, str(lora))
    with pytest.raises(StudioError, match="not an upscaler Studio can run"):
        load_model_upscaler(lora)
    garbage = tmp_path / "x.safetensors"
    garbage.write_bytes(b"\x00" * 64)
    with pytest.raises(StudioError, match="not a readable safetensors file"):
        load_model_upscaler(garbage)
    pickled = tmp_path / "4x.pth"
    torch.save({"body.0.weight": torch.zeros(1)}, pickled)
    with pytest.raises(StudioError, match="pickled file"):
        load_model_upscaler(pickled)


@needs_spandrel
def test_upscale_writes_a_child_with_the_sources_recipe(tiny_sd, upscalers, runtime, tmp_path):
    spec = freeze_image({"model": str(tiny_sd), "prompt": "a blue square", "width": 64, "height": 64, "steps": 2,
                         "seed": 8}, ImageContext())  # fmt: skip
    (source,) = runtime.image_engine.generate(spec, CancelToken(), lambda e: None)
    job = freeze_upscale({"image": str(source.path), "scale": 2, "upscaler": "tiny-x2"},
                         upscaler_finder([upscalers]))  # fmt: skip
    (child,) = runtime.image_engine.upscale(job, CancelToken(), lambda e: None)
    with Image.open(child.path) as im:
        assert im.size == (128, 128)
        params, record = im.info["parameters"], json.loads(im.info["studio"])
    assert "a blue square" in params and "Seed: 8" in params
    assert "Postprocess upscale by: 2, Postprocess upscaler: tiny-x2" in params
    assert record["postprocess"] == {"Postprocess upscale by": "2", "Postprocess upscaler": "tiny-x2"}
    kids = runtime.gallery.children(runtime.gallery.rel(source.path))
    assert [k.rel for k in kids] == [runtime.gallery.rel(child.path)]

    # any picture, Lanczos; and bad input said per field
    plain = tmp_path / "plain.png"
    Image.new("RGB", (40, 30), "red").save(plain)
    (big,) = runtime.image_engine.upscale(freeze_upscale({"image": str(plain), "scale": 3}), CancelToken(),
                                          lambda e: None)  # fmt: skip
    assert Image.open(big.path).size == (120, 90)
    text = tmp_path / "notes.png"
    text.write_text("not a picture")
    assert "not an image" in freeze_upscale({"image": str(text)})["image"]
    assert "between 1 and 8" in freeze_upscale({"image": str(plain), "scale": 20})["scale"]
