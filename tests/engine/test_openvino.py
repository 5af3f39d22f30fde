"""The OpenVINO engine on the CPU, on the tiny models: conversion once (then from the cache), the same pixels for
the same engine and seed, close to torch's, the engine named in the recipe, LoRAs merged into their own variant,
a damaged or cut-off cache made again, and the jobs that need torch said so."""

import os
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from studio.core.gallery.gallery_store import GalleryStore
from studio.core.image.image_metadata import spec_of_image
from studio.core.image.specs import ControlUnit, LoraRef
from studio.core.io.hashing import HashCache
from studio.core.io.settings import LoadOptions
from studio.core.jobs.errors import StudioError
from studio.core.jobs.events import Loading, Note
from studio.engine import cpu_engine, openvino_cache
from studio.engine.devices import Placement

pytest.importorskip("openvino")


pytestmark = pytest.mark.usefixtures("openvino_on")


@pytest.fixture(scope="module")
def ov_engine(tmp_path_factory):
    from studio.engine.image import ImageEngine

    d = tmp_path_factory.mktemp("ov")
    eng = ImageEngine(GalleryStore(d / "gallery"), HashCache(d / "hashes.json"),
                      placement=lambda: Placement("cpu", torch.float32), preview_interval=lambda: 0.0,
                      openvino_cache=lambda: d / "cache")  # fmt: skip
    yield eng
    eng.store.close()


def pixels(path) -> np.ndarray:
    with Image.open(path) as im:
        return np.asarray(im.convert("RGB"), dtype=np.float32)


def go(engine, spec):
    from studio.core.jobs.cancel import CancelToken

    events = []
    items = engine.generate(spec, CancelToken(), events.append)
    return items, events


def conversions(events) -> int:
    return sum(isinstance(e, Note) and "was converted for OpenVINO" in e.text for e in events)


def test_openvino_converts_once_and_gives_the_same_picture_for_the_same_seed(ov_engine, make_spec):
    first, ev1 = go(ov_engine, make_spec(cpu_engine="openvino"))
    again, ev2 = go(ov_engine, make_spec(cpu_engine="openvino"))
    torch_made, _ = go(ov_engine, make_spec(cpu_engine="torch"))
    after_torch, ev3 = go(ov_engine, make_spec(cpu_engine="openvino"))
    assert (
        conversions(ev1) == 1 and conversions(ev2) == conversions(ev3) == 0
    )  # the cache serves a reload too
    assert any(
        isinstance(e, Loading) and e.fraction > 0 and "on disk" in e.what for e in ev1
    )  # the progress bar
    assert np.array_equal(pixels(first[0].path), pixels(again[0].path))
    assert np.array_equal(pixels(first[0].path), pixels(after_torch[0].path))
    assert (
        0 < np.abs(pixels(first[0].path) - pixels(torch_made[0].path)).mean() < 3
    )  # the same picture, nearly
    with Image.open(first[0].path) as im:
        assert "CPU engine: openvino" in im.info["parameters"]
        assert spec_of_image(im).cpu_engine == "openvino"  # made again, it runs on OpenVINO
        assert '"engine": "OpenVINO ' in im.info["studio"]
    with Image.open(torch_made[0].path) as im:
        assert "CPU engine: torch" in im.info["parameters"]


def test_a_later_process_compiles_from_openvinos_cache_without_a_copy_of_the_weights(ov_engine, make_spec):
    from studio.engine.image import ImageEngine

    first, _ = go(ov_engine, make_spec(cpu_engine="openvino"))
    variant = next(p for p in ov_engine._openvino_cache().iterdir() if not p.name.endswith("-int8"))
    blobs = list(variant.glob("compiled-*/*.blob"))
    assert blobs and sum(b.stat().st_size for b in blobs) < (variant / "unet.bin").stat().st_size / 2
    for (
        blob
    ) in blobs:  # a damaged entry is compiled anew, to the same pixels (a new file: the engine above maps it)
        blob.with_suffix(".new").write_bytes(b"\0" * 64)
        blob.with_suffix(".new").replace(blob)
    d = ov_engine._openvino_cache().parent
    later = ImageEngine(GalleryStore(d / "later"), HashCache(d / "hashes-later.json"),
                        placement=lambda: Placement("cpu", torch.float32), preview_interval=lambda: 0.0,
                        openvino_cache=ov_engine._openvino_cache)  # fmt: skip
    try:
        again, events = go(later, make_spec(cpu_engine="openvino"))
    finally:
        later.store.close()
    assert conversions(events) == 0 and np.array_equal(pixels(first[0].path), pixels(again[0].path))


def test_image_to_image_inpainting_and_hires_run_on_openvino(ov_engine, make_spec, tmp_path):
    Image.new("RGB", (64, 64), (200, 40, 40)).save(tmp_path / "init.png")
    mask = Image.new("L", (64, 64), 0)
    mask.paste(255, (16, 16, 48, 48))
    mask.save(tmp_path / "mask.png")
    init = str(tmp_path / "init.png")
    for spec in (make_spec(cpu_engine="openvino", init_image=init, strength=0.6),
                 make_spec(cpu_engine="openvino", init_image=init, mask=str(tmp_path / "mask.png")),
                 make_spec(cpu_engine="openvino", hires_scale=2.0, hires_steps=2)):  # fmt: skip
        items, events = go(ov_engine, spec)
        assert not [e for e in events if isinstance(e, Note) and "torch" in e.text]
        with Image.open(items[0].path) as im:
            assert im.size == spec.output_size and "CPU engine: openvino" in im.info["parameters"]


@pytest.fixture()
def f32_arithmetic(monkeypatch):
    """OpenVINO computing in f32 as torch does here (on a CPU with bf16 instructions it computes in bf16, which a
    random tiny network with a strong LoRA amplifies past any tolerance)."""
    from studio.engine import precision

    monkeypatch.setenv(precision.FORCE, "avx2")
    precision.cpu_caps.cache_clear()
    yield
    monkeypatch.delenv(precision.FORCE)
    precision.cpu_caps.cache_clear()


def test_a_lora_is_merged_into_its_own_converted_variant(ov_engine, make_spec, lora_file, f32_arithmetic):
    plain, _ = go(ov_engine, make_spec(cpu_engine="openvino"))
    lora = (LoraRef(str(lora_file), 0.3),)
    merged, events = go(ov_engine, make_spec(cpu_engine="openvino", loras=lora))
    torch_lora, _ = go(ov_engine, make_spec(cpu_engine="torch", loras=lora))
    merged_again, again = go(ov_engine, make_spec(cpu_engine="openvino", loras=lora))
    assert conversions(events) == 1 and conversions(again) == 0
    assert np.abs(pixels(merged[0].path) - pixels(plain[0].path)).mean() > 1  # the LoRA acts
    assert np.abs(pixels(merged[0].path) - pixels(torch_lora[0].path)).mean() < 1  # as it does on torch
    assert np.array_equal(pixels(merged[0].path), pixels(merged_again[0].path))


def test_a_damaged_cache_is_made_again_and_a_cut_off_one_leaves_nothing(make_spec, tmp_path, monkeypatch):
    from studio.engine.image import ImageEngine

    eng = ImageEngine(GalleryStore(tmp_path / "g"), HashCache(tmp_path / "h.json"),
                      placement=lambda: Placement("cpu", torch.float32), openvino_cache=lambda: tmp_path / "cache")  # fmt: skip
    spec = make_spec(cpu_engine="openvino")

    def cut_off(*a, **k):
        raise OSError(28, "No space left on device")

    with monkeypatch.context() as m:
        m.setattr(openvino_cache, "_trace", cut_off)
        with pytest.raises(StudioError):
            go(eng, spec)
    assert not list((tmp_path / "cache").iterdir())  # no half-written cache, no scratch folder left behind
    first, _ = go(eng, spec)
    (folder,) = (tmp_path / "cache").iterdir()
    with open(folder / "unet.bin", "r+b") as f:  # a disk error: the weights cut short
        f.truncate(1000)
    eng.clear()
    again, events = go(eng, spec)
    assert any(isinstance(e, Note) and "damaged" in e.text for e in events) and conversions(events) == 1
    assert np.array_equal(pixels(first[0].path), pixels(again[0].path))
    xml = folder / "unet.xml"  # the same size, but not a network: it fails when compiled, and is removed
    xml.write_bytes(b"x" * xml.stat().st_size)
    eng.clear()
    with pytest.raises(StudioError, match="could not be read") as info:
        go(eng, spec)
    assert info.value.field == "cpu_engine" and not folder.exists()  # the next job converts, as above
    eng.store.close()


def test_too_little_disk_space_is_said_before_converting(make_spec, tmp_path, monkeypatch):
    from studio.engine.image import ImageEngine

    eng = ImageEngine(GalleryStore(tmp_path / "g"), HashCache(tmp_path / "h.json"),
                      placement=lambda: Placement("cpu", torch.float32), openvino_cache=lambda: tmp_path / "cache")  # fmt: skip
    monkeypatch.setattr(shutil, "disk_usage", lambda p: shutil._ntuple_diskusage(10, 10, 1000))
    with pytest.raises(StudioError) as info:
        go(eng, make_spec(cpu_engine="openvino"))
    assert info.value.field == "cpu_engine"
    assert "needs" in info.value.user_message and "free" in info.value.user_message
    eng.store.close()


def test_jobs_openvino_cannot_run_go_to_torch_and_say_why_when_it_was_asked(make_spec):
    options = LoadOptions()
    net = ControlUnit(image="pose.png", preprocessor="none", model="control_canny", weight=1.0)
    cases = {
        "ControlNet": make_spec(cpu_engine="openvino", controls=(net,)),
        "multiples of 64": make_spec(cpu_engine="openvino", width=72),
    }
    for why, spec in cases.items():
        choice = cpu_engine.choose_engine(spec, "cpu", "sd1", options)
        assert choice.engine == "torch" and why in choice.note
        assert cpu_engine.choose_engine(spec.replace(cpu_engine="auto"), "cpu", "sd1", options).note == ""
    assert (
        cpu_engine.choose_engine(make_spec(cpu_engine="openvino"), "cpu", "flux", options).engine == "torch"
    )
    on_gpu = cpu_engine.choose_engine(make_spec(cpu_engine="openvino"), "cuda", "sd1", options)
    assert on_gpu.engine == "torch" and "CPU engine" in on_gpu.note
    bf16 = cpu_engine.cpu_caps().bf16
    assert cpu_engine.choose_engine(make_spec(), "cpu", "sdxl", options).engine == (
        "openvino" if bf16 else "openvino-int8"
    )  # auto: int8 convolutions where the CPU computes in f32


def test_auto_picks_int8_convolutions_on_a_cpu_without_bf16_only(make_spec, f32_arithmetic, monkeypatch):
    options = LoadOptions()
    assert (
        cpu_engine.choose_engine(make_spec(cpu_engine="auto"), "cpu", "sd1", options).engine
        == "openvino-int8"
    )
    assert (
        cpu_engine.choose_engine(make_spec(cpu_engine="openvino"), "cpu", "sd1", options).engine == "openvino"
    )
    real = cpu_engine.importlib.util.find_spec
    monkeypatch.setattr(
        cpu_engine.importlib.util, "find_spec", lambda name, *a: None if name == "nncf" else real(name, *a)
    )
    without = cpu_engine.choose_engine(make_spec(cpu_engine="openvino-int8"), "cpu", "sd1", options)
    assert without.engine == "openvino" and "pip install nncf" in without.note


def test_the_sdxl_unet_runs_on_openvino(ov_engine, tiny_sdxl):
    from studio.core.image.specs import GenerateSpec

    spec = GenerateSpec(model=str(tiny_sdxl), prompt="a red circle", width=64, height=64, steps=3, seed=5,
                        cpu_engine="openvino")  # fmt: skip
    items, events = go(ov_engine, spec)
    assert conversions(events) == 1
    with Image.open(items[0].path) as im:
        assert "CPU engine: openvino" in im.info["parameters"] and pixels(items[0].path).std() > 1


def test_the_cache_folder_is_named_after_the_model_and_changes_with_its_weights(tiny_sd, tmp_path):
    v = openvino_cache.Variant(tmp_path, Path(tiny_sd))
    assert v.folder.name.startswith("tiny-sd-")
    with_lora = openvino_cache.Variant(tmp_path, Path(tiny_sd), (LoraRef(str(tiny_sd / "model_index.json")),))
    assert with_lora.folder != v.folder


def test_the_filmstrip_and_prompt_editing_work_on_openvino_and_attention_maps_say_they_need_torch(
    ov_engine, make_spec, tmp_path
):
    from studio.core.image.attention import AttentionSpec
    from studio.core.image.filmstrip import filmstrip_path
    from studio.core.jobs.cancel import CancelToken
    from studio.engine.explain_jobs import attention

    edited = make_spec(cpu_engine="openvino", prompt="a [red:green:0.5] circle", filmstrip=True)
    items, events = go(ov_engine, edited)
    plain, _ = go(ov_engine, make_spec(cpu_engine="openvino", prompt="a red circle"))
    assert ov_engine.cache.loaded.engine == "openvino"
    assert filmstrip_path(items[0].path).is_file()  # every step's predicted picture, from the sampler
    assert (
        np.abs(pixels(items[0].path) - pixels(plain[0].path)).max() > 0
    )  # the edit changed the text mid-way
    notes = []
    spec = make_spec(cpu_engine="openvino", prompt="a red circle on a blue background")
    attention(ov_engine, AttentionSpec(spec, ("red",), str(tmp_path / "maps")), CancelToken(), notes.append)
    assert any(isinstance(e, Note) and "torch" in e.text for e in notes)
    assert (tmp_path / "maps" / "red.map.png").is_file() and ov_engine.cache.loaded.engine == "torch"


def test_int8_is_not_made_without_the_memory_nncf_needs_and_the_picture_says_fp16(
    ov_engine, make_spec, monkeypatch
):
    pytest.importorskip("nncf")
    from studio.core.models import memory_plan

    go(ov_engine, make_spec(cpu_engine="openvino"))  # the fp16 variant, converted with the memory there is
    for folder in ov_engine._openvino_cache().glob("*-int8"):
        shutil.rmtree(folder)
    monkeypatch.setattr(memory_plan, "system_memory", lambda: (8 << 30, 1 << 20))  # then 1 MB free
    items, events = go(ov_engine, make_spec(cpu_engine="openvino-int8"))
    notes = [e.text for e in events if isinstance(e, Note)]
    assert any("needs about" in n and "of memory" in n and "OpenVINO's fp16 weights" in n for n in notes), (
        notes
    )
    assert not list(ov_engine._openvino_cache().glob("*-int8"))
    with Image.open(items[0].path) as im:
        assert re.search(
            r"CPU engine: openvino(,|$)", im.info["parameters"]
        )  # what made it, made again the same
    go(ov_engine, make_spec(cpu_engine="torch"))  # loads the model anew for the tests that follow


def test_int8_convolutions_are_calibrated_once_named_in_the_recipe_and_autos_choice_without_bf16(
    ov_engine, make_spec, f32_arithmetic
):
    pytest.importorskip("nncf")
    f16, _ = go(ov_engine, make_spec(cpu_engine="openvino"))
    int8, events = go(ov_engine, make_spec(cpu_engine="openvino-int8"))
    auto, later = go(ov_engine, make_spec(cpu_engine="auto"))  # this CPU has no bf16 instructions (forced)
    made = [e for e in events if isinstance(e, Note) and "now has int8 convolutions" in e.text]
    assert len(made) == 1 and conversions(events) == 0  # made from the fp16 variant already cached
    assert any("Calibrating int8 convolutions" in getattr(e, "what", "") for e in events)  # its progress
    assert not [e for e in later if isinstance(e, Note) and "int8" in e.text]  # from the cache
    assert np.array_equal(pixels(int8[0].path), pixels(auto[0].path))  # the same engine, the same pixels
    difference = np.abs(pixels(int8[0].path) - pixels(f16[0].path)).mean()
    assert 0 < difference < 8  # another network, the same picture roughly
    for item in (int8[0], auto[0]):
        with Image.open(item.path) as im:
            assert (
                "CPU engine: openvino-int8" in im.info["parameters"]
                and "int8 convolutions" in im.info["studio"]
            )
    folders = {p.name for p in ov_engine._openvino_cache().iterdir()}
    int8_folder = next(ov_engine._openvino_cache().glob("*-int8"))
    assert len(folders) >= 2 and "FakeQuantize" in (int8_folder / "unet.xml").read_text()


def test_a_killed_conversions_scratch_folder_is_swept_by_the_next_one(tmp_path):
    import subprocess
    import sys

    done = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    )
    dead = tmp_path / f".tiny-sd-0123456789ab.partial-{done.stdout.strip()}"  # its process has ended
    alive = tmp_path / f".tiny-sd-0123456789ab.partial-{os.getpid()}"
    for folder in (dead, alive):
        folder.mkdir()
        (folder / "unet.bin").write_bytes(b"half")
    openvino_cache.sweep_scratch(tmp_path)
    assert not dead.exists() and alive.exists()


def test_a_network_that_fp16_weights_would_change_is_kept_in_float32(tiny_sd, tmp_path, monkeypatch):
    """The check compares the saved fp16 network with the torch UNet itself; below the bar, the weights stay f32."""
    from diffusers import UNet2DConditionModel

    unet = UNet2DConditionModel.from_pretrained(tiny_sd / "unet", dtype=torch.float32).eval()
    params = sum(p.numel() for p in unet.parameters())
    measured: list[float] = []
    real = openvino_cache.agreement
    monkeypatch.setattr(openvino_cache, "agreement", lambda *a: measured.append(real(*a)) or 0.5)
    variant = openvino_cache.Variant(tmp_path / "cache", tiny_sd)
    manifest = openvino_cache.convert(unet, variant, lambda e: None, "tiny")
    assert measured[0] > 0.9999  # a trained or random network agrees with its fp16 weights…
    assert manifest["weights"] == "f32"  # …but when it does not, it keeps its weights whole:
    assert (variant.folder / "unet.bin").stat().st_size > 3 * params  # 4 bytes a weight, not 2
    assert variant.manifest() == manifest


def test_a_unet_loaded_with_sliced_attention_converts(tiny_sd, tmp_path):
    """With little memory free the plan slices attention; the conversion traces plain attention all the same."""
    from diffusers import UNet2DConditionModel

    unet = UNet2DConditionModel.from_pretrained(tiny_sd / "unet", dtype=torch.float32).eval()
    unet.set_attention_slice(1)
    variant = openvino_cache.Variant(tmp_path / "cache", tiny_sd)
    manifest = openvino_cache.convert(unet, variant, lambda e: None, "tiny")
    assert manifest["weights"] == "f16" and variant.manifest() == manifest
