"""Regions as people write them (the command line, a recipe file, another picture's text) and what is said when
they are wrong."""

import pytest
from PIL import Image

from studio.core.image.from_image import draft_from_image, read_words
from studio.core.image.image_metadata import RenderInfo, a1111_text
from studio.core.image.regions import RegionUnit, parse_region
from studio.core.image.specs import GenerateSpec
from studio.core.jobs.fields import Reading


@pytest.mark.parametrize(
    ("text", "prompt", "box", "weight"),
    [
        ("0,0,0.5,1:a castle", "a castle", (0.0, 0.0, 0.5, 1.0), 1.0),
        ("0.5, 0, 1, 1: a (red:1.2) circle :0.7", "a (red:1.2) circle", (0.5, 0.0, 1.0, 1.0), 0.7),
        ("0,.25,1,.75:sky: over the sea", "sky: over the sea", (0.0, 0.25, 1.0, 0.75), 1.0),
    ],
)
def test_a_box_region_from_the_command_line(text, prompt, box, weight):
    assert parse_region(text) == {"prompt": prompt, "box": box, "mask": "", "weight": weight}


def test_a_mask_region_is_made_absolute(tmp_path):
    got = parse_region("masks/left.png:a dog:0.5", base=tmp_path)
    assert got["mask"] == str(tmp_path / "masks" / "left.png") and got["weight"] == 0.5


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("0,0,2,1:x", "is not inside the picture"),
        ("0.5,0,0.5,1:x", "0 ≤ X0 < X1 ≤ 1"),
        ("0,0,1,1:", "has no prompt"),
        ("a castle", "A region is X0,Y0,X1,Y1:PROMPT[:WEIGHT]"),
        ("0,0,1:x", "neither four fractions nor a mask file"),
        ("0,0,1,1:x:1.5", "between 0 and 1 (given 1.5)"),
        (42, "or an object with prompt"),
    ],
)
def test_a_bad_region_gets_a_sentence(text, message):
    got = parse_region(text)
    assert isinstance(got, str) and message in got


def test_regions_are_written_into_a1111_text_and_read_back(tmp_path):
    mask = tmp_path / "m.png"
    Image.new("L", (8, 8), 255).save(mask)
    regions = (
        RegionUnit("a green field", (0.0, 0.0, 0.5, 1.0)),
        RegionUnit("a sun, bright", mask=str(mask), weight=0.8),
    )
    spec = GenerateSpec(model="m.safetensors", prompt="a landscape", regions=regions, region_mode="denoise")
    text = a1111_text(spec, RenderInfo())
    assert 'Region 2: "' + str(mask) + ': a sun, bright: 0.8"' in text and "Regional mode: denoise" in text
    from studio.core.image.a1111 import parse_parameters

    prompt, negative, params = parse_parameters(text)
    reading = Reading()
    draft = read_words(prompt, negative, params, reading)
    assert draft["regions"][0] == {
        "prompt": "a green field",
        "box": (0.0, 0.0, 0.5, 1.0),
        "mask": "",
        "weight": 1.0,
    }
    assert draft["regions"][1]["mask"] == str(mask) and draft["region_mode"] == "denoise"
    assert not [n for n in reading.notes if "Region" in n or "carried" in n]

    mask.unlink()  # another machine: the mask is not there
    reading = Reading()
    draft = read_words(prompt, negative, params, reading)
    assert len(draft["regions"]) == 1 and any("m.png is not on this machine" in n for n in reading.notes)


def test_a_recipe_file_with_regions_freezes_and_bad_ones_are_refused(tmp_path):
    from studio.core.image.recipe import validate_spec

    spec = GenerateSpec(model="m", prompt="p", regions=(RegionUnit("x", mask=str(tmp_path / "gone.png")),))
    assert "gone.png does not exist" in validate_spec(spec)["regions"]
    spec = GenerateSpec.from_dict({**spec.to_dict(), "regions": [{"prompt": "x", "box": [0, 0, 0.5, 1]}]})
    assert spec.regions == (RegionUnit("x", (0.0, 0.0, 0.5, 1.0)),)
    assert "regions" not in validate_spec(spec)


def test_a_studio_picture_brings_its_regions_back(tmp_path):
    from studio.core.gallery.gallery_store import GalleryStore

    store = GalleryStore(tmp_path / "g")
    spec = GenerateSpec(model="m", prompt="p", regions=(RegionUnit("left", (0.0, 0.0, 0.5, 1.0)),))
    item = store.save(Image.new("RGB", (8, 8)), spec, RenderInfo())
    draft, notes = draft_from_image(item.path)
    assert draft["regions"] == [{"prompt": "left", "box": (0.0, 0.0, 0.5, 1.0), "mask": "", "weight": 1.0}]
    store.close()
