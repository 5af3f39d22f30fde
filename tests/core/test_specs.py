import pytest

from studio.core.image.recipe import check_spec as check
from studio.core.image.recipe import validate_spec as validate
from studio.core.image.specs import GenerateSpec, LoraRef
from studio.core.jobs import A1111_MAX_SEED, random_seed
from studio.core.jobs.errors import ValidationError


def spec(**kw):
    base = {"model": "/models/x", "prompt": "a cat", "width": 512, "height": 512}
    base.update(kw)
    return GenerateSpec(**base)


def test_width_65_is_refused_with_a_suggestion():
    problems = validate(spec(width=65))
    assert problems == {"width": "Width must be a multiple of 8 (try 64 or 72)."}


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"height": 8}, "height"),
        ({"steps": 0}, "steps"),
        ({"cfg_scale": -1}, "cfg_scale"),
        ({"seed": -5}, "seed"),
        ({"sampler": "Nope"}, "sampler"),
        ({"batch_size": 0}, "batch_size"),
        ({"mask": "/m.png"}, "mask"),
        ({"model": ""}, "model"),
        ({"schedule": "Karras", "sampler": "DDIM"}, "schedule"),
    ],
)
def test_bad_fields_are_named(changes, field):
    assert field in validate(spec(**changes))


def test_check_raises_validation_error_with_all_problems():
    with pytest.raises(ValidationError) as info:
        check(spec(width=65, steps=0))
    assert set(info.value.problems) == {"width", "steps"}


def test_init_image_must_exist(tmp_path):
    problems = validate(spec(init_image=str(tmp_path / "missing.png")))
    assert "init_image" in problems


def test_spec_round_trips_through_dict_and_ignores_unknown_keys():
    s = spec(loras=(LoraRef("/l/a.safetensors", 0.8),), seed=2**64 - 1, clip_skip=2)
    d = s.to_dict()
    d["from_the_future"] = True
    assert GenerateSpec.from_dict(d) == s


def test_consecutive_seeds_per_image_wrap_at_64_bits():
    s = spec(seed=2**64 - 1)
    assert s.seed_for(0) == 2**64 - 1
    assert s.seed_for(1) == 0


def test_random_seed_fits_a1111():
    assert all(0 <= random_seed() <= A1111_MAX_SEED for _ in range(100))


def test_mode_follows_inputs():
    assert spec().mode == "txt2img"
    assert spec(init_image="/a.png").mode == "img2img"
    assert spec(init_image="/a.png", mask="/m.png").mode == "inpaint"
