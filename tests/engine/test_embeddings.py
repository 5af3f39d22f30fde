"""Textual-inversion embeddings used by name in the prompt, as AUTOMATIC1111 does: found when the recipe is
frozen, loaded into the text encoder(s), recorded as TI hashes; one for another family is refused by name."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image
from safetensors.torch import save_file

from studio.core.image.finders import embedding_finder
from studio.core.image.recipe import ImageContext, freeze_image
from studio.core.jobs.cancel import CancelToken
from studio.core.jobs.errors import StudioError


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    root = tmp_path_factory.mktemp("models")
    emb = root / "embeddings"
    emb.mkdir()
    torch.manual_seed(0)
    save_file({"emb_params": torch.randn(2, 32) * 3}, str(emb / "glowtok.safetensors"))  # SD 1.x: 2 vectors
    save_file({"emb_params": torch.randn(1, 768)}, str(emb / "widetok.safetensors"))  # a real SD 1.5 width
    save_file({"clip_l": torch.randn(1, 32), "clip_g": torch.randn(1, 32)}, str(emb / "xltok.safetensors"))
    return root


def render(runtime, model, folder, prompt, negative=""):
    spec = freeze_image({"model": str(model), "prompt": prompt, "negative_prompt": negative, "width": 64,
                         "height": 64, "steps": 3, "seed": 5}, ImageContext(embeddings=embedding_finder([folder])))  # fmt: skip
    (item,) = runtime.image_engine.generate(spec, CancelToken(), lambda e: None)
    with Image.open(item.path) as im:
        return spec, np.asarray(im.convert("RGB"), int), im.info["parameters"]


def test_an_embedding_named_in_the_prompt_changes_the_picture_and_is_recorded(runtime, tiny_sd, folder):
    plain_spec, plain, params = render(runtime, tiny_sd, folder, "a red circle")
    assert plain_spec.embeddings == () and "TI hashes" not in params
    spec, glow, params = render(runtime, tiny_sd, folder, "a red circle, (glowtok:1.2)")
    assert [e.name for e in spec.embeddings] == ["glowtok"]
    assert np.abs(glow - plain).mean() > 0.5
    assert 'TI hashes: "glowtok: ' in params  # quoted, as AUTOMATIC1111 writes it
    again_spec, again, _ = render(
        runtime, tiny_sd, folder, "a red circle"
    )  # unloaded again: the same picture
    assert np.array_equal(again, plain)
    neg_spec, _, _ = render(runtime, tiny_sd, folder, "a red circle", "glowtok")  # in the negative prompt too
    assert [e.name for e in neg_spec.embeddings] == ["glowtok"]
    assert (
        freeze_image(
            {"model": "m", "prompt": "glowtokens"}, ImageContext(embeddings=embedding_finder([folder]))
        ).embeddings
        == ()
    )  # whole words only


def test_an_embedding_for_another_family_is_refused_by_name(runtime, tiny_sd, folder):
    with pytest.raises(StudioError, match="widetok has 768-wide vectors; this model's text encoder takes 32"):
        render(runtime, tiny_sd, folder, "a widetok circle")


def test_sdxl_embeddings_go_into_both_text_encoders(runtime, tiny_sdxl, folder):
    _, plain, _ = render(runtime, tiny_sdxl, folder, "a red circle")
    spec, xl, params = render(runtime, tiny_sdxl, folder, "a red circle xltok")
    assert [e.name for e in spec.embeddings] == ["xltok"] and 'TI hashes: "xltok: ' in params
    assert np.abs(xl - plain).mean() > 0.1
