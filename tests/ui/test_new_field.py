"""A field added to the image recipe's table (Eta, declared only on ``GenerateSpec`` and used by the engine) shows
up everywhere a user meets a recipe: its own widget in its section of the Image room, the picture's A1111 text,
the Gallery's recipe panel, "Use these settings" and ``--from-image`` — with no UI or metadata code of its own."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image
from PySide6.QtWidgets import QDoubleSpinBox

from studio.core.image.from_image import draft_from_image
from tests.ui.test_image_page import wait_result


def test_eta_has_its_widget_its_words_and_its_row_in_the_gallery(qtbot, studio):
    page = studio.window.image_page
    s = studio.session
    spin = page.parameters.findChild(QDoubleSpinBox, "eta")
    assert spin is not None and spin.isVisibleTo(page.parameters)
    assert spin.maximum() == 1.0 and "DDIM only" in spin.toolTip()  # range and help from the table
    s.set("sampler", "DDIM")
    s.set("schedule", "Automatic")
    s.set("seed", 5)
    s.set("prompt", "a red circle")
    spin.setValue(0.6)  # the user turns it
    assert s.value("eta") == 0.6
    s.generate()
    wait_result(qtbot, page)
    qtbot.waitUntil(lambda: not studio.queue.busy)
    with_eta = Path(page.result_view.path())
    with Image.open(with_eta) as im:
        assert "Eta DDIM: 0.6" in im.info["parameters"]
        noisy = np.asarray(im.convert("RGB"), dtype=np.int16)
    s.set("eta", 0.0)  # the widget follows the session
    assert spin.value() == 0.0
    s.generate()
    qtbot.waitUntil(lambda: Path(page.result_view.path()) != with_eta, timeout=60_000)
    qtbot.waitUntil(lambda: not studio.queue.busy)
    with Image.open(page.result_view.path()) as im:
        assert "Eta" not in im.info["parameters"]
        plain = np.asarray(im.convert("RGB"), dtype=np.int16)
    assert np.abs(noisy - plain).mean() > 0.5, "eta reached the scheduler: the same seed made another picture"

    gallery = studio.window.gallery_page
    gallery.refresh()
    index = next(gallery.model.index(i) for i in range(gallery.model.rowCount())
                 if Path(gallery.model.row(i).rel).name == with_eta.name)  # fmt: skip
    gallery.grid.setCurrentIndex(index)
    qtbot.waitUntil(lambda: "\nEta\n0.6\n" in gallery.recipe.toPlainText(), timeout=5000)  # read aside
    draft, notes = draft_from_image(with_eta)
    assert draft["eta"] == 0.6 and draft["seed"] == 5


def test_eta_comes_back_from_another_tools_text(tmp_path):
    from PIL.PngImagePlugin import PngInfo

    info = PngInfo()
    info.add_text("parameters", "a fox\nSteps: 20, Sampler: DDIM, CFG scale: 7, Seed: 3, Size: 64x64, Eta DDIM: 0.3, "
                                "Version: v1.10.1")  # fmt: skip
    path = tmp_path / "a1111.png"
    Image.new("RGB", (64, 64)).save(path, pnginfo=info)
    draft, notes = draft_from_image(path)
    assert draft["eta"] == 0.3 and draft["sampler"] == "DDIM" and not notes


def test_a_choice_with_a_name_shows_its_name_and_keeps_its_value(studio):
    """The CPU engine's choices read as names in the window ("OpenVINO, int8"); the recipe keeps the value."""
    from PySide6.QtWidgets import QComboBox

    combo = studio.window.image_page.parameters.findChild(QComboBox, "cpu_engine")
    assert combo is not None
    assert [combo.itemText(i) for i in range(combo.count())] == [
        "Auto",
        "torch",
        "OpenVINO",
        "OpenVINO, int8",
    ]
    studio.session.set("cpu_engine", "openvino-int8")
    assert combo.currentText() == "OpenVINO, int8"
    combo.setCurrentIndex(2)  # the user picks OpenVINO
    assert studio.session.value("cpu_engine") == "openvino"
