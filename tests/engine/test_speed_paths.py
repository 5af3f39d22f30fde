"""The fast paths keep what a recipe produces: the precision policy (bf16 UNet and VAE where the CPU has bf16
instructions, fp32 latents), prompt encodings cached between jobs, no negative pass at CFG ≤ 1, few-step models
and LoRAs told from their files with their settings, TAESD previews and fast decodes."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from studio.core.gallery.gallery_store import GalleryStore
from studio.core.io.hashing import HashCache
from studio.core.jobs.cancel import CancelToken
from studio.engine.devices import Placement
from studio.engine.precision import CpuCaps, Precision


def engine_for(tmp_path: Path, precision: Precision, **kw):
    from studio.engine.image import ImageEngine

    return ImageEngine(GalleryStore(tmp_path / f"g-{precision.name}"), HashCache(tmp_path / "h.json"),
                       placement=lambda: Placement("cpu", precision.unet, precision), preview_interval=lambda: 0.0,
                       **kw)  # fmt: skip


def pixels(item) -> np.ndarray:
    return np.asarray(Image.open(item.path).convert("RGB"), dtype=np.float32)


FP32 = Precision(torch.float32, torch.float32, torch.float32)
BF16 = Precision(torch.bfloat16, torch.bfloat16, torch.float32, channels_last=True)


@pytest.mark.parametrize("mode", ["txt2img", "img2img", "inpaint"])
def test_bf16_unet_and_vae_with_fp32_latents_stay_close_to_fp32(tmp_path, make_spec, mode):
    extra = {}
    if mode != "txt2img":
        Image.new("RGB", (64, 64), "blue").save(tmp_path / "init.png")
        extra = {"init_image": str(tmp_path / "init.png"), "strength": 0.6}
    if mode == "inpaint":
        mask = Image.new("L", (64, 64), 0)
        mask.paste(255, (16, 16, 48, 48))
        mask.save(tmp_path / "mask.png")
        extra["mask"] = str(tmp_path / "mask.png")
    spec = make_spec(**extra)
    a = engine_for(tmp_path, FP32).generate(spec, CancelToken(), lambda e: None)[0]
    fast = engine_for(tmp_path, BF16)
    b = fast.generate(spec, CancelToken(), lambda e: None)[0]
    assert np.abs(pixels(a) - pixels(b)).mean() < 3.0  # of 255: the same picture
    pipe = fast.cache.loaded.base
    assert pipe.unet.dtype == torch.bfloat16 and pipe.vae.dtype == torch.bfloat16
    assert pipe.text_encoder.dtype == torch.float32
    with Image.open(b.path) as im:
        record = json.loads(im.info["studio"])
    assert record["dtype"] == "unet bfloat16, vae bfloat16, text encoder float32"  # the record says what ran


def test_the_policy_follows_the_processor(monkeypatch):
    import studio.engine.precision as precision

    for caps, unet in ((CpuCaps(True, True, 8), torch.bfloat16), (CpuCaps(False, True, 8), torch.bfloat16),
                       (CpuCaps(False, False, 8), torch.float32)):  # fmt: skip
        monkeypatch.setattr(precision, "cpu_caps", lambda caps=caps: caps)
        chosen = precision.choose_precision("cpu", "auto")
        assert (chosen.unet, chosen.vae, chosen.text) == (unet, unet, torch.float32)
        assert precision.choose_precision("cpu", "fp32") == Precision(
            torch.float32, torch.float32, torch.float32
        )


def test_prompt_encodings_are_reused_and_cfg_1_skips_the_negative(tmp_path, make_spec, monkeypatch):
    import studio.engine.image as image

    calls = []
    real = image.encode
    monkeypatch.setattr(
        image, "encode", lambda pipe, p, n, c, p2="": (calls.append(n), real(pipe, p, n, c, p2))[1]
    )
    eng = engine_for(tmp_path, FP32)
    eng.generate(make_spec(seed=1), CancelToken(), lambda e: None)
    eng.generate(make_spec(seed=2, steps=3), CancelToken(), lambda e: None)  # same prompt: not encoded again
    assert len(calls) == 1 and eng.prompts.hits == 1
    first = eng.generate(make_spec(seed=3, cfg_scale=1.0), CancelToken(), lambda e: None)[0]
    assert calls[-1] is None  # CFG 1: no unconditional pass, so no negative prompt encoded
    again = engine_for(tmp_path, FP32).generate(
        make_spec(seed=3, cfg_scale=1.0), CancelToken(), lambda e: None
    )[0]
    assert np.array_equal(pixels(first), pixels(again))


@pytest.mark.parametrize(("sampler", "schedule"), [("LCM", "Automatic"), ("TCD", "SGM Uniform"),
                                                   ("Euler", "SGM Uniform"), ("DPM++ 2M", "SGM Uniform")])  # fmt: skip
def test_few_step_samplers_and_the_sgm_uniform_schedule_run(tmp_path, make_spec, sampler, schedule):
    item = engine_for(tmp_path, FP32).generate(make_spec(sampler=sampler, schedule=schedule, steps=4, cfg_scale=1.0),
                                               CancelToken(), lambda e: None)[0]  # fmt: skip
    with Image.open(item.path) as im:
        assert f"Sampler: {sampler}" in im.info["parameters"]
        assert (f"Schedule type: {schedule}" in im.info["parameters"]) == (schedule != "Automatic")


def test_few_step_models_and_loras_are_told_from_their_files(tmp_path, tiny_sd):
    import shutil

    from studio.core.models.few_step import recommendation

    lcm = tmp_path / "LCM_Dreamshaper_v7"
    shutil.copytree(tiny_sd, lcm)
    assert recommendation(lcm) == {"sampler": "LCM", "schedule": "Automatic", "steps": 4, "cfg_scale": 1.0}
    cfg = json.loads((lcm / "unet" / "config.json").read_text())
    (lcm / "unet" / "config.json").write_text(json.dumps({**cfg, "time_cond_proj_dim": 256}))
    assert recommendation(lcm)["cfg_scale"] == 8.0  # guidance as an embedding: CFG costs no second pass
    lora = tmp_path / "sdxl_lightning_8step_lora.safetensors"
    from safetensors.torch import save_file

    save_file({"lora_unet_x.lora_down.weight": torch.zeros(1, 2)}, str(lora))
    assert recommendation(lora) == {
        "sampler": "Euler",
        "schedule": "SGM Uniform",
        "steps": 8,
        "cfg_scale": 1.0,
    }
    plain = tmp_path / "grain.safetensors"
    save_file(
        {"lora_unet_x.lora_down.weight": torch.zeros(1, 2)}, str(plain), metadata={"ss_output_name": "tcd"}
    )
    assert recommendation(plain)["sampler"] == "TCD"  # its metadata names it
    assert recommendation(tiny_sd) == {}


def test_a_few_step_lora_brings_its_settings_in_the_window_and_on_the_command_line(qtbot, tmp_path, tiny_sd):
    from safetensors.torch import save_file

    from studio.core.image.finders import LoraFinder
    from studio.core.image.recipe import ImageContext, freeze_image
    from studio.core.models.recommended import recommended_settings
    from studio.viewmodels.bridge import EventBridge
    from studio.viewmodels.generation_session import GenerationSession
    from studio.viewmodels.job_queue import JobQueue
    from tests.viewmodels.test_job_queue import FakeRunner

    loras = tmp_path / "models" / "loras"
    loras.mkdir(parents=True)
    path = loras / "lcm-lora-sdv1-5.safetensors"
    save_file({"lora_unet_x.lora_down.weight": torch.zeros(1, 2)}, str(path))
    session = GenerationSession(
        JobQueue(FakeRunner(), EventBridge()), tmp_path / "inputs", [tmp_path / "models"]
    )
    session.choose_model(str(tiny_sd))
    session.add_lora(str(path), 1.0)
    assert (session.value("sampler"), session.value("steps"), session.value("cfg_scale")) == ("LCM", 4, 1.0)
    ctx = ImageContext(loras=LoraFinder([tmp_path / "models"]), recommended=recommended_settings)
    spec = freeze_image({"model": str(tiny_sd), "prompt": "a cat", "loras": [["lcm-lora-sdv1-5", 1.0]],
                         "seed": 1}, ctx)  # fmt: skip
    assert (spec.sampler, spec.steps, spec.cfg_scale) == ("LCM", 4, 1.0)
    spec = freeze_image({"model": str(tiny_sd), "prompt": "a cat", "loras": [["lcm-lora-sdv1-5", 1.0]],
                         "seed": 1, "steps": 6}, ctx)  # fmt: skip
    assert spec.steps == 6  # what the user gives wins


def test_a_tiny_autoencoder_gives_live_previews_and_an_opt_in_fast_decode(tmp_path, make_spec):
    from studio.core.jobs.events import Preview
    from studio.core.models.model_library import find_tiny_vae, scan_folder
    from tests.tiny_models import save_tiny_taesd

    models = tmp_path / "models"
    taesd = save_tiny_taesd(models / "vae" / "taesd")
    assert find_tiny_vae("sd1", [models], hf_cache=tmp_path / "none") == taesd
    (entry,) = [e for e in scan_folder(models, "models folder") if e.kind == "vae"]
    assert entry.family == "taesd" and "tiny autoencoder" in entry.label
    eng = engine_for(
        tmp_path, FP32, tiny_vae=lambda family: find_tiny_vae(family, [models], tmp_path / "none")
    )
    full = eng.generate(make_spec(), CancelToken(), lambda e: None)[0]
    eng.cache.loaded.small_vae = False  # as with a real model: previews come from the tiny autoencoder
    events = []
    fast = eng.generate(make_spec(fast_decode=True), CancelToken(), events.append)[0]
    previews = [e for e in events if isinstance(e, Preview)]
    assert previews and previews[0].image.size == (64, 64)
    assert pixels(fast).shape == pixels(full).shape and not np.array_equal(pixels(fast), pixels(full))
    with Image.open(fast.path) as im:
        assert "VAE: taesd" in im.info["parameters"] and json.loads(im.info["studio"])["spec"]["fast_decode"]
    none = engine_for(tmp_path, FP32)
    from studio.core.jobs.errors import StudioError

    with pytest.raises(StudioError, match="tiny autoencoder") as info:
        none.generate(make_spec(fast_decode=True), CancelToken(), lambda e: None)
    assert info.value.field == "fast_decode"


def test_maximum_speed_compiles_the_unet_and_says_so_once_per_size(tmp_path, make_spec, monkeypatch):
    from studio.core.io.settings import LoadOptions
    from studio.core.jobs.events import Loading
    from studio.engine.image import ImageEngine

    compiled = []
    monkeypatch.setattr(
        torch, "compile", lambda m, **kw: (compiled.append(kw), m)[1]
    )  # the wiring, not inductor
    eng = ImageEngine(GalleryStore(tmp_path / "g"), HashCache(tmp_path / "h.json"),
                      placement=lambda: Placement("cpu", torch.float32, FP32), preview_interval=lambda: 0.0,
                      options=lambda: LoadOptions(compile=True))  # fmt: skip
    said = []
    for spec in (make_spec(seed=1), make_spec(seed=2), make_spec(seed=3, width=32, height=32)):
        events = []
        eng.generate(spec, CancelToken(), events.append)
        said.append([e.what for e in events if isinstance(e, Loading) and "Compiling" in e.what])
    assert len(compiled) == 1  # compiled at load
    assert [len(s) for s in said] == [1, 0, 1]  # each new size warms up once, and says so
    assert "64×64" in said[0][0] and "32×32" in said[2][0]
