from __future__ import annotations

import random
from pathlib import Path

import pytest
from PIL import Image, ImageDraw


def photos(folder: Path, n: int = 6, size=(320, 256), seed: int = 0) -> Path:
    """Sharp, distinct pictures of a red disc on assorted backgrounds (what the LoRA learns)."""
    rng = random.Random(seed)
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        w, h = size if i % 2 == 0 else (size[1], size[0])
        im = Image.new("RGB", (w, h), tuple(rng.randrange(256) for _ in range(3)))
        d = ImageDraw.Draw(im)
        for _ in range(30):
            x, y = rng.randrange(w), rng.randrange(h)
            d.rectangle(
                [x, y, x + rng.randrange(4, 30), y + rng.randrange(4, 30)],
                fill=tuple(rng.randrange(256) for _ in range(3)),
            )
        r = rng.randrange(40, 90)
        cx, cy = rng.randrange(r, w - r), rng.randrange(r, h - r)
        d.ellipse([cx - r, cy - r, cx + r, cy + r], fill=(220, 20, 20))
        im.save(folder / f"photo{i}.jpg", quality=95)
    return folder


@pytest.fixture()
def dataset(tmp_path):
    from studio.core.train.dataset import Dataset

    ds = Dataset(tmp_path / "dataset", trigger="sks", class_word="disc")
    ds.add_files([photos(tmp_path / "originals")])
    return ds


@pytest.fixture()
def train_spec(tiny_sd, dataset, tmp_path):
    from studio.core.train.train_specs import TrainSpec

    def make(**kw):
        base = dict(
            dataset=str(dataset.folder),
            base=str(tiny_sd),
            out=str(tmp_path / "out" / "sks.safetensors"),
            run_dir=str(tmp_path / "run"),
            trigger="sks",
            class_word="disc",
            steps=6,
            rank=4,
            alpha=4,
            lr_unet=1e-2,
            lr_text=1e-2,
            resolution=64,
            warmup_steps=0,
            sample_every=0,
            checkpoint_every=3,
            sample_steps=4,
            sample_seeds=(1,),
            device="cpu",
            grids="none",
        )
        base.update(kw)
        return TrainSpec(**base)

    return make


@pytest.fixture(scope="session")
def tiny_captioner(tmp_path_factory) -> Path:
    from tests.tiny_models import save_tiny_captioner

    return save_tiny_captioner(tmp_path_factory.mktemp("models") / "tiny-blip")


def generated(model: Path, home: Path, *extra: str):
    """The pixels of ``studio generate "a photo of sks disc"`` (seed 3, 64², a few steps) with ``extra`` options."""
    import json

    import numpy as np

    from tests.cli.helpers import studio_here

    done = studio_here("generate", "a photo of sks disc", "--model", str(model), "--seed", "3", "--steps", "3",
                       "--width", "64", "--height", "64", "--json", *extra, home=home)  # fmt: skip
    assert done.returncode == 0, done.stderr
    with Image.open(json.loads(done.stdout.splitlines()[-1])["path"]) as im:
        return np.asarray(im.convert("RGB"), dtype=np.float32)
