import json

from PIL import Image

from studio.core.gallery.gallery_store import GalleryStore
from studio.core.image.a1111 import build_parameters, parse_parameters
from studio.core.image.image_metadata import AI_SOURCE_TYPE, XMP_KEY, RenderInfo, a1111_text, spec_of_image
from studio.core.image.specs import GenerateSpec, LoraRef


def test_values_with_commas_colons_or_newlines_are_json_quoted():
    text = build_parameters("p", "", [("Steps", 20), ("Model", "a, b"), ("Lora hashes", "x: 1"), ("Seed", 5)])
    assert text == 'p\nSteps: 20, Model: "a, b", Lora hashes: "x: 1", Seed: 5'


def test_parse_round_trip_multiline_prompt_and_negative():
    text = build_parameters(
        "line one,\nline two", "bad, ugly", [("Steps", 30), ("CFG scale", 7.5), ("Seed", 1)]
    )
    assert parse_parameters(text) == (
        "line one,\nline two",
        "bad, ugly",
        {"Steps": "30", "CFG scale": "7.5", "Seed": "1"},
    )


def test_parse_without_negative_prompt():
    assert parse_parameters("just a cat\nSteps: 4, Seed: 9") == (
        "just a cat",
        "",
        {"Steps": "4", "Seed": "9"},
    )


def test_a1111_line_in_the_documented_order(tmp_path):
    lora = tmp_path / "grain.safetensors"
    spec = GenerateSpec(
        model="/m/dream.safetensors",
        prompt="a cat",
        negative_prompt="blurry",
        steps=20,
        cfg_scale=7.0,
        seed=3,
        sampler="DPM++ 2M",
        schedule="Karras",
        width=512,
        height=768,
        clip_skip=2,
        loras=(LoraRef(str(lora), 0.8),),
    )
    text = a1111_text(spec, RenderInfo(model_hash="abcdef0123", lora_hashes={"grain": "0123456789ab"}))
    prompt, negative, params = parse_parameters(text)
    assert prompt == "a cat <lora:grain:0.8>"
    assert negative == "blurry"
    assert list(params)[:8] == [
        "Steps",
        "Sampler",
        "Schedule type",
        "CFG scale",
        "Seed",
        "Size",
        "Model hash",
        "Model",
    ]
    assert params["Size"] == "512x768"
    assert params["Model hash"] == "abcdef0123"
    assert params["Clip skip"] == "2"
    assert params["Lora hashes"] == "grain: 0123456789ab"


def test_saved_png_carries_parameters_spec_and_ai_marker(tmp_path):
    store = GalleryStore(tmp_path / "gallery")
    spec = GenerateSpec(model="/m/x", prompt="a red square", seed=10, batch_size=2, width=64, height=64)
    item = store.save(
        Image.new("RGB", (64, 64), "red"),
        spec.for_image(1),
        RenderInfo(index=1, device="cpu", dtype="float32"),
    )
    assert item.path.is_file() and item.path.parent.parent == tmp_path / "gallery"
    with Image.open(item.path) as im:
        assert im.info["parameters"].startswith("a red square\nSteps: 25")
        assert "Seed: 11" in im.info["parameters"]
        record = json.loads(im.info["studio"])
        assert record["spec"]["prompt"] == "a red square" and record["spec"]["spec_version"] == 1
        assert record["device"] == "cpu" and record["versions"]["studio"]
        assert AI_SOURCE_TYPE in im.info[XMP_KEY]
        again = spec_of_image(im)
    # "Use these settings" gives the exact image back: its own seed, one image
    assert again == spec.replace(seed=11, batch_size=1)
    assert [i.path for i in store.recent()] == [item.path]
    assert not list(item.path.parent.glob(".*.tmp"))


def test_failed_write_leaves_no_partial_file(tmp_path, monkeypatch):
    store = GalleryStore(tmp_path / "g")
    spec = GenerateSpec(model="m", prompt="p")

    def broken_save(*a, **k):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(Image.Image, "save", broken_save)
    import pytest

    from studio.core.jobs.errors import StudioError

    with pytest.raises(StudioError, match="No space left"):
        store.save(Image.new("RGB", (8, 8)), spec, RenderInfo())
    assert [p for p in (tmp_path / "g").rglob("*") if p.is_file() and ".sqlite" not in p.name] == []
    assert store.count() == 0
