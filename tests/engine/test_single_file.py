"""Original-layout (A1111/Civitai) single-file checkpoints load offline, pixel-identical to the folder."""

import json

import numpy as np
import pytest
from PIL import Image

from studio.core.jobs.cancel import CancelToken
from studio.core.jobs.errors import ErrorKind, StudioError


@pytest.fixture(scope="module")
def single_file(tiny_sd, tmp_path_factory):
    from diffusers import StableDiffusionPipeline

    from studio.engine.ldm_format import save_config_folder, save_single_file

    d = tmp_path_factory.mktemp("single")
    pipe = StableDiffusionPipeline.from_pretrained(str(tiny_sd), local_files_only=True)
    return save_single_file(pipe, d / "tiny-v1.safetensors"), save_config_folder(pipe, d / "config")


def test_original_layout_keys(single_file):
    from studio.core.io.safetensors_header import tensor_names

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

    from studio.core.io.paths import resource

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


@pytest.mark.parametrize(
    ("family", "counts"),
    [
        ("sd2", {"unet": 865_910_724, "text_encoder": 340_387_840}),
        ("sdxl", {"unet": 2_567_463_684, "text_encoder": 123_060_480, "text_encoder_2": 694_659_840}),
    ],
)
def test_shipped_sd2_and_sdxl_configs_match_the_published_architectures(family, counts):
    from accelerate import init_empty_weights
    from diffusers import UNet2DConditionModel
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTextModelWithProjection, CLIPTokenizer

    from studio.core.io.paths import resource

    folder = resource("model_configs", family)
    got = {}
    with init_empty_weights():
        got["unet"] = UNet2DConditionModel.from_config(
            json.loads((folder / "unet" / "config.json").read_text())
        )
        got["text_encoder"] = CLIPTextModel(CLIPTextConfig.from_pretrained(str(folder / "text_encoder")))
        if family == "sdxl":
            got["text_encoder_2"] = CLIPTextModelWithProjection(
                CLIPTextConfig.from_pretrained(str(folder / "text_encoder_2"))
            )
    assert {k: sum(p.numel() for p in m.parameters()) for k, m in got.items()} == counts
    for sub in ("tokenizer", "tokenizer_2"):
        if (folder / sub).is_dir():
            tok = CLIPTokenizer.from_pretrained(str(folder / sub))
            assert tok("a photo of a cat").input_ids == [49406, 320, 1125, 539, 320, 2368, 49407]
    # OpenCLIP text encoders pad with "!" (id 0), CLIP ViT-L with the end token
    pad = CLIPTokenizer.from_pretrained(
        str(folder / ("tokenizer_2" if family == "sdxl" else "tokenizer"))
    ).pad_token_id
    assert pad == 0


def test_a_family_override_loads_an_sd2_file_as_v_prediction(single_file, tmp_path, monkeypatch):
    import torch

    from studio.core.gallery.gallery_store import GalleryStore
    from studio.core.io.hashing import HashCache
    from studio.core.io.settings import LoadOptions
    from studio.engine import pipelines
    from studio.engine.devices import Placement

    path, config = single_file
    asked = []
    monkeypatch.setattr(pipelines, "single_file_config", lambda family: asked.append(family) or config)
    cache = pipelines.PipelineCache(
        lambda: Placement("cpu", torch.float32),
        options=lambda: LoadOptions(family_overrides=((str(path), "sd2-v"),)),
    )
    model = cache.get(str(path))
    assert asked == ["sd2"]
    assert model.base.scheduler.config.prediction_type == "v_prediction"
    del GalleryStore, HashCache


@pytest.fixture(scope="module")
def pickled(single_file, tmp_path_factory):
    """The same tiny checkpoint as a legitimate .ckpt, and a .ckpt whose pickle would create a canary file."""
    import torch
    from safetensors.torch import load_file

    d = tmp_path_factory.mktemp("pickles")
    good = d / "tiny-v1.ckpt"
    torch.save({"state_dict": load_file(str(single_file[0]))}, good)
    canary = d / "CANARY"

    class Evil:
        def __reduce__(self):
            return (open, (str(canary), "w"))

    import pickle

    evil = d / "evil.ckpt"
    evil.write_bytes(pickle.dumps({"state_dict": {"x": Evil()}}))
    return good, evil, canary


def test_pickles_are_refused_by_default_and_never_executed(engine, make_spec, pickled):
    good, evil, canary = pickled
    for path in (good, evil):
        with pytest.raises(StudioError) as info:
            engine.generate(make_spec(model=str(path)), CancelToken(), lambda e: None)
        assert "pickled checkpoint" in info.value.user_message
    assert not canary.exists()


def test_allowed_pickles_load_weights_only(tmp_path, make_spec, single_file, pickled, monkeypatch):
    import torch

    from studio.core.gallery.gallery_store import GalleryStore
    from studio.core.io.hashing import HashCache
    from studio.core.io.settings import LoadOptions
    from studio.engine import pipelines
    from studio.engine.devices import Placement
    from studio.engine.image import ImageEngine

    good, evil, canary = pickled
    monkeypatch.setattr(pipelines, "single_file_config", lambda family: single_file[1])
    eng = ImageEngine(
        GalleryStore(tmp_path / "g"),
        HashCache(tmp_path / "h.json"),
        placement=lambda: Placement("cpu", torch.float32),
        options=lambda: LoadOptions(allow_pickle=True),
    )
    try:
        with pytest.raises(StudioError) as info:
            eng.generate(make_spec(model=str(evil)), CancelToken(), lambda e: None)
        assert "refused" in info.value.user_message and not canary.exists()
        from_ckpt = eng.generate(make_spec(model=str(good)), CancelToken(), lambda e: None)
        from_file = eng.generate(make_spec(model=str(single_file[0])), CancelToken(), lambda e: None)
        with Image.open(from_ckpt[0].path) as a, Image.open(from_file[0].path) as b:
            assert np.array_equal(np.asarray(a), np.asarray(b))
    finally:
        eng.store.close()
    assert not canary.exists()


def test_memory_savings_follow_the_settings(tmp_path, make_spec):
    import torch

    from studio.core.gallery.gallery_store import GalleryStore
    from studio.core.io.hashing import HashCache
    from studio.core.io.settings import LoadOptions
    from studio.core.jobs.events import Loading
    from studio.engine.devices import Placement
    from studio.engine.image import ImageEngine

    opts = {"value": LoadOptions()}
    eng = ImageEngine(
        GalleryStore(tmp_path / "g"),
        HashCache(tmp_path / "h.json"),
        placement=lambda: Placement("cpu", torch.float32),
        options=lambda: opts["value"],
    )
    try:
        events = []
        plain = eng.generate(make_spec(), CancelToken(), events.append)
        loading = [e.what for e in events if isinstance(e, Loading)]
        assert any("needs about" in w and "free" in w for w in loading), loading
        vae = eng.cache.loaded.base.vae
        assert not vae.use_tiling  # auto on a machine with room: no savings
        opts["value"] = LoadOptions(vae_tiling="on", attention_slicing="on")
        tiled = eng.generate(make_spec(), CancelToken(), lambda e: None)
        assert eng.cache.loaded.base.vae is vae and vae.use_tiling  # switched on the loaded model, no reload
        with Image.open(plain[0].path) as a, Image.open(tiled[0].path) as b:
            assert np.abs(np.asarray(a).astype(int) - np.asarray(b).astype(int)).max() <= 2
    finally:
        eng.store.close()


def test_a_single_file_on_openvino_builds_no_torch_unet_once_converted(
    make_spec, single_file, tmp_path, monkeypatch
):
    """A1111-style single files are what most users have: once converted, the OpenVINO engine loads the rest of the
    file and not its torch UNet (no time or memory spent on a network that is dropped)."""
    pytest.importorskip("openvino")
    import torch
    from diffusers import UNet2DConditionModel

    from studio.core.gallery.gallery_store import GalleryStore
    from studio.core.io.hashing import HashCache
    from studio.engine import openvino_cache, pipelines
    from studio.engine.devices import Placement
    from studio.engine.image import ImageEngine

    path, config = single_file
    monkeypatch.setattr(pipelines, "single_file_config", lambda family: config if family == "sd1" else None)
    monkeypatch.delenv(openvino_cache.SWITCH, raising=False)
    eng = ImageEngine(GalleryStore(tmp_path / "g"), HashCache(tmp_path / "h.json"),
                      placement=lambda: Placement("cpu", torch.float32), openvino_cache=lambda: tmp_path / "cache")  # fmt: skip
    built: list[int] = []
    real = UNet2DConditionModel.from_single_file.__func__

    def counting(cls, *a, **k):  # how a pipeline's single file builds its torch UNet
        built.append(1)
        return real(cls, *a, **k)

    monkeypatch.setattr(UNet2DConditionModel, "from_single_file", classmethod(counting))
    spec = make_spec(model=str(path), cpu_engine="openvino")
    first = eng.generate(spec, CancelToken(), lambda e: None)
    assert built  # the first run converts the file's UNet
    built.clear()
    eng.clear()
    again = eng.generate(spec, CancelToken(), lambda e: None)
    assert not built  # from the cache: no torch UNet at all
    with Image.open(first[0].path) as a, Image.open(again[0].path) as b:
        assert np.array_equal(np.asarray(a), np.asarray(b))
        assert "CPU engine: openvino" in b.info["parameters"]
    eng.store.close()
