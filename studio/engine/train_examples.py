"""What a LoRA trains on: the dataset's pictures fitted to their buckets, the class (regularization) pictures the
base model makes when they are missing, the order batches come in (fixed by seed and step, so a resumed run sees
what an unbroken one would), and the record of which files a LoRA was trained on."""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PIL import Image

from studio.core.io.atomic import atomic_write
from studio.core.io.pictures import open_picture
from studio.core.io.words import count
from studio.core.jobs.cancel import CancelToken
from studio.core.jobs.errors import ErrorKind, StudioError
from studio.core.jobs.events import Event, Note, Progress
from studio.core.train.dataset import (
    IMAGE_SUFFIXES,
    Dataset,
    bucket_for,
    buckets,
    fit_to_bucket,
    png_writer,
    text_writer,
)
from studio.core.train.dataset_masks import mask_path
from studio.core.train.train_specs import TrainSpec, held_out_count
from studio.engine.train_parallel import Parallel

Emit = Callable[[Event], None]


def _fail(message: str, field: str) -> StudioError:
    return StudioError(ErrorKind.INVALID_INPUT, message, field=field)


@dataclass
class Example:
    pixels: Any  # tensor 3×H×W in [-1, 1]
    caption: str
    bucket: tuple[int, int]
    original: tuple[int, int]  # (height, width) before fitting, for SDXL's size conditioning
    mask: Any = None  # tensor 1×H×W in [0, 1] (the subject), fitted like the picture; None: the whole picture
    repeats: int = 1  # times it counts per epoch


def load_examples(spec: TrainSpec) -> list[Example]:
    ds = Dataset.open(Path(spec.dataset))
    ds.trigger, ds.class_word, ds.resolution = spec.trigger, spec.class_word, spec.resolution
    if not ds.images:
        raise _fail(f"{spec.dataset} holds no dataset: import pictures first.", "dataset")
    if problems := ds.problems():
        raise _fail(problems[0], "dataset")
    out = []
    for img in ds.used():
        example = to_example(
            ds.path(img), ds.full_caption(img), spec.resolution, img.focus, mask_path(ds, img)
        )
        example.repeats = img.repeats or spec.repeats
        out.append(example)
    return out


def batch_masks(examples: list[Example], idx: list[int]) -> Any:
    """The masks of a batch (a picture without one: all subject), or None when no picture of it has one."""
    import torch

    if not any(examples[i].mask is not None for i in idx):
        return None
    ones = torch.ones_like(examples[idx[0]].pixels[:1])
    return torch.stack([examples[i].mask if examples[i].mask is not None else ones for i in idx])


def held_out(examples: list[Example], split: float, seed: int) -> tuple[list[Example], list[Example]]:
    """(training, validation) pictures: ``split`` of them held out (``held_out_count``), the same ones for the same
    seed."""
    k = held_out_count(len(examples), split)
    if not k:
        return examples, []
    chosen = set(random.Random(seed * 7_919 + 17).sample(range(len(examples)), k))
    return ([e for i, e in enumerate(examples) if i not in chosen],
            [e for i, e in enumerate(examples) if i in chosen])  # fmt: skip


def dataset_provenance(folder: Path) -> dict[str, Any]:
    """What a LoRA was trained on, so the question has an answer later: each picture's SHA-256 (by file name) and one
    digest over every caption as it was used."""
    import hashlib

    ds = Dataset.open(folder)
    files, captions = {}, hashlib.sha256()
    for img in ds.used():
        h = hashlib.sha256()
        with ds.path(img).open("rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                h.update(block)
        files[img.file] = h.hexdigest()
        captions.update(f"{img.file}\t{ds.full_caption(img)}\n".encode())
    return {"images": len(files), "files_sha256": files, "captions_sha256": captions.hexdigest()}


def to_example(
    path: Path,
    caption: str,
    resolution: int,
    focus: tuple[float, float] | None = None,
    mask: Path | None = None,
) -> Example:
    import numpy as np
    import torch

    with open_picture(path) as raw:
        im = raw.convert("RGB")
    size = bucket_for(im.width, im.height, buckets(resolution))
    fitted = fit_to_bucket(im, size, focus)
    arr = torch.from_numpy(np.asarray(fitted, dtype=np.float32)).permute(2, 0, 1) / 127.5 - 1.0
    weights = None
    if mask is not None and mask.is_file():
        with open_picture(mask) as raw:
            grey = raw.convert("L").resize(im.size, Image.Resampling.BILINEAR)
        fitted_mask = fit_to_bucket(grey, size, focus)
        weights = torch.from_numpy(np.asarray(fitted_mask, dtype=np.float32))[None] / 255.0
    return Example(arr, caption, size, (im.height, im.width), weights)


def class_pictures(folder: Path) -> list[Path]:
    return sorted(f for f in Path(folder).glob("*") if f.suffix.lower() in IMAGE_SUFFIXES)


def batches_for_epoch(examples: list[Example], batch_size: int, seed: int, epoch: int) -> list[list[int]]:
    """The batches of one epoch: shuffled by (seed, epoch) alone, each from one bucket — so step N always sees the
    same pictures, whether the run was resumed or not."""
    rng = random.Random(seed * 1_000_003 + epoch)
    order = [i for i, e in enumerate(examples) for _ in range(max(1, e.repeats))]
    rng.shuffle(order)
    by_bucket: dict[tuple[int, int], list[int]] = {}
    for i in order:
        by_bucket.setdefault(examples[i].bucket, []).append(i)
    batches = [ids[k : k + batch_size] for ids in by_bucket.values() for k in range(0, len(ids), batch_size)]
    rng.shuffle(batches)
    return batches


def batch_at(examples: list[Example], batch_size: int, seed: int, step: int) -> list[int]:
    epoch, k = 0, step
    while True:
        batches = batches_for_epoch(examples, batch_size, seed, epoch)
        if k < len(batches):
            return batches[k]
        k -= len(batches)
        epoch += 1


def class_examples(
    spec: TrainSpec, pipe: Any, emit: Emit, cancel: CancelToken, par: Parallel | None
) -> list[Example]:
    """The class (regularization) pictures; the base model first generates those missing (before any LoRA is
    attached, so they show what the model knew), written into the folder with their captions."""
    import torch

    if not spec.class_dir:
        return []
    folder = Path(spec.class_dir)
    folder.mkdir(parents=True, exist_ok=True)
    have = class_pictures(folder)
    missing = spec.class_images - len(have)
    if missing > 0 and (par is None or par.is_main):  # made once, by process 0
        prompt = spec.class_prompt()
        emit(Note(text=f"Generating {count(missing, 'class picture')} of “{prompt}” with the base model…"))
        for k in range(missing):
            cancel.raise_if_cancelled()
            n = len(have) + k
            with torch.no_grad():
                image = pipe(
                    prompt,
                    num_inference_steps=spec.sample_steps,
                    width=spec.resolution,
                    height=spec.resolution,
                    generator=torch.Generator("cpu").manual_seed(spec.seed * 7919 + n),
                ).images[0]
            atomic_write(folder / f"class-{n:04d}.png", png_writer(image))
            atomic_write(folder / f"class-{n:04d}.txt", text_writer(prompt))
            emit(Progress(step=k + 1, total=missing))
        have = class_pictures(folder)
    if par is not None:
        par.wait()  # the others take the pictures process 0 made
        have = class_pictures(folder)
    if not have:
        raise _fail(
            f"The class folder {folder} holds no pictures: add some, or ask for a number of class "
            "pictures to generate.",
            "class_dir",
        )
    out = []
    for path in have:
        side = path.with_suffix(".txt")
        caption = side.read_text("utf-8").strip() if side.is_file() else ""
        out.append(to_example(path, caption or spec.class_prompt(), spec.resolution))
    emit(
        Note(
            text=f"{count(len(out), 'class picture')} keep “{spec.class_word}” as the model knew it "
            f"(prior weight {spec.prior_weight:g})."
        )
    )
    return out
