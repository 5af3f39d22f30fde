"""LoRA training on a tiny SD 1.x pipeline: it learns, saves, reloads, exports, resumes exactly, cancels, rolls back."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from studio.core.jobs.cancel import CancelToken
from studio.core.jobs.errors import JobCancelled, StudioError
from studio.core.train.train_specs import CheckpointSaved, TrainStep


def render(base, lora=None, prompt="a photo of sks disc", seed=3):
    import torch
    from diffusers import StableDiffusionPipeline

    pipe = StableDiffusionPipeline.from_pretrained(
        str(base), local_files_only=True, safety_checker=None, requires_safety_checker=False
    )
    pipe.set_progress_bar_config(disable=True)
    if lora is not None:
        pipe.load_lora_weights(str(lora))
    im = pipe(
        prompt,
        num_inference_steps=4,
        width=64,
        height=64,
        output_type="np",
        generator=torch.Generator().manual_seed(seed),
    ).images[0]
    return im


def test_training_changes_the_output_and_the_saved_lora_reproduces_it(train_spec, tiny_sd):
    from safetensors import safe_open

    from studio.engine.lora_train import Trainer

    spec = train_spec(train_text_encoder=True, kohya_export=True, sample_every=3, sample_seeds=(1, 2))
    events = []
    trainer = Trainer(spec, events.append)
    done = trainer.train()
    steps = [e for e in events if isinstance(e, TrainStep)]
    assert [e.step for e in steps] == list(range(1, 7)) and all(np.isfinite(e.loss) for e in steps)
    from PIL import Image

    from studio.core.train.train_specs import SamplesSaved

    samples = [e for e in events if isinstance(e, SamplesSaved)]
    assert [e.step for e in samples] == [3, 6]
    with Image.open(samples[-1].paths[0]) as strip:  # every prompt × seed, side by side, each its own noise
        tiles = len(spec.prompts()) * 2
        assert strip.size == (64 * tiles, 64)
        pixels = np.asarray(strip.convert("RGB"), dtype=np.int16)
        assert np.abs(pixels[:, :64] - pixels[:, 64:128]).mean() > 1
    trained = np.asarray(trainer.outputs.render(("a photo of sks disc",), (3,))[0], dtype=np.float32)
    base = render(tiny_sd) * 255
    with_lora = render(tiny_sd, done.path) * 255
    assert np.abs(base - with_lora).mean() > 1.0  # it learned something
    assert np.abs(with_lora - trained).max() <= 1.0  # a fresh pipeline + the file = the trained model
    kohya = render(tiny_sd, done.kohya_path) * 255  # AUTOMATIC1111/ComfyUI key names load back the same
    assert np.abs(kohya - with_lora).max() <= 1.0
    with safe_open(done.path, "pt") as f:
        meta = f.metadata()
    assert meta["studio_trigger_word"] == "sks" and meta["ss_network_dim"] == "4"
    assert meta["studio_base_family"] == "sd1" and "sks disc" in meta["ss_tag_frequency"]
    import hashlib
    import json as _json

    from studio.core.models.model_library import describe_path
    from studio.core.train.dataset import Dataset

    ds = Dataset.open(Path(train_spec().dataset))
    trained_on = _json.loads(meta["studio_dataset"])  # what it was trained on, file by file
    assert trained_on["files_sha256"] == {img.file: hashlib.sha256(ds.path(img).read_bytes()).hexdigest()
                                          for img in ds.used()}  # fmt: skip
    assert len(trained_on["captions_sha256"]) == 64
    shown = describe_path(Path(done.path))["details"]["dataset"]  # the Models room's details
    assert shown["images"] == len(ds.used()) and shown["captions_sha256"] == trained_on["captions_sha256"]


def test_resume_ends_bit_identical_to_an_uninterrupted_run(train_spec, tmp_path):
    import torch
    from safetensors.torch import load_file

    from studio.engine.lora_train import train

    straight = train(
        train_spec(run_dir=str(tmp_path / "a"), out=str(tmp_path / "a.safetensors")), lambda e: None
    )
    cancel = CancelToken()

    def stop_after_checkpoint(e):
        if isinstance(e, CheckpointSaved) and e.step == 3:
            cancel.cancel()

    spec = train_spec(run_dir=str(tmp_path / "b"), out=str(tmp_path / "b.safetensors"))
    with pytest.raises(JobCancelled):
        train(spec, stop_after_checkpoint, cancel)
    assert (tmp_path / "b" / "checkpoint-3" / "state.json").is_file() and not (
        tmp_path / "b.safetensors"
    ).exists()
    resumed = train(spec, lambda e: None)
    a, b = load_file(straight.path), load_file(resumed.path)
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_cancel_stops_within_a_step_and_keeps_the_last_checkpoint(train_spec, tmp_path):
    from studio.core.train.train_specs import run_state
    from studio.engine.lora_train import train

    cancel = CancelToken()
    seen = []

    def on_event(e):
        if isinstance(e, TrainStep):
            seen.append(e.step)
            if e.step == 4:
                cancel.cancel()

    with pytest.raises(JobCancelled):
        train(train_spec(steps=50), on_event, cancel)
    assert seen == [1, 2, 3, 4]
    run = tmp_path / "run"
    assert [p.name for p in run.glob("checkpoint-*")] == ["checkpoint-3"]
    assert run_state(run)["status"] == "cancelled"


def test_a_nan_loss_rolls_back_and_says_what_to_lower(train_spec, tmp_path):
    import torch

    from studio.engine.lora_train import Trainer

    trainer = Trainer(train_spec(steps=10, inject_nan_at=5), lambda e: None)
    with pytest.raises(StudioError) as info:
        trainer.train()
    msg = info.value.user_message
    assert (
        "NaN at step 5" in msg and "rolled back to the checkpoint at step 4" in msg and "learning rate" in msg
    )
    from studio.engine.train_checkpoint import load_lora

    saved = load_lora(tmp_path / "run" / "checkpoint-4")["unet"]
    now = trainer.lora_state()["unet"]
    assert all(torch.equal(saved[k], now[k]) for k in saved)  # the weights in memory are the checkpoint's


def test_bad_input_is_refused_with_a_reason(train_spec, tmp_path, tiny_sd):
    from studio.core.train.dataset import Dataset
    from studio.engine.lora_train import train

    empty = Dataset(tmp_path / "empty")
    empty.save() if empty.folder.mkdir(parents=True) is None else None
    with pytest.raises(StudioError, match="no dataset|empty"):
        train(train_spec(dataset=str(empty.folder)), lambda e: None)
    with pytest.raises(StudioError, match="rank"):
        train(train_spec(rank=0), lambda e: None)
    lm_like = tmp_path / "not-a-model"
    lm_like.mkdir()
    with pytest.raises(StudioError, match="model_index"):
        train(train_spec(base=str(lm_like)), lambda e: None)


def test_studio_train_cli_end_to_end_and_resume(tiny_sd, tmp_path):
    """The CLI with what trainers set daily: a validation split, EMA, masks from a folder, no samples and no
    grids — one JSON line a step and a validation line every second step, the LoRA written, the run readable by the
    room's list of past runs."""
    import json

    from PIL import Image
    from safetensors import safe_open

    from studio.core.train.run_history import past_runs
    from tests.cli.helpers import studio_here as studio
    from tests.training.conftest import photos

    pics = photos(tmp_path / "pics", n=4)
    masks = tmp_path / "masks"
    masks.mkdir()
    for p in pics.iterdir():  # the left half of each picture is the subject
        with Image.open(p) as im:
            half = Image.new("L", im.size, 0)
            half.paste(255, (0, 0, im.width // 2, im.height))
            half.save(masks / f"{p.stem}_mask.png")
    out = tmp_path / "me.safetensors"
    r = studio("train", "--images", str(pics), "--trigger", "sks", "--class", "disc", "--base", str(tiny_sd),
               "--steps", "4", "--rank", "4", "--resolution", "64", "--sample-every", "0", "--grids", "none",
               "--validation-split", "0.25", "--validate-every", "2", "--ema", "--mask-dir", str(masks),
               "--out", str(out), "--json", home=tmp_path / "home", timeout=300)  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert "4 pictures have a mask" in r.stderr
    lines = [json.loads(x) for x in r.stdout.splitlines()]
    assert [x["step"] for x in lines if "loss" in x] == [1, 2, 3, 4]
    checks = [x for x in lines if "validation_loss" in x]
    assert [x["step"] for x in checks] == [2, 4] and all(x["pictures"] == 1 for x in checks)  # a quarter of 4
    assert lines[-1]["path"] == str(out) and out.is_file()
    assert lines[-1]["grids"] == [] and not any("samples" in x for x in lines)  # none asked for, none made
    run = Path(lines[-1]["run_dir"])
    assert not (run / "samples").exists() and not list(run.glob("ab-*.png"))
    with safe_open(str(out), "pt") as f:
        meta = f.metadata()
    trained = json.loads(meta["studio_training"])
    assert meta["studio_trigger_word"] == "sks" and trained["ema"] and trained["validation_split"] == 0.25
    (shown,) = past_runs(run.parent)  # the room's list of runs reads the same numbers back
    assert shown.curve.validation_steps == [2, 4] and shown.curve.steps == [1, 2, 3, 4]
    assert shown.curve.validation == pytest.approx([x["validation_loss"] for x in checks], abs=1e-5)
    assert shown.status == "done" and shown.result == out
    # --resume of a folder is run in tests/ui/test_finetune_page.py (an exported run trained elsewhere)
    assert studio("train", "--resume", str(tmp_path / "nowhere"), home=tmp_path / "home").returncode == 2
    assert studio("train", "--trigger", "x", home=tmp_path / "home").returncode == 2


def test_a_killed_trainer_is_reported_as_interrupted_and_resumes(train_spec, tmp_path):
    import os
    import signal
    import threading

    from studio.core.jobs.errors import StudioError
    from studio.core.train.train_specs import latest_checkpoint
    from studio.engine.train_job import TrainJob

    spec = train_spec(steps=400, checkpoint_every=2)
    seen = []

    def on_event(e):
        if isinstance(e, CheckpointSaved) and not seen:
            seen.append(e.step)
            pid = int((tmp_path / "run" / "trainer.pid").read_text())
            threading.Timer(0.0, os.kill, (pid, signal.SIGKILL)).start()

    with pytest.raises(StudioError) as info:
        TrainJob()(spec, CancelToken(), on_event)
    assert "interrupted" in info.value.user_message and "Resume" in info.value.user_message
    ck = latest_checkpoint(tmp_path / "run")
    assert ck is not None
    from studio.engine.train_checkpoint import load

    assert load(ck)["step"] >= 2  # a whole, loadable checkpoint
    from dataclasses import replace

    saved_at, resumed = load(ck)["step"], []
    done = TrainJob()(replace(spec, steps=saved_at + 2), CancelToken(), resumed.append)
    assert os.path.isfile(done[0].path)
    first = next(e.step for e in resumed if isinstance(e, TrainStep))
    assert first > 1 and first >= saved_at + 1  # it went on from a checkpoint, not from the start


def test_preflight_refuses_what_cannot_fit(train_spec, monkeypatch):
    from studio.engine import devices
    from studio.engine.lora_train import train

    monkeypatch.setattr(devices, "device_memory", lambda device: (1 << 30, 1000))
    with pytest.raises(StudioError, match="needs about .* GB but"):
        train(train_spec(resolution=2048), lambda e: None)
