"""What trainers from kohya, OneTrainer and ai-toolkit set every day, through ``studio train``: a held-out
validation loss, masks, concept folders with repeats, EMA, noise offset, sample prompts of their own, and runs
that make no samples and no grids when asked."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw

from tests.cli.helpers import studio_here as studio
from tests.training.conftest import photos

ARGS = ("--trigger", "sks", "--class", "disc", "--rank", "4", "--resolution", "64", "--checkpoint-every", "2")


def train(tiny_sd, tmp_path, *extra, images=None, name="me"):
    out = tmp_path / f"{name}.safetensors"
    pics = images or photos(tmp_path / "pics", n=4)
    r = studio("train", "--images", str(pics), "--base", str(tiny_sd), *ARGS, "--out", str(out), "--json", *extra,
               home=tmp_path / "home")  # fmt: skip
    assert r.returncode == 0, r.stderr
    lines = [json.loads(x) for x in r.stdout.splitlines()]
    return lines, r.stderr, Path(lines[-1]["run_dir"])


def test_validation_split_reports_a_validation_loss_and_the_curve_keeps_it(tiny_sd, tmp_path):
    from studio.core.train.run_history import past_runs

    lines, err, run = train(tiny_sd, tmp_path, "--steps", "4", "--validation-split", "0.25", "--validate-every",
                            "2", "--sample-every", "0", "--grids", "none", "--ema")  # fmt: skip
    checks = [x for x in lines if "validation_loss" in x]
    assert [x["step"] for x in checks] == [2, 4] and all(np.isfinite(x["validation_loss"]) for x in checks)
    assert all(x["pictures"] == 1 for x in checks)  # a quarter of four pictures held out
    (shown,) = past_runs(run.parent)  # the room's list of runs reads the same numbers back
    assert shown.curve.validation_steps == [2, 4] and shown.curve.steps == [1, 2, 3, 4]
    assert shown.curve.validation == pytest.approx([x["validation_loss"] for x in checks], abs=1e-5)
    assert shown.status == "done" and shown.result == tmp_path / "me.safetensors"


def test_no_samples_and_no_grids_when_asked_and_own_prompts_when_given(tiny_sd, tmp_path):
    lines, _, run = train(tiny_sd, tmp_path, "--steps", "4", "--sample-every", "0", "--grids", "none")
    assert lines[-1]["grids"] == [] and not any("samples" in x for x in lines)
    assert not (run / "samples").exists() and not list(run.glob("ab-*.png"))
    lines, _, run = train(tiny_sd, tmp_path, "--steps", "2", "--sample-every", "2", "--grids", "last",
                          "--sample-prompt", "a red disc on grass", "--sample-prompt", "sks disc at night",
                          name="prompts")  # fmt: skip
    (samples,) = [x["samples"] for x in lines if "samples" in x]
    with Image.open(samples[0]) as strip:  # two prompts of the user's × the two default seeds
        assert strip.size == (64 * 4, 64)
    assert len(lines[-1]["grids"]) == 1  # the final LoRA's only
    spec = json.loads((run / "spec.json").read_text())
    assert spec["sample_prompts"] == ["a red disc on grass", "sks disc at night"]


def test_masks_weigh_the_loss_towards_the_subject(tiny_sd, tmp_path):
    """A mask that is all background at floor 0 leaves the subject alone to count: trained with black masks the
    loss is exactly 0 and nothing is learnt; with white masks (all subject) the run trains as without masks."""
    pics = photos(tmp_path / "pics", n=4)
    black, white = tmp_path / "black", tmp_path / "white"
    for folder, shade in ((black, 0), (white, 255)):
        folder.mkdir()
        for p in pics.iterdir():
            with Image.open(p) as im:
                Image.new("L", im.size, shade).save(folder / f"{p.stem}.png")
    common = ("--steps", "3", "--sample-every", "0", "--grids", "none", "--mask-floor", "0")
    nothing, err, _ = train(tiny_sd, tmp_path, *common, "--mask-dir", str(black), images=pics, name="black")
    assert "4 pictures have a mask" in err
    assert all(x["loss"] == 0 for x in nothing if "loss" in x)
    whole, _, _ = train(tiny_sd, tmp_path, *common, "--mask-dir", str(white), images=pics, name="white")
    plain, _, _ = train(tiny_sd, tmp_path, *common, images=pics, name="plain")
    losses = [[x["loss"] for x in run if "loss" in x] for run in (whole, plain)]
    assert losses[0] == pytest.approx(losses[1], rel=1e-4) and all(v > 0 for v in losses[0])
    other = tmp_path / "other"
    other.mkdir()
    Image.new("L", (64, 64)).save(other / "unrelated.png")
    r = studio("train", "--images", str(pics), "--base", str(tiny_sd), *ARGS, "--steps", "1", "--out",
               str(tmp_path / "x.safetensors"), "--mask-dir", str(other), home=tmp_path / "home")  # fmt: skip
    assert (
        r.returncode == 2 and "no mask" in r.stderr and "unrelated.png: no picture of that name" in r.stderr
    )


def test_concept_folders_set_their_words_and_repeats(tiny_sd, tmp_path):
    from studio.core.train.dataset import Dataset

    root = tmp_path / "concepts"
    photos(root / "3_ohwx dog", n=2, seed=1)
    photos(root / "1_zxc cat", n=2, seed=2)
    side = next((root / "1_zxc cat").iterdir()).with_suffix(".txt")
    side.write_text("a cat asleep, kohya's caption")
    lines, _, run = train(tiny_sd, tmp_path, "--epochs", "1", "--sample-every", "0", "--grids", "none",
                          images=root)  # fmt: skip
    assert [x["step"] for x in lines if "loss" in x] == list(range(1, 9))  # 2×3 + 2×1 pictures, batch 1
    ds = Dataset.open(run / "dataset")
    leads = sorted({ds.full_caption(i).split(",")[0] for i in ds.images})
    assert leads == ["ohwx dog", "zxc cat"]
    assert any(ds.full_caption(i) == "zxc cat, a cat asleep, kohya's caption" for i in ds.images)


def test_dark_pictures_draw_darker_with_a_noise_offset(train_spec, tiny_sd, tmp_path):
    """The noise offset changes what is learnt (the same seed trains another LoRA) and is kept in the file."""
    from safetensors import safe_open

    from studio.engine.lora_train import train as run

    plain = run(
        train_spec(steps=3, run_dir=str(tmp_path / "a"), out=str(tmp_path / "a.safetensors")), lambda e: None
    )
    offset = run(train_spec(steps=3, noise_offset=0.1, run_dir=str(tmp_path / "b"),
                            out=str(tmp_path / "b.safetensors")), lambda e: None)  # fmt: skip
    with safe_open(plain.path, "pt") as a, safe_open(offset.path, "pt") as b:
        key = next(iter(a.keys()))
        assert not np.allclose(a.get_tensor(key).numpy(), b.get_tensor(key).numpy())
        assert json.loads(b.metadata()["studio_training"])["noise_offset"] == 0.1


def draw_mask(size, box):
    im = Image.new("L", size, 0)
    ImageDraw.Draw(im).ellipse(box, fill=255)
    return im
