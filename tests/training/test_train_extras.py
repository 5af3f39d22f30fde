"""Class pictures, captioning, focus points, the pre-flight estimate, a full disk, and SDXL."""

from __future__ import annotations

import errno
import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from studio.core.jobs.cancel import CancelToken
from studio.core.jobs.errors import StudioError
from studio.core.train.train_specs import CaptionsMade, CaptionSpec, TrainStep


def coloured(folder: Path, colours: dict[str, tuple[int, int, int]]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, rgb in colours.items():
        Image.new("RGB", (300, 260), rgb).save(folder / f"{name}.png")
    return folder


def test_the_captioner_describes_what_it_sees_and_is_listed_as_one(tiny_captioner, tmp_path):
    from studio.core.models.model_library import scan_folder
    from studio.core.train.dataset import Dataset
    from studio.engine.captioner import Captioner

    ds = Dataset(tmp_path / "ds", trigger="sks", class_word="thing")
    ds.add_files([coloured(tmp_path / "pics", {"a-red": (220, 20, 20), "b-blue": (30, 60, 230)})])
    ds.images[1].caption = "my own words"
    ds.save()
    events = []
    Captioner()(CaptionSpec(dataset=str(ds.folder), model=str(tiny_captioner)), CancelToken(), events.append)
    made = next(e for e in events if isinstance(e, CaptionsMade))
    assert made.captions == (("0000.png", "a photo of a red disc"),)  # the user's caption was not asked for
    events.clear()
    Captioner()(
        CaptionSpec(dataset=str(ds.folder), model=str(tiny_captioner), overwrite=True),
        CancelToken(),
        events.append,
    )
    made = next(e for e in events if isinstance(e, CaptionsMade))
    assert dict(made.captions) == {"0000.png": "a photo of a red disc", "0001.png": "a photo of a blue sky"}
    [entry] = scan_folder(tiny_captioner.parent, "models folder")
    assert entry.kind == "captioner" and entry.family == "blip"


def test_a_folder_without_safetensors_is_refused_as_a_captioner(tiny_captioner, tmp_path):
    import shutil

    from studio.engine.captioner import load_captioner

    bad = tmp_path / "pickled-blip"
    shutil.copytree(tiny_captioner, bad)
    for f in bad.glob("*.safetensors"):
        f.unlink()
    with pytest.raises(StudioError, match="only pickled weights"):
        load_captioner(bad, "cpu")


def test_class_pictures_are_generated_once_and_take_part_in_the_loss(train_spec, tmp_path):
    from studio.engine.lora_train import train

    with pytest.raises(StudioError, match="class word"):
        train(train_spec(class_word="", class_dir=str(tmp_path / "c"), class_images=2), lambda e: None)
    plain: list = []
    train(
        train_spec(steps=3, run_dir=str(tmp_path / "r0"), out=str(tmp_path / "o0.safetensors")), plain.append
    )
    folder = tmp_path / "class-disc"
    prior: list = []
    train(
        train_spec(
            steps=3,
            class_dir=str(folder),
            class_images=3,
            run_dir=str(tmp_path / "r1"),
            out=str(tmp_path / "o1.safetensors"),
        ),
        prior.append,
    )
    made = sorted(p.name for p in folder.iterdir())
    assert made == [
        "class-0000.png",
        "class-0000.txt",
        "class-0001.png",
        "class-0001.txt",
        "class-0002.png",
        "class-0002.txt",
    ]
    assert (folder / "class-0001.txt").read_text() == "a photo of disc"
    assert Image.open(folder / "class-0000.png").size == (64, 64)
    loss = [e.loss for e in plain if isinstance(e, TrainStep)]
    with_prior = [e.loss for e in prior if isinstance(e, TrainStep)]
    assert with_prior[0] != pytest.approx(loss[0])  # the class pictures' loss is added in
    stamp = (folder / "class-0000.png").stat().st_mtime_ns
    again: list = []
    train(
        train_spec(
            steps=1,
            class_dir=str(folder),
            class_images=3,
            run_dir=str(tmp_path / "r2"),
            out=str(tmp_path / "o2.safetensors"),
        ),
        again.append,
    )
    assert len(list(folder.glob("*.png"))) == 3 and (folder / "class-0000.png").stat().st_mtime_ns == stamp
    assert not any("Generating" in getattr(e, "text", "") for e in again)


def test_a_full_disk_while_checkpointing_keeps_the_earlier_checkpoint(train_spec, tmp_path, monkeypatch):
    import studio.engine.lora_train as lt
    import studio.engine.train_checkpoint as tc
    from studio.core.train.train_specs import run_state

    real = tc.atomic_write

    def full(path, write):
        if path.name == "state.json" and "checkpoint-6" in str(path.parent):
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(path, write)

    monkeypatch.setattr(tc, "atomic_write", full)
    spec = train_spec(steps=9)
    with pytest.raises(StudioError, match="step 6 .*No space left.*earlier checkpoints are intact"):
        lt.train(spec, lambda e: None)
    run = Path(spec.run_dir)
    # 9 steps: a checkpoint every step (at least every 10 % of the run), the last two kept
    assert sorted(p.name for p in run.iterdir() if p.name.startswith((".", "checkpoint"))) == [
        "checkpoint-4",
        "checkpoint-5",
    ]
    assert run_state(run)["status"] == "failed" and not Path(spec.out).exists()
    monkeypatch.setattr(tc, "atomic_write", real)
    events: list = []
    done = lt.train(spec, events.append)  # space freed: resume from step 5
    assert [e.step for e in events if isinstance(e, TrainStep)][0] == 6 and Path(done.path).is_file()


def test_the_estimate_uses_the_speed_measured_on_an_earlier_run(train_spec, tmp_path):
    from studio.core.train.train_plan import (
        CHECKPOINT_S,
        base_profile,
        estimate_seconds,
        memory_needed,
        run_work,
    )
    from studio.engine.lora_train import train

    spec = train_spec(steps=4, run_dir=str(tmp_path / "runs" / "first"))
    profile = base_profile(spec.base)
    assert profile.family == "sd1" and profile.unet_params and profile.params > profile.unet_params
    rough, how = estimate_seconds(
        replace(spec, steps=400), "sd1", "cpu", profile.unet_params, tmp_path / "runs"
    )
    assert how.startswith("rough")
    bigger, _ = estimate_seconds(replace(spec, steps=400, resolution=512), "sd1", "cpu", 0.86e9)
    assert bigger > 100 * rough  # SD 1.5 at 512 px is a different matter
    train(spec, lambda e: None)
    status = json.loads((tmp_path / "runs" / "first" / "status.json").read_text())
    measured, how = estimate_seconds(
        replace(spec, steps=400), "sd1", "cpu", profile.unet_params, tmp_path / "runs"
    )
    checkpoints = run_work(replace(spec, steps=400)).checkpoints * CHECKPOINT_S
    expected = 400 * status["seconds_per_step"] + status["setup_seconds"] + checkpoints
    assert how == "measured on an earlier run" and measured == pytest.approx(expected)
    other, how = estimate_seconds(
        replace(spec, steps=400, resolution=128), "sd1", "cpu", profile.unet_params, tmp_path / "runs"
    )
    assert how.startswith("rough")  # another resolution is not the same run
    needed, refusal = memory_needed(replace(spec, resolution=1024), "sdxl", "cuda", free=8 << 30)
    assert refusal and "8.0 GB is free" in refusal and needed > 8 << 30
    assert memory_needed(spec, "sd1", "cpu", free=8 << 30, params=profile.params)[1] is None


def test_an_sdxl_lora_trains_with_both_text_encoders_and_loads_back(train_spec, tiny_sdxl, tmp_path):
    import torch
    from diffusers import StableDiffusionXLPipeline
    from safetensors import safe_open

    from studio.engine.lora_train import train

    spec = train_spec(base=str(tiny_sdxl), steps=3, train_text_encoder=True, checkpoint_every=0)
    done = train(spec, lambda e: None)
    with safe_open(done.path, "pt") as f:
        keys, meta = list(f.keys()), f.metadata()
    assert meta["studio_base_family"] == "sdxl" and meta["ss_base_model_version"] == "sdxl_base_v1-0"
    assert {k.split(".")[0] for k in keys} == {"unet", "text_encoder", "text_encoder_2"}

    def render(lora=None):
        pipe = StableDiffusionXLPipeline.from_pretrained(str(tiny_sdxl), local_files_only=True)
        pipe.set_progress_bar_config(disable=True)
        if lora:
            pipe.load_lora_weights(lora)
        return pipe(
            "a photo of sks disc",
            num_inference_steps=3,
            width=64,
            height=64,
            output_type="np",
            generator=torch.Generator().manual_seed(1),
        ).images[0]

    assert np.abs(render() - render(done.path)).mean() * 255 > 0.5


def test_epochs_become_steps_over_the_pictures(train_spec):
    from studio.engine.lora_train import train

    events: list = []
    train(train_spec(epochs=2, steps=1500, checkpoint_every=250), events.append)  # 6 pictures, batch 1
    steps = [e.step for e in events if isinstance(e, TrainStep)]
    assert steps == list(range(1, 13))
    assert any("2 epochs of 6 steps: 12 steps" in getattr(e, "text", "") for e in events)


def test_a_pipeline_folder_with_fp16_twins_is_counted_once(tiny_sd, tmp_path):
    import shutil

    from studio.core.train.train_plan import base_profile

    plain = base_profile(str(tiny_sd))
    both = tmp_path / "with-variants"
    shutil.copytree(tiny_sd, both)
    for f in list(both.glob("*/*.safetensors")):  # as Hub repos ship them: fp32 files and fp16 twins
        shutil.copy2(f, f.with_name(f"{f.stem}.fp16.safetensors"))
    assert base_profile(str(both)) == plain
    only_fp16 = tmp_path / "fp16-only"
    shutil.copytree(both, only_fp16)
    for f in only_fp16.glob("*/*.safetensors"):
        if ".fp16." not in f.name:
            f.unlink()
    assert base_profile(str(only_fp16)).params == plain.params


def test_a_checkpoint_on_demand_and_at_least_every_tenth_of_the_run(train_spec, tmp_path):
    """The room's *Save a checkpoint now* (stdin "checkpoint" to the trainer's process, or SIGUSR1) saves after the
    current step; without asking, a 60-step run checkpoints every 6 steps even when 250 were asked for."""
    from dataclasses import replace

    from studio.core.jobs.cancel import CancelToken
    from studio.core.train.train_specs import CheckpointSaved, TrainStep
    from studio.engine.train_job import TrainJob

    job = TrainJob()
    asked: list[int] = []
    saved: list[int] = []

    def on_event(e):
        if isinstance(e, TrainStep) and e.step == 2 and not asked:
            asked.append(e.step)
            assert job.request_checkpoint()
        elif isinstance(e, CheckpointSaved):
            saved.append(e.step)

    spec = replace(train_spec(steps=60, checkpoint_every=250), run_dir=str(tmp_path / "ondemand"))
    job(spec, CancelToken(), on_event)
    # soon after the step it was asked at (the step's event and the request each cross a pipe), before the
    # first periodic checkpoint at step 6 (a tenth of 60, though 250 were asked for)
    assert 2 <= saved[0] < 6
    assert {6, 12, 54, 60} <= set(saved)
    assert not job.request_checkpoint()  # nothing runs now


def test_pictures_small_for_512_are_fine_for_a_64_px_run(tmp_path):
    import random

    from PIL import ImageDraw

    from studio.core.train.dataset import Dataset

    pics = tmp_path / "small"
    pics.mkdir()
    rng = random.Random(0)
    for i in range(4):  # twelve 96-px pictures in the issue; four distinct, sharp ones here
        im = Image.new("RGB", (96, 96), tuple(rng.randrange(256) for _ in range(3)))
        for _ in range(20):
            x, y = rng.randrange(90), rng.randrange(90)
            ImageDraw.Draw(im).rectangle(
                [x, y, x + 6, y + 6], fill=tuple(rng.randrange(256) for _ in range(3))
            )
        im.save(pics / f"{i}.png")
    ds = Dataset(tmp_path / "ds", resolution=64)
    ds.add_files([pics])
    assert len(ds.used()) == 4 and not ds.problems()
    ds.resolution = 512
    assert not ds.used() and "rejected" in ds.problems()[0]
