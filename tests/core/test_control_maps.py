"""The built-in preprocessors make the maps ControlNets expect; units parse from the command line's words; ControlNet
and IP-Adapter files are told apart from their headers."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image, ImageDraw

from studio.core.image.control import preprocess
from studio.core.image.units import parse_control, parse_reference
from studio.core.models.model_identify import identify


@pytest.fixture()
def square():
    im = Image.new("RGB", (64, 64), (20, 20, 20))
    ImageDraw.Draw(im).rectangle((16, 16, 47, 47), fill=(230, 230, 230))
    return im


def test_canny_finds_the_outline_only(square):
    edges = np.asarray(preprocess("canny", square).convert("L"))
    assert set(np.unique(edges)) == {0, 255}
    assert edges[32, 14:19].max() == 255 and edges[14:19, 32].max() == 255  # the left and top sides
    assert edges[32, 32] == 0 and edges[3, 3] == 0  # inside and outside stay black
    assert (edges > 0).mean() < 0.15  # thin lines, not areas


def test_soft_edges_lineart_and_scribble(square):
    soft = np.asarray(preprocess("softedge", square).convert("L"), int)
    assert soft[32, 16] > 150 and soft[32, 32] < 30 and len(np.unique(soft)) > 10  # grey levels
    page = Image.new("RGB", (64, 64), "white")
    ImageDraw.Draw(page).line((5, 32, 58, 32), fill="black", width=2)
    lines = np.asarray(preprocess("lineart", page).convert("L"), int)
    assert lines[32, 30] > 150 and lines[10, 30] < 20  # the dark stroke is a white line on black
    strokes = np.asarray(preprocess("scribble", page).convert("L"), int)
    assert strokes[32, 30] == 255 and strokes[10, 30] == 0


@pytest.mark.parametrize(("text", "expected"), [
    ("canny:a.png:control_sd15_canny", {"preprocessor": "canny", "image": "a.png", "model": "control_sd15_canny",
                                        "weight": 1.0, "start": 0.0, "end": 1.0}),
    ("Depth:/x/y.png:/m/cn:0.5:0.1:0.8", {"preprocessor": "depth", "image": "/x/y.png", "model": "/m/cn",
                                          "weight": 0.5, "start": 0.1, "end": 0.8}),
    (r"none:C:\pics\a.png:D:\cn.safetensors:1.2", {"preprocessor": "none", "image": r"C:\pics\a.png",
                                                   "model": r"D:\cn.safetensors", "weight": 1.2, "start": 0.0,
                                                   "end": 1.0}),
])  # fmt: skip
def test_units_parse(text, expected):
    assert parse_control(text) == {**expected, "threshold_a": 100.0, "threshold_b": 200.0}  # canny's defaults


def test_bad_units_say_why():
    assert "PREPROCESSOR:IMAGE:MODEL" in parse_control("canny:a.png")
    assert "No preprocessor 'blur'" in parse_control("blur:a.png:cn")
    assert "0 ≤ start < end ≤ 1" in parse_control("canny:a.png:cn:1:0.8:0.2")
    assert "between 0 and 2" in parse_control(
        {"image": "a", "model": "m", "preprocessor": "none", "weight": 5}
    )
    assert parse_reference("ref.png:0.7")["weight"] == 0.7 and parse_reference("ref.png")["weight"] == 0.6


def _header(shapes):
    return {k: {"dtype": "F16", "shape": v, "data_offsets": [0, 0]} for k, v in shapes.items()}


def test_controlnets_and_ip_adapters_are_identified_from_their_headers():
    a1111 = identify(
        _header(
            {
                "control_model.input_hint_block.0.weight": [16, 3, 3, 3],
                "control_model.zero_convs.0.0.weight": [320, 320, 1, 1],
                "control_model.input_blocks.1.1.transformer_blocks.0.attn2.to_k.weight": [320, 768],
            }
        )
    )
    assert (a1111.kind, a1111.family, a1111.label) == ("controlnet", "sd1", "SD 1.x ControlNet")
    xl = identify(
        _header(
            {
                "controlnet_cond_embedding.conv_in.weight": [16, 3, 3, 3],
                "controlnet_down_blocks.0.weight": [320, 320, 1, 1],
                "down_blocks.1.attentions.0.transformer_blocks.0.attn2.to_k.weight": [640, 2048],
            }
        )
    )
    assert (xl.kind, xl.family) == ("controlnet", "sdxl")
    ip = identify(
        _header(
            {
                "image_proj.proj.weight": [3072, 1024],
                "image_proj.norm.weight": [768],
                "ip_adapter.1.to_k_ip.weight": [320, 768],
                "ip_adapter.1.to_v_ip.weight": [320, 768],
            }
        )
    )
    assert (ip.kind, ip.family, ip.details["image_embed_dim"]) == ("ip-adapter", "sd1", 1024)
    plus = identify(
        _header(
            {
                "image_proj.latents": [1, 16, 1280],
                "image_proj.proj_in.weight": [1280, 1280],
                "ip_adapter.1.to_k_ip.weight": [640, 2048],
            }
        )
    )
    assert (plus.kind, plus.family, plus.variant, plus.label) == (
        "ip-adapter",
        "sdxl",
        "plus",
        "SDXL plus IP-Adapter",
    )


def test_canny_finds_an_edge_between_two_colours_of_the_same_brightness_and_takes_thresholds():
    from PIL import Image

    from studio.core.image.control import canny, empty_map_words, preprocess
    from studio.core.image.units import parse_control

    picture = Image.new("RGB", (64, 64), (200, 60, 60))  # red …
    picture.paste((60, 120, 60), (32, 0, 64, 64))  # … beside a green of nearly the same grey
    edges = canny(picture)
    assert edges.convert("L").getextrema()[1] == 255  # the hue edge is found
    assert empty_map_words("canny", edges, (100, 200)) == ""
    faint = preprocess("canny", picture, (900, 1000))
    assert faint.convert("L").getextrema()[1] == 0
    assert "No edges at thresholds 900/1000: lower them" in empty_map_words("canny", faint, (900, 1000))
    unit = parse_control({"image": "x.png", "preprocessor": "canny", "model": "m", "threshold_a": 50,
                          "threshold_b": 120})  # fmt: skip
    assert (unit["threshold_a"], unit["threshold_b"]) == (50.0, 120.0)
    assert "1 ≤ low ≤ high" in parse_control({"image": "x.png", "preprocessor": "canny", "model": "m",
                                              "threshold_a": 300, "threshold_b": 120})  # fmt: skip
