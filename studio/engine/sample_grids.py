"""Contact sheets of a training run's samples: a plain strip, and rows under labels (the A/B grid says on the
picture itself which row is the base model and which the LoRA at which checkpoint)."""

from __future__ import annotations

import math

from PIL import Image


def grid(images: list[Image.Image], cols: int) -> Image.Image:
    w, h = images[0].size
    rows = math.ceil(len(images) / cols)
    sheet = Image.new("RGB", (cols * w, rows * h), "white")
    for i, im in enumerate(images):
        sheet.paste(im, ((i % cols) * w, (i // cols) * h))
    return sheet


def labelled_grid(rows: list[tuple[str, list[Image.Image]]]) -> Image.Image:
    """Rows of pictures, each under its label (what an A/B grid compares, said on the grid itself)."""
    from PIL import ImageDraw

    w, h = rows[0][1][0].size
    band = 22
    cols = max(len(images) for _, images in rows)
    sheet = Image.new("RGB", (cols * w, len(rows) * (h + band)), "white")
    draw = ImageDraw.Draw(sheet)
    for r, (label, images) in enumerate(rows):
        top = r * (h + band)
        draw.text((6, top + 5), label, fill=(30, 30, 30))
        for c, im in enumerate(images):
            sheet.paste(im, (c * w, top + band))
    return sheet
