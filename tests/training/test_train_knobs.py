"""What trainers from kohya, OneTrainer and ai-toolkit set every day: masks weighing the loss, concept folders with
repeats, a noise offset, sample prompts of their own (the CLI run with a validation split, EMA, masks and no
samples or grids is tests/training/test_lora_train.py's)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from studio.core.train.train_specs import TrainStep
from tests.cli.helpers import studio_here as studio
from tests.training.conftest import photos

ARGS = ("--trigger", "sks", "--class", "disc", "--rank", "4", "--resolution", "64", "--checkpoint-every", "2")


def test_own_sample_prompts_and_one_grid_for_the_final_lora(train_spec):
    """(No samples and no grids through ``studio train``: tests/training/test_lora_train.py's CLI run.)"""
    from studio.core.train.train_specs import SamplesSaved
    from studio.engine.lora_train import train as run

    events = []
    spec = train_spec(steps=2, sample_every=2, grids="last", sample_seeds=(1, 2),
                      sample_prompts=("a red disc on grass", "sks disc at night"))  # fmt: skip
    done = run(spec, events.append)
    (samples,) = [e.paths for e in events if isinstance(e, SamplesSaved)]
    with Image.open(samples[0]) as strip:  # two prompts of the user's × two seeds
        assert strip.size == (64 * 4, 64)
    assert len(done.grids) == 1  # the final LoRA's only
    assert json.loads((Path(spec.run_dir) / "spec.json").read_text())["sample_prompts"] == list(
        spec.sample_prompts
    )


def _masks(folder: Path, pics: Path, shade: int) -> Path:
    folder.mkdir()
    for p in pics.iterdir():
        with Image.open(p) as im:
            Image.new("L", im.size, shade).save(folder / f"{p.stem}.png")
    return folder


def test_masks_weigh_the_loss_towards_the_subject(tiny_sd, train_spec, dataset, tmp_path):
    """A mask that is all background at floor 0 leaves nothing to count: trained with black masks the loss is
    exactly 0; with white masks (all subject) a run trains as one without masks. (``--mask-dir`` through the CLI:
    tests/training/test_lora_train.py.)"""
    from studio.core.train.dataset_masks import import_masks
    from studio.engine.lora_train import train as run

    def losses(name: str) -> list[float]:
        events = []
        run(train_spec(steps=3, mask_floor=0.0, run_dir=str(tmp_path / name)), events.append)
        return [e.loss for e in events if isinstance(e, TrainStep)]

    plain = losses("plain")
    for shade, name in ((255, "white"), (0, "black")):
        matched, problems = import_masks(dataset, _masks(tmp_path / name, tmp_path / "originals", shade))
        assert matched == len(dataset.images) and not problems
        got = losses(name)
        assert got == (pytest.approx(plain, rel=1e-4) if shade else [0.0] * 3) and all(v > 0 for v in plain)
    pics = photos(tmp_path / "pics", n=4)
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
    from studio.engine.train_examples import batches_for_epoch, load_examples

    root = tmp_path / "concepts"
    photos(root / "3_ohwx dog", n=2, seed=1)
    photos(root / "1_zxc cat", n=2, seed=2)
    side = next((root / "1_zxc cat").iterdir()).with_suffix(".txt")
    side.write_text("a cat asleep, kohya's caption")
    ds = Dataset(tmp_path / "ds", trigger="sks", class_word="disc", resolution=64)
    ds.add_files([root])
    assert sorted({ds.full_caption(i).split(",")[0] for i in ds.images}) == ["ohwx dog", "zxc cat"]
    assert any(ds.full_caption(i) == "zxc cat, a cat asleep, kohya's caption" for i in ds.images)
    from studio.core.train.train_specs import TrainSpec

    spec = TrainSpec(dataset=str(ds.folder), base="", out="x.safetensors", run_dir="", resolution=64)
    examples = load_examples(spec)
    assert sorted(e.repeats for e in examples) == [1, 1, 3, 3]
    epoch = [i for b in batches_for_epoch(examples, 1, 0, 0) for i in b]
    assert len(epoch) == 8 and sorted(examples[i].repeats for i in set(epoch)) == [1, 1, 3, 3]  # 2×3 + 2×1


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
