"""Another VAE per job: a diffusers folder, or a single file in either layout, changes the pixels; the model's
own comes back exactly; the recipe names it (and its hash); a VAE that does not fit is refused before decoding."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from studio.core.image.finders import vae_finder
from studio.core.image.recipe import ImageContext, freeze_image
from studio.core.jobs.cancel import CancelToken
from studio.core.jobs.errors import StudioError
from tests.tiny_models import save_tiny_vae


@pytest.fixture(scope="module")
def vaes(tmp_path_factory):
    folder = tmp_path_factory.mktemp("models")
    save_tiny_vae(folder / "vae" / "soft.safetensors", "original")
    save_tiny_vae(folder / "vae" / "flat.safetensors", "diffusers")
    save_tiny_vae(folder / "blue-vae", "folder")
    return folder


@pytest.fixture()
def engine(tmp_path):
    from studio.runtime import build_runtime

    rt = build_runtime(tmp_path / "home")
    yield rt.image_engine
    rt.close(5)


def render(engine, tiny_sd, vaes, vae="", **ctx):
    spec = freeze_image({"model": str(tiny_sd), "prompt": "a red circle", "width": 64, "height": 64, "steps": 3,
                         "seed": 4, "vae": vae}, ImageContext(vaes=vae_finder([vaes]), **ctx))  # fmt: skip
    assert not isinstance(spec, dict), spec
    (item,) = engine.generate(spec, CancelToken(), lambda e: None)
    with Image.open(item.path) as im:
        return np.asarray(im.convert("RGB"), int), im.info["parameters"]


def test_each_vae_layout_decodes_and_the_models_own_comes_back(engine, tiny_sd, vaes):
    own, params = render(engine, tiny_sd, vaes)
    assert "VAE" not in params
    soft, soft_params = render(engine, tiny_sd, vaes, "soft")
    flat, _ = render(engine, tiny_sd, vaes, "flat")
    folder, _ = render(engine, tiny_sd, vaes, str(vaes / "blue-vae"))
    assert np.abs(soft - own).mean() > 1  # another decoder: other pixels
    assert np.array_equal(soft, flat) and np.array_equal(soft, folder)  # the same weights in three layouts
    assert "VAE: soft.safetensors" in soft_params and "VAE hash: " in soft_params
    again, _ = render(engine, tiny_sd, vaes)
    assert np.array_equal(again, own)


def test_a_models_default_vae_applies_when_the_job_names_none(engine, tiny_sd, vaes):
    default = str((vaes / "vae" / "soft.safetensors").resolve())
    spec = freeze_image({"model": str(tiny_sd), "prompt": "x"}, ImageContext(vae_default=lambda m: default))
    assert spec.vae == default
    named = freeze_image({"model": str(tiny_sd), "prompt": "x", "vae": "flat"},
                         ImageContext(vaes=vae_finder([vaes]), vae_default=lambda m: default))  # fmt: skip
    assert named.vae.endswith("flat.safetensors")  # the job's own choice wins
    problems = freeze_image({"model": str(tiny_sd), "prompt": "x", "vae": "missing"}, ImageContext())
    assert "VAE “missing” was not found" in problems["vae"]


def test_vaes_that_do_not_fit_are_refused_clearly(engine, tiny_sd, tmp_path):
    import torch
    from diffusers import AutoencoderKL
    from safetensors.torch import save_file

    wide = AutoencoderKL(block_out_channels=(32, 64), down_block_types=("DownEncoderBlock2D",) * 2,
                         up_block_types=("UpDecoderBlock2D",) * 2, latent_channels=4, norm_num_groups=8)  # fmt: skip
    save_file({k: v.contiguous() for k, v in wide.state_dict().items()}, str(tmp_path / "wide.safetensors"))
    save_file({"lora_unet_x.lora_down.weight": torch.zeros(2, 2)}, str(tmp_path / "lora.safetensors"))
    for name, words in (("wide", "does not fit this model's VAE"), ("lora", "not a VAE Studio can read")):
        spec = freeze_image({"model": str(tiny_sd), "prompt": "x", "width": 64, "height": 64, "steps": 2,
                             "vae": str(tmp_path / f"{name}.safetensors")}, ImageContext())  # fmt: skip
        with pytest.raises(StudioError, match=words) as e:
            engine.generate(spec, CancelToken(), lambda e: None)
        assert e.value.field == "vae"
