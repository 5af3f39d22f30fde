"""Masks of a fine-tuning dataset: a grey picture per training picture (white: the subject, black: what the loss may
ignore), kept as ``masks/NNNN.png`` beside ``images/`` — from a folder of masks named like the pictures (``--mask-dir``),
painted in the Fine-tune room, or made by selecting the subject."""

from __future__ import annotations

from pathlib import Path

from PIL import Image, ImageOps, UnidentifiedImageError

from studio.core.io.atomic import atomic_write
from studio.core.io.pictures import open_picture
from studio.core.io.untrusted import regular_file_problem
from studio.core.train.dataset import IMAGE_SUFFIXES, Dataset, DatasetImage, png_writer


def set_mask(ds: Dataset, img: DatasetImage, mask: Image.Image | None) -> None:
    """Give a picture its mask (grey, scaled to the picture's size), or take it away (None); saves the dataset."""
    folder = ds.folder / "masks"
    if mask is None:
        if img.mask:
            (folder / img.mask).unlink(missing_ok=True)
        img.mask = ""
    else:
        grey = mask.convert("L")
        if grey.size != (img.width, img.height):
            grey = grey.resize((img.width, img.height), Image.Resampling.BILINEAR)
        folder.mkdir(exist_ok=True)
        atomic_write(folder / img.file, png_writer(grey))
        img.mask = img.file
    ds.save()


def mask_path(ds: Dataset, img: DatasetImage) -> Path | None:
    return ds.folder / "masks" / img.mask if img.mask else None


def import_masks(ds: Dataset, folder: Path) -> tuple[int, list[str]]:
    """Masks from a folder, matched to the pictures by the originals' names (``photo1.jpg`` ↔ ``photo1.png``; a
    ``_mask`` or ``-mask`` ending is allowed). Returns (how many pictures got one, a line per mask that did not)."""
    by_stem = {Path(img.source).stem.lower(): img for img in ds.images if img.source}
    problems, matched = [], 0
    for f in sorted(Path(folder).iterdir()):
        if f.suffix.lower() not in IMAGE_SUFFIXES:
            continue
        stem = f.stem.lower()
        for ending in ("_mask", "-mask", ".mask"):
            stem = stem.removesuffix(ending)
        img = by_stem.get(stem)
        if img is None:
            problems.append(f"{f.name}: no picture of that name")
            continue
        if problem := regular_file_problem(f):
            problems.append(f"{f.name}: {problem}")
            continue
        try:
            with open_picture(f) as raw:
                raw.load()
                mask = ImageOps.exif_transpose(raw)
        except (UnidentifiedImageError, OSError, Image.DecompressionBombError, ValueError) as e:
            problems.append(f"{f.name}: unreadable ({type(e).__name__})")
            continue
        if mask.mode in ("RGBA", "LA") or "transparency" in mask.info:  # a cut-out: its opacity is the mask
            mask = mask.convert("RGBA").getchannel("A")
        set_mask(ds, img, mask)
        matched += 1
    missing = [Path(i.source).name for i in ds.used() if not i.mask]
    if matched and missing:
        problems.append(f"{len(missing)} pictures have no mask and train whole ({', '.join(missing[:3])}…)")
    return matched, problems
