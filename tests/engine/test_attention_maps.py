"""Where each word acts: the UNet's cross-attention recorded while a picture is made again; a word's map differs
from another word's; the layers get their own processors back; words not in the prompt are said."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from studio.core.image.attention import AttentionSpec, word_positions
from studio.core.image.recipe import ImageContext, freeze_image
from studio.core.image.tokens import ClipTokens
from studio.core.jobs.cancel import CancelToken
from studio.core.jobs.errors import StudioError
from studio.engine.explain_jobs import attention


def spec_of(model, prompt="a red circle on a blue background"):
    return freeze_image({"model": str(model), "prompt": prompt, "width": 64, "height": 64, "steps": 4, "seed": 5,
                         "sampler": "Euler"}, ImageContext())  # fmt: skip


def test_word_positions_follow_the_chunks(tiny_sd):
    tokens = ClipTokens(tiny_sd / "tokenizer")
    assert word_positions("a red circle on a blue background", "red", tokens.ids) == [2]
    assert word_positions("a red circle BREAK red", "red", tokens.ids) == [2, 77 + 1]
    assert word_positions("a red circle", "green", tokens.ids) == []


def test_maps_of_two_words_differ_and_the_processors_come_back(runtime, tiny_sd, tmp_path):
    spec = spec_of(tiny_sd)
    (plain,) = runtime.image_engine.generate(spec, CancelToken(), lambda e: None)
    unet = runtime.image_engine.cache.loaded.base.unet
    before = {k: type(v) for k, v in unet.attn_processors.items()}
    (again,) = attention(runtime.image_engine, AttentionSpec(spec, ("red", "background"), str(tmp_path / "maps")),
                                              CancelToken(), lambda e: None)  # fmt: skip
    same = np.abs(np.asarray(Image.open(plain.path), int) - np.asarray(Image.open(again.path), int))
    assert (
        same.mean() < 1.5 and same.max() < 24
    )  # the same picture (plain attention math in place of SDPA: rounding only)
    assert {k: type(v) for k, v in unet.attn_processors.items()} == before
    red = np.asarray(Image.open(tmp_path / "maps" / "red.map.png"), int)
    back = np.asarray(Image.open(tmp_path / "maps" / "background.map.png"), int)
    assert (
        red.shape == (64, 64, 3) and np.abs(red - back).mean() > 5
    )  # where "red" acts is not where "background" does
    assert (tmp_path / "maps" / "red.png").is_file()
    with pytest.raises(StudioError, match="“green” is not a word of the prompt"):
        attention(
            runtime.image_engine,
            AttentionSpec(spec, ("green",), str(tmp_path / "m2")),
            CancelToken(),
            lambda e: None,
        )


def test_explain_attention_on_the_command_line(runtime, tiny_sd, tmp_path):
    from studio.cli import main

    (item,) = runtime.image_engine.generate(spec_of(tiny_sd), CancelToken(), lambda e: None)
    out = tmp_path / "red.png"
    assert main(["explain", "attention", str(item.path), "--word", "red", "--out", str(out),
                 "--home", str(tmp_path / "h")]) == 0  # fmt: skip
    assert Image.open(out).size == (64, 64)
