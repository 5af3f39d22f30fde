"""Regional prompts on the shipped Shapes model and the tiny test models: the halves of the picture follow their
own prompts, in both modes, from boxes and from masks."""

import json

import numpy as np
import pytest
from PIL import Image

from studio.core.image.regions import RegionUnit
from studio.core.image.specs import GenerateSpec
from studio.core.jobs.cancel import CancelToken
from studio.core.jobs.errors import StudioError
from studio.core.models.builtin_models import BUILTIN_IMAGE_DIRS

SHAPES = BUILTIN_IMAGE_DIRS[0]
GREEN = "a red circle on a green background"
YELLOW = "a red circle on a yellow background"
HALVES = (RegionUnit(GREEN, (0.0, 0.0, 0.5, 1.0)), RegionUnit(YELLOW, (0.5, 0.0, 1.0, 1.0)))


def share(picture: Image.Image, colour: str) -> float:
    """How much of ``picture`` is plainly green or yellow."""
    a = np.asarray(picture.convert("RGB")).astype(int)
    r, g, b = a[..., 0], a[..., 1], a[..., 2]
    hit = (g > 100) & (g > r + 40) & (g > b + 40) if colour == "green" else (r > 150) & (g > 150) & (b < 100)
    return float(hit.mean())


def halves(path) -> tuple[float, float]:
    with Image.open(path) as im:
        w = im.width
        return share(im.crop((0, 0, w // 2, im.height)), "green"), share(
            im.crop((w // 2, 0, w, im.height)), "yellow"
        )


def shapes_spec(**kw) -> GenerateSpec:
    base = dict(model=str(SHAPES), prompt="a red circle", width=64, height=64, steps=20, cfg_scale=5.0, seed=3,
                sampler="DPM++ 2M", schedule="Karras", cpu_engine="torch")  # fmt: skip
    return GenerateSpec(**{**base, **kw})


@pytest.mark.skipif(not (SHAPES / "model_index.json").is_file(), reason="Shapes is not in this checkout")
def test_the_command_line_paints_each_half_from_its_own_prompt_and_records_the_regions(tmp_path, capsys):
    from studio import cli

    code = cli.main(["--home", str(tmp_path / "home"), "generate", "a red circle", "--json", "--seed", "3",
                     "--region", f"0,0,0.5,1:{GREEN}", "--region", f"0.5,0,1,1:{YELLOW}"])  # fmt: skip
    out, err = capsys.readouterr()
    assert code == 0, err
    path = json.loads(out.strip().splitlines()[-1])["path"]
    green, yellow = halves(path)
    assert green > 0.6 and yellow > 0.6, (green, yellow)
    with Image.open(path) as im:
        text, studio = im.info["parameters"], json.loads(im.info["studio"])
    assert f'Region 1: "0,0,0.5,1: {GREEN}: 1"' in text and "Regional mode: attention" in text
    assert [r["prompt"] for r in studio["spec"]["regions"]] == [GREEN, YELLOW]


@pytest.mark.skipif(not (SHAPES / "model_index.json").is_file(), reason="Shapes is not in this checkout")
def test_without_regions_the_halves_do_not_split_and_a_mask_acts_as_its_box(engine, tmp_path):
    plain = engine.generate(shapes_spec(), CancelToken(), lambda e: None)[0]
    green, yellow = halves(plain.path)
    assert green < 0.3 and yellow < 0.3  # the prompt alone names no background: the test can fail

    left = tmp_path / "left.png"
    mask = Image.new("L", (64, 64), 0)
    mask.paste(255, (0, 0, 32, 64))
    mask.save(left)
    masked = (RegionUnit(GREEN, mask=str(left)), RegionUnit(YELLOW, (0.5, 0.0, 1.0, 1.0)))
    item = engine.generate(shapes_spec(regions=masked), CancelToken(), lambda e: None)[0]
    green, yellow = halves(item.path)
    assert green > 0.6 and yellow > 0.6, (green, yellow)


@pytest.mark.skipif(not (SHAPES / "model_index.json").is_file(), reason="Shapes is not in this checkout")
def test_denoise_mode_splits_the_halves_too_and_the_model_gets_its_processors_back(engine):
    item = engine.generate(shapes_spec(regions=HALVES, region_mode="denoise"), CancelToken(), lambda e: None)[
        0
    ]
    green, yellow = halves(item.path)
    assert green > 0.15 and yellow > 0.6, (
        green,
        yellow,
    )  # weaker than attention on this model (the README's table)
    unet = engine.cache.get(str(SHAPES), lambda name: None, None).base.unet
    assert "forward" not in unet.__dict__
    assert not any(type(p).__name__ == "RegionalAttention" for p in unet.attn_processors.values())


def test_sdxl_takes_regions_with_its_second_encoder_and_a_weight(engine, tiny_sdxl):
    spec = GenerateSpec(model=str(tiny_sdxl), prompt="a cat", width=64, height=64, steps=2, seed=1,
                        regions=(RegionUnit("a dog", (0.0, 0.0, 0.5, 1.0), weight=0.5),))  # fmt: skip
    item = engine.generate(spec, CancelToken(), lambda e: None)[0]
    with Image.open(item.path) as im:
        assert im.size == (64, 64)
        assert 'Region 1: "0,0,0.5,1: a dog: 0.5"' in im.info["parameters"]


def test_shares_sum_to_one_and_overlaps_are_scaled():
    from studio.engine.regional_prompts import RegionMap

    regions = (RegionUnit("a", (0.0, 0.0, 0.75, 1.0)), RegionUnit("b", (0.25, 0.0, 1.0, 1.0), weight=0.5))
    shares = RegionMap(regions, [None, None]).shares(2, 4)
    assert shares.sum(0).allclose(shares.new_ones(2, 4))
    assert shares[:, 0, 0].tolist() == [0.0, 1.0, 0.0]  # only a: its prompt alone
    assert [round(v, 3) for v in shares[:, 0, 1].tolist()] == [0.0, 0.667, 0.333]  # a and b overlap past one
    assert shares[:, 0, 3].tolist() == [0.5, 0.0, 0.5]  # only b, at half weight


def test_a_flow_model_refuses_regions_with_a_sentence():
    from studio.engine.denoise_steps import check_flow

    with pytest.raises(StudioError) as err:
        check_flow(GenerateSpec(model="m", prompt="p", sampler="Euler", regions=HALVES), "flux")
    assert err.value.field == "regions" and "SD 1.x, SD 2.x and SDXL" in err.value.user_message
