"""The shipped Shapes model: small, loads through the same engine, and follows colour prompts."""

import pytest
from PIL import Image

from studio.core.builtin_models import BUILTIN_IMAGE_DIRS, builtin_image_models, model_card

SHAPES = BUILTIN_IMAGE_DIRS[0]
pytestmark = pytest.mark.skipif(not (SHAPES / "model_index.json").is_file(), reason="Shapes is not in this checkout")


def test_shipped_model_is_small_and_labelled():
    size = sum(p.stat().st_size for p in SHAPES.rglob("*") if p.is_file())
    assert size <= 15 * 1024 * 1024
    assert [m.label for m in builtin_image_models()] == ["Shapes (built-in demo)"]
    assert model_card(SHAPES)["recommended"]["width"] == 64


def test_colour_prompts_are_followed(engine):
    from studio.core.cancel import CancelToken
    from studio.core.specs import GenerateSpec
    from studio.engine.builtin.shapes_eval import colours_of

    cases = [("red", "square", "green"), ("yellow", "circle", "blue"), ("white", "cross", "black"),
             ("blue", "triangle", "orange")]
    hits = 0
    for i, (colour, shape, background) in enumerate(cases):
        article = "an" if background[0] in "aeiou" else "a"
        spec = GenerateSpec(model=str(SHAPES), prompt=f"a {colour} {shape} on {article} {background} background",
                            width=64, height=64, steps=20, cfg_scale=5.0, seed=100 + i, sampler="DPM++ 2M",
                            schedule="Karras")
        item = engine.generate(spec, CancelToken(), lambda e: None)[0]
        with Image.open(item.path) as im:
            got_background, got_colour = colours_of(im)
        hits += (got_background, got_colour) == (background, colour)
    assert hits >= 3, f"only {hits} of 4 prompts had the right shape and background colours"
