"""Compare: AUTOMATIC1111's X/Y/Z plot. Any recipe field on an axis (``seed=1,2,3``, ``cfg=3,7``,
``sampler=Euler,DPM++ 2M``, ``steps=10-30:3``…), a LoRA's weight (``lora:NAME=0,0.5,1``) or a prompt search and
replace (``prompt=SR:red,green,blue``: every value replaces the first in the prompt, as A1111's Prompt S/R). Each
cell is a normal image with its own recipe; the grid, with labelled axes, is one more picture."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from PIL import Image, ImageDraw, ImageFont

from studio.core.image.specs import GenerateSpec
from studio.core.jobs import JobKind

MAX_CELLS = 256


@dataclass(frozen=True)
class PlotAxis:
    name: str  # as the user wrote it ("cfg", "prompt", "lora:grain")
    field: str  # the recipe field it sets ("cfg_scale", "prompt", "loras")
    values: tuple[str, ...]


@dataclass(frozen=True)
class PlotSpec:
    """A grid of images: the cells (each a full recipe) in row-major order, x fastest, then y, then z."""

    kind: ClassVar[JobKind] = JobKind.PLOT

    cells: tuple[GenerateSpec, ...]
    axes: tuple[PlotAxis, ...] = ()  # x, then y, then z (as many as given)
    labels: tuple[tuple[str, ...], ...] = ()  # each cell's value on each axis
    shape: tuple[int, int, int] = (1, 1, 1)  # x, y, z counts

    @property
    def image_count(self) -> int:
        return len(self.cells)


def _range(text: str) -> list[str] | None:
    """``10-30:3`` (three values from 10 to 30) or ``1-4`` (every integer) → the values; None when not a range."""
    import re

    m = re.fullmatch(r"\s*(-?\d+(?:\.\d+)?)\s*-\s*(-?\d+(?:\.\d+)?)\s*(?::\s*(\d+))?\s*", text)
    if not m:
        return None
    a, b, n = float(m[1]), float(m[2]), m[3]
    integral = "." not in m[1] + m[2]
    if n is None:
        if not integral or abs(b - a) > MAX_CELLS:
            return None
        step = 1 if b >= a else -1
        return [str(int(v)) for v in range(int(a), int(b) + step, step)]
    count = max(1, min(int(n), MAX_CELLS))
    values = [a + (b - a) * i / max(1, count - 1) for i in range(count)]
    return [str(round(v)) if integral else f"{v:g}" for v in values]


def parse_axis(text: str, fields: dict[str, str]) -> PlotAxis | str:
    """``NAME=v1,v2,…`` → an axis; else the sentence saying what is wrong. ``fields``: names/options → field."""
    name, sep, rest = text.partition("=")
    name = name.strip()
    if not sep or not name or not rest.strip():
        return f"An axis is NAME=VALUES, e.g. seed=1,2,3 or cfg=3,7 (given {text[:60]!r})."
    if name.lower().startswith("lora:"):
        target = "loras"
    elif name in ("prompt", "negative", "negative_prompt") and rest.strip().upper().startswith("SR:"):
        target = "prompt" if name == "prompt" else "negative_prompt"
        rest = rest.strip()[3:]
    else:
        target = fields.get(name) or fields.get(name.replace("-", "_")) or ""
        if not target:
            known = ", ".join(sorted({k for k in fields if "_" not in k})[:14])
            return f"No recipe field {name!r} for an axis (try {known}, lora:NAME, prompt=SR:…)."
    values = _range(rest) if target not in ("prompt", "negative_prompt") else None
    if values is None:
        values = [v.strip() for v in rest.split(",") if v.strip()]
    if not values:
        return f"The axis {name} has no values."
    return PlotAxis(name, target, tuple(values))


def apply_value(draft: dict[str, Any], axis: PlotAxis, value: str, first: str) -> dict[str, Any]:
    """The draft with this axis at this value (a prompt S/R replaces ``first``, the axis' first value)."""
    out = dict(draft)
    if axis.field in ("prompt", "negative_prompt"):
        out[axis.field] = str(out.get(axis.field, "")).replace(first, value)
    elif axis.field == "loras":
        name = axis.name.split(":", 1)[1]
        loras = [
            list(x) for x in out.get("loras", []) if not (isinstance(x, list | tuple) and x and x[0] == name)
        ]
        out["loras"] = [*loras, [name, float(value)]]
    else:
        out[axis.field] = value
    return out


def plot_drafts(
    draft: dict[str, Any], axes: list[PlotAxis]
) -> tuple[list[dict[str, Any]], list[tuple[str, ...]]]:
    """One draft per cell (x fastest, then y, then z) and its labels."""
    import itertools

    drafts, labels = [], []
    for combo in itertools.product(*(reversed([a.values for a in axes]))):
        values = tuple(reversed(combo))  # x, y, z
        cell = dict(draft)
        for axis, value in zip(axes, values, strict=True):
            cell = apply_value(cell, axis, value, axis.values[0])
        drafts.append(cell)
        labels.append(values)
    return drafts, labels


# -- the grid ----------------------------------------------------------------------------------------------------
def _font(size: int) -> Any:
    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # an older Pillow: its one bitmap size
        return ImageFont.load_default()


def _fit(draw: ImageDraw.ImageDraw, text: str, font: Any, width: int) -> str:
    if draw.textlength(text, font=font) <= width:
        return text
    while text and draw.textlength(text + "…", font=font) > width:
        text = text[:-1]
    return text + "…"


def compose_grid(images: list[Image.Image], spec: PlotSpec) -> Image.Image:
    """The cells in a grid, x across and y down, each z value a grid of its own under a title; the axes' values
    written along the top and the left."""
    nx, ny, nz = spec.shape
    w, h = images[0].size
    size = max(12, min(28, w // 12))
    font = _font(size)
    names = [a.name for a in spec.axes]
    top = size * 2 + 8 if names else 0
    left = min(max(w // 2, 120), 260) if len(names) > 1 else 0
    title = size * 2 + 8 if len(names) > 2 else 0
    panel_h = title + top + ny * h
    grid = Image.new("RGB", (left + nx * w, nz * panel_h), "white")
    draw = ImageDraw.Draw(grid)
    for z in range(nz):
        y0 = z * panel_h
        if title:
            draw.text((8, y0 + 4), _fit(draw, f"{names[2]}: {spec.axes[2].values[z]}", font, grid.width - 16),
                      fill="black", font=font)  # fmt: skip
        for x in range(nx):
            if names:
                label = _fit(draw, f"{names[0]}: {spec.axes[0].values[x]}", font, w - 8)
                draw.text(
                    (left + x * w + w // 2, y0 + title + top // 2),
                    label,
                    fill="black",
                    font=font,
                    anchor="mm",
                )
        for y in range(ny):
            if len(names) > 1:
                label = _fit(draw, f"{names[1]}: {spec.axes[1].values[y]}", font, left - 12)
                draw.text(
                    (left - 6, y0 + title + top + y * h + h // 2), label, fill="black", font=font, anchor="rm"
                )
            for x in range(nx):
                cell = images[(z * ny + y) * nx + x]
                if cell.size != (w, h):
                    cell = cell.resize((w, h), Image.Resampling.LANCZOS)
                grid.paste(cell.convert("RGB"), (left + x * w, y0 + title + top + y * h))
    return grid


def axis_fields() -> dict[str, str]:
    """What an axis may be called: every image recipe field by its name and its option (``cfg`` → cfg_scale)."""
    from studio.core.image.recipe import IMAGE

    names: dict[str, str] = {}
    for f in IMAGE.fields:  # each field says whether it can be an axis (LoRAs by "lora:NAME", below)
        if f.axis and f.type is not list:
            names[f.name] = f.name
            if f.cli:
                names[f.option.lstrip("-")] = f.name
    names["prompt"] = "prompt"
    return names


def freeze_plot(draft: dict[str, Any], axes_text: list[str], ctx: Any = None) -> PlotSpec | dict[str, str]:
    """The plot of ``draft`` over the axes (x, y, z; 1 to 3 of them), each cell frozen by the image recipe; or the
    problems (``axes``: the axes' own; else the first cell's, by field)."""
    from studio.core.image.recipe import ImageContext, freeze_image
    from studio.core.jobs import RANDOM_SEED

    ctx = ctx or ImageContext()
    fields = axis_fields()
    axes: list[PlotAxis] = []
    for text in axes_text:
        axis = parse_axis(text, fields)
        if isinstance(axis, str):
            return {"axes": axis}
        axes.append(axis)
    if not 1 <= len(axes) <= 3:
        return {"axes": "A plot has one to three axes (x, y, z)."}
    shape = tuple(len(a.values) for a in axes) + (1,) * (3 - len(axes))
    if shape[0] * shape[1] * shape[2] > MAX_CELLS:
        return {"axes": f"{shape[0]}×{shape[1]}×{shape[2]} cells is more than {MAX_CELLS}; use fewer values."}
    base = {**draft, "batch_count": 1, "batch_size": 1}
    if base.get("seed", RANDOM_SEED) in (RANDOM_SEED, None, "-1"):
        base["seed"] = ctx.seed()  # one seed for every cell (unless the seed is an axis)
    drafts, labels = plot_drafts(base, axes)
    cells = []
    for cell, values in zip(drafts, labels, strict=True):
        frozen = freeze_image(cell, ctx)
        if isinstance(frozen, dict):
            where = ", ".join(f"{a.name}={v}" for a, v in zip(axes, values, strict=True))
            return {k: f"{m} ({where})" for k, m in frozen.items()}
        cells.append(frozen)
    return PlotSpec(tuple(cells), tuple(axes), tuple(labels), (shape[0], shape[1], shape[2]))
