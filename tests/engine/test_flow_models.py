"""SD 3.x and FLUX.1: diffusers folders (tiny ones built in code) make pictures with their own flow-matching
sampler, in text to image, image to image and hires fix; a FLUX.1 single file is completed by a folder of its
family; what they do not take is said beside its field; the memory plan refuses what cannot fit, saying what
would."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from studio.core.image.recipe import ImageContext, freeze_image
from studio.core.jobs.cancel import CancelToken
from studio.core.jobs.errors import StudioError
from studio.core.jobs.events import Note


@pytest.fixture()
def flow(tiny_flow):
    return tiny_flow


def render(runtime, model, events=None, **values):
    spec = freeze_image({"model": str(model), "prompt": "a red circle", "width": 64, "height": 48, "steps": 3,
                         "seed": 5, "sampler": "Euler", "cfg_scale": 3.5, **values}, ImageContext())  # fmt: skip
    assert not isinstance(spec, dict), spec
    (item,) = runtime.image_engine.generate(
        spec, CancelToken(), (events if events is not None else []).append
    )
    with Image.open(item.path) as im:
        return np.asarray(im.convert("RGB"), int), im.info["parameters"]


@pytest.mark.parametrize("family", ["flux", "sd3"])
def test_a_flow_model_makes_pictures(runtime, flow, family, tmp_path):
    events: list = []
    first, params = render(runtime, flow[family], events, prompt="a (red:1.3) circle", negative_prompt="blur")
    assert first.shape == (48, 64, 3) and first.std() > 1.0
    assert f"Model: tiny-{family}" in params and "Sampler: Euler" in params
    notes = " ".join(e.text for e in events if isinstance(e, Note))
    assert "weights were left out" in notes and (("no negative prompt" in notes) == (family == "flux"))
    again, _ = render(runtime, flow[family], prompt="a (red:1.3) circle", negative_prompt="blur")
    assert np.array_equal(first, again)  # the seed decides
    other, _ = render(runtime, flow[family], prompt="a green square")
    assert np.abs(other - first).mean() > 0.5
    Image.fromarray(first.astype(np.uint8)).save(tmp_path / "init.png")
    img2img, _ = render(runtime, flow[family], init_image=str(tmp_path / "init.png"), strength=0.6)
    assert img2img.shape == first.shape and not np.array_equal(img2img, first)
    hires, params = render(runtime, flow[family], hires_scale=2.0, hires_upscaler="Lanczos", hires_steps=2)
    assert hires.shape == (96, 128, 3) and "Hires upscale: 2" in params


def test_what_a_flow_model_does_not_take_is_said(runtime, flow):
    for values, field in (({"sampler": "DPM++ 2M"}, "sampler"), ({"hires_scale": 2.0}, "hires_upscaler"),
                          ({"fast_decode": True}, "fast_decode")):  # fmt: skip
        with pytest.raises(StudioError) as e:
            render(runtime, flow["flux"], **values)
        assert e.value.field == field


def test_a_flux_single_file_is_completed_by_its_folder(runtime, flow, tmp_path):
    from safetensors.torch import load_file, save_file

    single = flow["flux"].parent / "tiny-flux-transformer.safetensors"
    weights = load_file(str(flow["flux"] / "transformer" / "diffusion_pytorch_model.safetensors"))
    save_file(weights, str(single))
    from_file, _ = render(runtime, single)
    from_folder, _ = render(runtime, flow["flux"])
    assert np.array_equal(from_file, from_folder)
    lone = tmp_path / "alone" / "flux1-dev.safetensors"
    lone.parent.mkdir()
    save_file(weights, str(lone))
    with pytest.raises(StudioError, match="FLUX single file; Studio loads it with the text encoders"):
        render(runtime, lone)


def test_the_memory_plan_says_when_flux_will_not_fit():
    from studio.core.models.memory_plan import GB, will_not_fit

    why = will_not_fit("flux", "cuda", 2, 16 * GB, 34 * GB)
    assert (
        "FLUX.1 will not fit here" in why
        and "16.0 GB of GPU memory" in why
        and "SD 3.5 Medium or SDXL" in why
    )
    assert will_not_fit("flux", "cuda", 2, 80 * GB, 34 * GB) == ""
    assert "of RAM" in will_not_fit("flux", "cpu", 2, 24 * GB, 34 * GB)
    assert will_not_fit("flux", "cpu", 2, 24 * GB, 3_000_000) == ""  # a tiny one in that layout
    assert will_not_fit("sdxl", "cpu", 4, 4 * GB, 7 * GB) == ""


def test_flow_models_bring_their_own_defaults(flow, tmp_path):
    import json

    from studio.core.models.recommended import recommended_settings

    assert recommended_settings(flow["flux"]) == {"width": 1024, "height": 1024, "steps": 28, "sampler": "Euler",
                                                  "schedule": "Automatic", "cfg_scale": 3.5}  # fmt: skip
    assert recommended_settings(flow["sd3"])["cfg_scale"] == 4.5
    import shutil

    schnell = tmp_path / "schnell"
    shutil.copytree(flow["flux"], schnell)
    cfg = json.loads((schnell / "transformer" / "config.json").read_text())
    (schnell / "transformer" / "config.json").write_text(json.dumps({**cfg, "guidance_embeds": False}))
    assert recommended_settings(schnell)["steps"] == 4 and recommended_settings(schnell)["cfg_scale"] == 0.0
    spec = freeze_image(
        {"model": str(flow["sd3"]), "prompt": "x"}, ImageContext(recommended=recommended_settings)
    )
    assert (spec.width, spec.steps, spec.sampler) == (1024, 28, "Euler")
