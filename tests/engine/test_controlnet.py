"""ControlNet: the control image decides where things go (weight 0: as if there were none), single files and
folders, maps of another size scaled, a ControlNet of another family refused before anything loads, the units
in the recipe as AUTOMATIC1111 writes them."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image, ImageDraw

from studio.core.image.recipe import ImageContext, freeze_image
from studio.core.image.specs import GenerateSpec
from studio.core.jobs.cancel import CancelToken
from studio.core.jobs.events import Preview
from tests.tiny_models import save_tiny_controlnet


@pytest.fixture(scope="module")
def nets(tmp_path_factory, tiny_sd, tiny_sdxl):
    d = tmp_path_factory.mktemp("controlnet")
    return {
        "folder": save_tiny_controlnet(tiny_sd, d / "tiny-cn"),
        "file": save_tiny_controlnet(tiny_sd, d / "tiny-cn-file.safetensors", layout="file"),
        "xl": save_tiny_controlnet(tiny_sdxl, d / "tiny-cn-xl"),
    }


@pytest.fixture(scope="module")
def drawing(tmp_path_factory):
    path = tmp_path_factory.mktemp("img") / "circle.png"
    im = Image.new("RGB", (64, 64), "black")
    ImageDraw.Draw(im).ellipse((12, 12, 52, 52), fill="white")
    im.save(path)
    return path


def render(runtime, model, events=None, **values):
    spec = freeze_image({"model": str(model), "prompt": "a red circle", "width": 64, "height": 64, "steps": 4,
                         "seed": 11, "sampler": "Euler", **values}, ImageContext())  # fmt: skip
    assert not isinstance(spec, dict), spec
    (item,) = runtime.image_engine.generate(
        spec, CancelToken(), (events if events is not None else []).append
    )
    with Image.open(item.path) as im:
        return np.asarray(im.convert("RGB"), int), im.info["parameters"]


def test_the_control_image_steers_and_weight_zero_is_no_control(runtime, tiny_sd, nets, drawing):
    plain, _ = render(runtime, tiny_sd)
    events: list = []
    controlled, params = render(runtime, tiny_sd, events, controls=[f"canny:{drawing}:{nets['folder']}:0.8"])
    assert np.abs(controlled - plain).mean() > 1.0
    assert (
        'ControlNet 0: "Module: canny, Model: tiny-cn, Weight: 0.8, Guidance Start: 0, Guidance End: 1, Threshold A: 100, Threshold B: 200"'
        in params
    )
    shown = [e.image for e in events if isinstance(e, Preview) and e.step == 0]
    edges = np.asarray(shown[0].convert("L"))
    assert set(np.unique(edges)) == {0, 255} and edges[32, 12:15].max() == 255 and edges[32, 32] == 0
    zero, _ = render(runtime, tiny_sd, controls=[f"canny:{drawing}:{nets['folder']}:0"])
    assert np.array_equal(zero, plain)
    other = Image.open(drawing).transpose(Image.Transpose.ROTATE_90)
    other.save(drawing.parent / "rotated.png")
    moved, _ = render(
        runtime, tiny_sd, controls=[f"none:{drawing.parent / 'rotated.png'}:{nets['folder']}:0.8"]
    )
    assert np.abs(moved - controlled).mean() > 0.5  # another map, another picture


def test_a_single_file_works_as_the_folder_and_other_sizes_are_scaled(
    runtime, tiny_sd, nets, drawing, tmp_path
):
    big = tmp_path / "big.png"
    Image.open(drawing).resize((128, 128), Image.Resampling.NEAREST).save(big)
    a, _ = render(
        runtime, tiny_sd, controls=[{"image": str(big), "preprocessor": "none", "model": str(nets["folder"])}]
    )
    b, _ = render(
        runtime,
        tiny_sd,
        controls=[{"image": str(drawing), "preprocessor": "none", "model": str(nets["file"])}],
    )
    assert np.abs(a - b).mean() < 2.0  # the same weights; the map scaled from 128² (Lanczos) to 64²
    two, params = render(runtime, tiny_sd, controls=[
        {"image": str(drawing), "preprocessor": "none", "model": str(nets["file"]), "weight": 0.5, "end": 0.5},
        {"image": str(drawing), "preprocessor": "softedge", "model": str(nets["folder"])}])  # fmt: skip
    assert "ControlNet 1: " in params and "Guidance End: 0.5" in params
    assert np.abs(two - b).mean() > 0.5


def test_what_cannot_run_is_said_before_anything_loads(runtime, tiny_sd, tiny_sdxl, nets, drawing, tmp_path):
    draft = {"model": str(tiny_sd), "prompt": "x", "steps": 4}
    problems = freeze_image({**draft, "controls": [f"canny:{drawing}:{nets['xl']}"]}, ImageContext())
    assert "is a ControlNet for SDXL; the model is SD 1.x" in problems["controls"]
    problems = freeze_image({**draft, "model": str(tiny_sdxl), "controls": [f"canny:{drawing}:{nets['folder']}"]},
                            ImageContext())  # fmt: skip
    assert "ControlNet for SD 1.x; the model is SDXL" in problems["controls"]
    (tmp_path / "notes.png").write_text("not a picture")
    problems = freeze_image(
        {**draft, "controls": [f"canny:{tmp_path / 'notes.png'}:{nets['folder']}"]}, ImageContext()
    )
    assert "notes.png is not an image Studio can read" in problems["controls"]
    problems = freeze_image({**draft, "controls": [f"sharpen:{drawing}:{nets['folder']}"]}, ImageContext())
    assert "No preprocessor 'sharpen'" in problems["controls"]
    problems = freeze_image({**draft, "controls": [f"canny:{drawing}:{tiny_sd}"]}, ImageContext())
    assert "is not a ControlNet" in problems["controls"]
    problems = freeze_image({**draft, "controls": [f"canny:{drawing}:nowhere-cn"]}, ImageContext())
    assert "ControlNet “nowhere-cn” was not found" in problems["controls"]
    problems = freeze_image({**draft, "controls": [f"inpaint:{drawing}:{nets['folder']}"]}, ImageContext())
    assert "needs an init image with a painted mask" in problems["controls"]


def test_depth_without_its_estimator_says_what_to_get(runtime, tiny_sd, nets, drawing):
    from studio.core.jobs.errors import StudioError

    with pytest.raises(StudioError, match="pip install controlnet-aux") as e:
        render(runtime, tiny_sd, controls=[f"depth:{drawing}:{nets['folder']}"])
    assert e.value.field == "controls"


def test_inpainting_with_the_inpaint_preprocessor_keeps_the_rest(runtime, tiny_sd, nets, drawing, tmp_path):
    mask = tmp_path / "mask.png"
    m = Image.new("L", (64, 64), 0)
    ImageDraw.Draw(m).rectangle((0, 0, 31, 63), fill=255)
    m.save(mask)
    out, params = render(runtime, tiny_sd, init_image=str(drawing), mask=str(mask), strength=1.0, mask_blur=0,
                         controls=[f"inpaint:{drawing}:{nets['folder']}"])  # fmt: skip
    original = np.asarray(Image.open(drawing).convert("RGB"), int)
    assert (
        np.abs(out[:, 40:] - original[:, 40:]).max() <= 2
        and np.abs(out[:, :28] - original[:, :28]).mean() > 5
    )
    assert "Module: inpaint_only" in params


def test_control_and_reference_on_the_command_line(tiny_sd, nets, drawing, tmp_path, capsys):
    import json

    from studio.cli import main
    from tests.tiny_models import save_tiny_image_encoder, save_tiny_ip_adapter

    home = tmp_path / "h"
    models = home / "models"
    save_tiny_ip_adapter(tiny_sd, models / "ipadapter" / "ip-tiny.safetensors")
    save_tiny_image_encoder(models / "clip_vision" / "tiny-vit")
    save_tiny_controlnet(tiny_sd, models / "ControlNet" / "cn-tiny.safetensors", layout="file")
    code = main(["generate", "a red circle", "--model", str(tiny_sd), "--width", "64", "--height", "64", "--steps",
                 "3", "--control", f"canny:{drawing}:cn-tiny:0.7", "--control", f"scribble:{drawing}:cn-tiny:0.3",
                 "--reference", f"{drawing}:0.5", "--json", "--home", str(home)])  # fmt: skip
    assert code == 0
    path = json.loads(capsys.readouterr().out)["path"]
    params = Image.open(path).info["parameters"]
    assert 'ControlNet 0: "Module: canny, Model: cn-tiny, Weight: 0.7' in params
    assert 'ControlNet 1: "Module: scribble_hed' in params
    assert 'ControlNet 2: "Module: ip-adapter_clip, Model: ip-tiny, Weight: 0.5' in params
    from studio.core.image.from_image import draft_from_image
    from studio.core.image.recipe_readers import read_recipe

    made = GenerateSpec.from_dict(dict(read_recipe(path).studio_spec))
    draft, notes = draft_from_image(path)
    again = freeze_image(draft, ImageContext())  # the same units back, from the image alone
    assert not notes and again.controls == made.controls and again.references == made.references
    assert [u.weight for u in again.controls] == [0.7, 0.3] and again.references[0].weight == 0.5
    code = main(["generate", "x", "--model", str(tiny_sd), "--control", f"canny:{drawing}:missing-cn", "--home",
                 str(home)])  # fmt: skip
    assert code == 2 and "missing-cn" in capsys.readouterr().err


def test_the_library_names_controlnets_adapters_and_encoders(nets, tiny_sd, tmp_path):
    from studio.core.models.model_library import describe_path
    from tests.tiny_models import save_tiny_image_encoder, save_tiny_ip_adapter

    folder, xl, single = describe_path(nets["folder"]), describe_path(nets["xl"]), describe_path(nets["file"])
    assert (folder["kind"], folder["family"], xl["family"]) == ("controlnet", "sd1", "sdxl")
    assert single["kind"] == "controlnet" and "ControlNet" in single["label"]
    adapter = describe_path(save_tiny_ip_adapter(tiny_sd, tmp_path / "ip.safetensors"))
    assert adapter["kind"] == "ip-adapter" and "IP-Adapter" in adapter["label"]
    encoder = describe_path(save_tiny_image_encoder(tmp_path / "enc"))
    assert encoder["kind"] == "image-encoder" and encoder["details"]["projection_dim"] == 32


def test_an_a1111_layout_file_loads_as_its_diffusers_folder(runtime, tiny_sd, tmp_path):
    import torch
    from diffusers import ControlNetModel, UNet2DConditionModel

    from studio.engine.guidance import load_controlnet
    from tests.tiny_models import save_a1111_controlnet

    unet = UNet2DConditionModel.from_pretrained(str(tiny_sd / "unet"))
    torch.manual_seed(0)
    ControlNetModel.from_unet(unet).save_pretrained(str(tmp_path / "cn"))  # SD's 8× condition embedding
    single = save_a1111_controlnet(tmp_path / "cn", tmp_path / "control_sd15_tiny.safetensors")
    render(runtime, tiny_sd)  # the model, loaded
    model = runtime.image_engine.cache.loaded
    ours, theirs = (
        load_controlnet(str(single), model).state_dict(),
        load_controlnet(str(tmp_path / "cn"), model).state_dict(),
    )
    assert ours.keys() == theirs.keys() and all(torch.equal(ours[k], theirs[k]) for k in ours)
