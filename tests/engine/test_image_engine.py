import numpy as np
import pytest
from PIL import Image

from studio.core.image.image_metadata import spec_of_image
from studio.core.image.specs import LoraRef
from studio.core.jobs.cancel import CancelToken
from studio.core.jobs.errors import ErrorKind, JobCancelled, StudioError
from studio.core.jobs.events import ItemSaved, Loading, Preview, Progress


def pixels(path) -> np.ndarray:
    with Image.open(path) as im:
        return np.asarray(im.convert("RGB")).astype(np.int16)


def test_txt2img_saves_an_image_of_the_requested_size(run, make_spec):
    items, events = run(make_spec(width=64, height=48))
    assert len(items) == 1
    with Image.open(items[0].path) as im:
        assert im.size == (64, 48)
        assert "Steps: 6" in im.info["parameters"]
    assert pixels(items[0].path).std() > 1  # a picture, not a blank
    assert [type(e) for e in events].count(ItemSaved) == 1


def test_same_seed_same_pixels_and_saved_spec_regenerates_exactly(run, make_spec):
    first, _ = run(make_spec())
    with Image.open(first[0].path) as im:
        again_spec = spec_of_image(im)
    second, _ = run(again_spec)
    assert np.array_equal(pixels(first[0].path), pixels(second[0].path))
    other, _ = run(make_spec(seed=99))
    assert not np.array_equal(pixels(first[0].path), pixels(other[0].path))


def test_batches_use_consecutive_seeds_and_each_image_regenerates(run, make_spec):
    items, _ = run(make_spec(batch_size=2, batch_count=2))
    assert [i.seed for i in items] == [1234, 1235, 1236, 1237]
    alone, _ = run(make_spec(seed=1235))
    assert np.abs(pixels(items[1].path) - pixels(alone[0].path)).max() <= 1


def test_progress_events_count_and_previews(run, make_spec):
    _, events = run(make_spec(steps=7))
    progress = [e for e in events if isinstance(e, Progress)]
    assert [p.step for p in progress] == list(range(1, 8))
    assert {p.total for p in progress} == {7}
    previews = [e for e in events if isinstance(e, Preview)]
    assert previews and all(p.image.size == (64, 64) for p in previews)


def test_sampler_switch_changes_the_image(run, make_spec):
    results = {}
    for sampler, schedule in [
        ("Euler", "Automatic"),
        ("DDIM", "Automatic"),
        ("DPM++ 2M", "Karras"),
        ("Euler a", "Automatic"),
    ]:
        items, _ = run(make_spec(sampler=sampler, schedule=schedule))
        results[sampler] = pixels(items[0].path)
    assert not np.array_equal(results["Euler"], results["DDIM"])
    assert not np.array_equal(results["Euler"], results["DPM++ 2M"])


def test_img2img_resizes_init_and_counts_strength_steps(run, make_spec, tmp_path):
    init = tmp_path / "init.png"
    Image.new("RGB", (100, 80), (200, 30, 30)).save(init)
    items, events = run(make_spec(init_image=str(init), strength=0.5, steps=10))
    with Image.open(items[0].path) as im:
        assert im.size == (64, 64)
    progress = [e for e in events if isinstance(e, Progress)]
    assert progress[-1].total == 5
    assert items[0].spec.mode == "img2img"
    low, _ = run(make_spec(init_image=str(init), strength=0.2, steps=10))
    assert not np.array_equal(pixels(items[0].path), pixels(low[0].path))


def test_inpaint_changes_only_the_masked_area(run, make_spec, tmp_path):
    init = tmp_path / "init.png"
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 255, (64, 64, 3), dtype=np.uint8)).save(init)
    mask = Image.new("L", (64, 64), 0)
    mask.paste(255, (16, 16, 48, 48))
    mask.save(tmp_path / "mask.png")
    items, _ = run(
        make_spec(init_image=str(init), mask=str(tmp_path / "mask.png"), strength=1.0, mask_blur=2)
    )
    out, original = pixels(items[0].path), pixels(init)
    assert np.array_equal(out[:8, :8], original[:8, :8])  # far from the mask: untouched
    assert np.abs(out[28:36, 28:36] - original[28:36, 28:36]).mean() > 10  # inside: repainted


def test_non_image_init_is_reported_on_the_field(run, make_spec, tmp_path):
    bogus = tmp_path / "notes.png"
    bogus.write_text("this is not an image")
    with pytest.raises(StudioError) as info:
        run(make_spec(init_image=str(bogus)))
    assert info.value.field == "init_image" and "not an image" in info.value.user_message


def test_cancel_mid_run_saves_nothing(engine, run, make_spec):
    before = engine.store.count()
    token = CancelToken()
    seen = []

    def emit(e):
        seen.append(e)
        if isinstance(e, Progress) and e.step == 2:
            token.cancel()

    with pytest.raises(JobCancelled):
        engine.generate(make_spec(steps=20), token, emit)
    assert max(e.step for e in seen if isinstance(e, Progress)) == 2
    assert engine.store.count() == before


def test_cancel_while_loading_stops_before_generating(tmp_path, make_spec, tiny_sd):
    import torch

    from studio.core.gallery.gallery_store import GalleryStore
    from studio.core.io.hashing import HashCache
    from studio.engine.devices import Placement
    from studio.engine.image import ImageEngine

    eng = ImageEngine(
        GalleryStore(tmp_path / "g"),
        HashCache(tmp_path / "h.json"),
        placement=lambda: Placement("cpu", torch.float32),
    )
    token = CancelToken()
    events = []

    def emit(e):
        events.append(e)
        if isinstance(e, Loading):
            token.cancel()

    with pytest.raises(JobCancelled):
        eng.generate(make_spec(), token, emit)
    assert not any(isinstance(e, Progress) for e in events)
    assert eng.store.count() == 0


def test_loaded_model_is_reused_and_switching_frees_it(engine, run, make_spec, tiny_sdxl):
    run(make_spec())
    first = engine.cache.loaded
    _, events = run(make_spec(seed=5))
    assert engine.cache.loaded is first
    assert not any(isinstance(e, Loading) for e in events)
    items, events = run(make_spec(model=str(tiny_sdxl)))
    assert any(isinstance(e, Loading) for e in events)
    assert engine.cache.loaded is not first and engine.cache.loaded.family == "sdxl"
    assert pixels(items[0].path).shape == (64, 64, 3)


@pytest.mark.parametrize(
    ("setup", "kind"),
    [
        ("missing", ErrorKind.MODEL_NOT_FOUND),
        ("empty_dir", ErrorKind.MODEL_INVALID),
        ("pickle", ErrorKind.MODEL_INVALID),
        ("garbage_safetensors", ErrorKind.MODEL_INVALID),
    ],
)
def test_bad_model_paths_get_clear_errors(run, make_spec, tmp_path, setup, kind):
    path = tmp_path / setup
    if setup == "empty_dir":
        path.mkdir()
    elif setup == "pickle":
        path = tmp_path / "model.ckpt"
        path.write_bytes(b"\x80\x04junk")
    elif setup == "garbage_safetensors":
        path = tmp_path / "model.safetensors"
        path.write_bytes(b"\xff" * 64)
    with pytest.raises(StudioError) as info:
        run(make_spec(model=str(path)))
    assert info.value.kind is kind and info.value.field == "model"
    assert path.name in info.value.user_message


def test_out_of_memory_says_what_to_lower(run, make_spec, engine, monkeypatch):
    from studio.engine import image

    def oom(*a, **k):
        raise RuntimeError("CUDA out of memory. Tried to allocate 2.00 GiB")

    monkeypatch.setattr(image, "encode", oom)
    with pytest.raises(StudioError) as info:
        run(make_spec(batch_size=4))
    assert info.value.kind is ErrorKind.OUT_OF_MEMORY
    assert "batch size (4)" in info.value.user_message


def test_lora_changes_the_image_by_weight_and_can_be_switched_off(run, make_spec, lora_file):
    base, _ = run(make_spec())
    with_lora, _ = run(make_spec(loras=(LoraRef(str(lora_file), 1.0),)))
    zero, _ = run(make_spec(loras=(LoraRef(str(lora_file), 0.0),)))
    back, _ = run(make_spec())
    assert np.abs(pixels(with_lora[0].path) - pixels(base[0].path)).mean() > 1
    assert np.abs(pixels(zero[0].path) - pixels(base[0].path)).max() <= 1
    assert np.array_equal(pixels(back[0].path), pixels(base[0].path))
    with Image.open(with_lora[0].path) as im:
        assert "<lora:grain:1>" in im.info["parameters"]
        assert 'Lora hashes: "grain: ' in im.info["parameters"]


def test_a_lora_made_for_another_base_model_is_refused_in_one_sentence(run, make_spec):
    from studio.core.models.builtin_models import BUILTIN_LORA_DIR

    star = (
        BUILTIN_LORA_DIR / "shapes-star.safetensors"
    )  # Shapes' LoRA: 96-wide layers, the tiny model's are 64
    with pytest.raises(StudioError) as raised:
        run(make_spec(loras=(LoraRef(str(star), 1.0),)))
    message = raised.value.user_message
    assert message.startswith("The LoRA shapes-star.safetensors was made for another base model (shapes)")
    assert "×" in message and "size mismatch" not in message and len(message) < 400  # not the loader's dump
    items, _ = run(make_spec())  # and the model still works without it
    assert len(items) == 1


def test_vae_nan_in_half_precision_is_retried_in_fp32(engine, run, make_spec, monkeypatch):
    import torch

    from studio.engine.image import decode

    run(make_spec())
    model = engine.cache.loaded
    pipe = model.base
    vae = pipe.vae
    original = vae.decode
    vae.to(torch.bfloat16)

    def nan_in_half(latents, return_dict=True):
        out = original(latents, return_dict=return_dict)
        if vae.dtype != torch.float32:
            return (out[0] * float("nan"),)
        return out

    monkeypatch.setattr(vae, "decode", nan_in_half)
    try:
        images = decode(model, pipe, torch.randn(1, 4, 8, 8))
        assert model.vae_upcast and vae.dtype == torch.float32
        assert np.asarray(images[0]).std() > 1  # a real image, not black
    finally:
        model.vae_upcast = False
        vae.to(torch.float32)
