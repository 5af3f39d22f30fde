"""Original-layout (A1111/Civitai) single-file checkpoints load offline, pixel-identical to the folder."""

import json

import numpy as np
import pytest
from PIL import Image

from studio.core.cancel import CancelToken
from studio.core.errors import ErrorKind, StudioError


@pytest.fixture(scope="module")
def single_file(tiny_sd, tmp_path_factory):
    from diffusers import StableDiffusionPipeline

    from studio.engine.ldm_format import save_config_folder, save_single_file

    d = tmp_path_factory.mktemp("single")
    pipe = StableDiffusionPipeline.from_pretrained(str(tiny_sd), local_files_only=True)
    return save_single_file(pipe, d / "tiny-v1.safetensors"), save_config_folder(pipe, d / "config")


def test_original_layout_keys(single_file):
    from studio.core.safetensors_header import tensor_names

    names = tensor_names(single_file[0])
    assert "model.diffusion_model.input_blocks.0.0.weight" in names
    assert "first_stage_model.decoder.mid.attn_1.q.weight" in names
    assert "cond_stage_model.transformer.text_model.embeddings.token_embedding.weight" in names
    assert not any(n.startswith(("unet.", "down_blocks")) for n in names)


def test_single_file_generates_the_same_pixels_as_the_folder(engine, make_spec, single_file, monkeypatch):
    from studio.engine import pipelines

    path, config = single_file
    monkeypatch.setattr(pipelines, "single_file_config", lambda family: config if family == "sd1" else None)
    events = []
    from_file = engine.generate(make_spec(model=str(path)), CancelToken(), events.append)
    from_folder = engine.generate(make_spec(), CancelToken(), lambda e: None)
    with Image.open(from_file[0].path) as a, Image.open(from_folder[0].path) as b:
        assert np.array_equal(np.asarray(a), np.asarray(b))
        params = a.info["parameters"]
    # single files get AUTOMATIC1111's model hash: the first 10 hex digits of the file's SHA-256
    import hashlib

    assert f"Model hash: {hashlib.sha256(path.read_bytes()).hexdigest()[:10]}, Model: tiny-v1" in params


def test_single_file_without_offline_config_says_so(engine, make_spec, single_file, monkeypatch, tmp_path):
    from studio.engine import pipelines

    monkeypatch.setattr(pipelines, "single_file_config", lambda family: tmp_path / "nothing-here")
    with pytest.raises(StudioError) as info:
        engine.generate(make_spec(model=str(single_file[0])), CancelToken(), lambda e: None)
    assert info.value.kind is ErrorKind.MODEL_INVALID
    assert "no offline SD1 configuration" in info.value.user_message


def test_shipped_sd1_config_matches_stable_diffusion_1_5():
    from accelerate import init_empty_weights
    from diffusers import AutoencoderKL, UNet2DConditionModel
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTokenizer

    from studio.core.paths import resource

    folder = resource("model_configs", "sd1")
    tok = CLIPTokenizer.from_pretrained(str(folder / "tokenizer"))
    assert tok("a photo of a cat").input_ids == [49406, 320, 1125, 539, 320, 2368, 49407]
    assert tok.model_max_length == 77 and len(tok) == 49408
    with init_empty_weights():
        unet = UNet2DConditionModel.from_config(json.loads((folder / "unet" / "config.json").read_text()))
        vae = AutoencoderKL.from_config(json.loads((folder / "vae" / "config.json").read_text()))
        te = CLIPTextModel(CLIPTextConfig.from_pretrained(str(folder / "text_encoder")))
    count = lambda m: sum(p.numel() for p in m.parameters())  # noqa: E731
    assert (count(unet), count(vae), count(te)) == (859_520_964, 83_653_863, 123_060_480)
