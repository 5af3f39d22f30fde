"""Compare: the X/Y/Z plot makes one normal image per cell (its own recipe) and a grid with labelled axes; axes
over any field, a LoRA weight or a prompt search/replace; what cannot be plotted is said."""

from __future__ import annotations

import json

import numpy as np
from PIL import Image

from studio.core.image.plot import freeze_plot
from tests.provenance.helpers import without_watermark


def test_a_plot_of_seeds_and_cfg(runtime, tiny_sd, tmp_path, capsys):
    from studio.cli import main

    without_watermark(tmp_path / "h")  # the grid's cells are compared with the pictures exactly
    code = main(["plot", "a red circle", "--model", str(tiny_sd), "--x", "seed=1,2,3", "--y", "cfg=3,7",
                 "--width", "64", "--height", "64", "--steps", "3", "--json", "--home", str(tmp_path / "h")])  # fmt: skip
    assert code == 0
    out = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    cells = out["cells"]
    assert [(c["x"], c["y"]) for c in cells] == [
        ("1", "3"),
        ("2", "3"),
        ("3", "3"),
        ("1", "7"),
        ("2", "7"),
        ("3", "7"),
    ]
    for c in cells:  # each cell a normal image with its own recipe
        params = Image.open(c["path"]).info["parameters"]
        assert f"Seed: {c['x']}," in params and f"CFG scale: {c['y']}," in params
    grid = Image.open(out["grid"])
    assert (
        grid.info["parameters"].count("Script: X/Y/Z plot") == 1
        and 'X Values: "1, 2, 3"' in grid.info["parameters"]
    )
    w, h = grid.size
    assert w > 3 * 64 and h > 2 * 64  # the cells plus the labels' margins
    g = np.asarray(grid.convert("RGB"), int)
    first = np.asarray(Image.open(cells[0]["path"]).convert("RGB"), int)
    left, top = w - 3 * 64, h - 2 * 64
    assert np.array_equal(g[top : top + 64, left : left + 64], first)  # the top-left cell is the first image
    assert (g[:top, left:] < 128).any() and (
        g[top:, :left] < 128
    ).any()  # labels written along the top and left


def test_axes_that_cannot_be_plotted_are_said(tiny_sd):
    draft = {"model": str(tiny_sd), "prompt": "a red cat"}
    assert "No recipe field 'colour'" in freeze_plot(draft, ["colour=1,2"])["axes"]
    assert "more than 256" in freeze_plot(draft, ["seed=1-20", "cfg=1-20"])["axes"]
    problems = freeze_plot(draft, ["steps=3,900"])
    assert "steps=900" in problems["steps"]
    from studio.core.image.finders import LoraFinder
    from studio.core.image.recipe import ImageContext
    from studio.core.models.builtin_models import BUILTIN_LORA_DIR

    spec = freeze_plot(draft, ["prompt=SR:red,blue", "lora:shapes-star=0,0.8"],
                       ImageContext(loras=LoraFinder([BUILTIN_LORA_DIR])))  # fmt: skip
    assert [c.prompt for c in spec.cells] == ["a red cat", "a blue cat", "a red cat", "a blue cat"]
    assert [c.loras[0].weight for c in spec.cells] == [0.0, 0.0, 0.8, 0.8] and spec.shape == (2, 2, 1)
    assert len({c.seed for c in spec.cells}) == 1  # one seed for every cell
