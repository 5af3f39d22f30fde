"""ControlNet and reference images from the Image panel: a unit added on the init image shows its preprocessed map
at once, follows the preprocessor, takes the painted strokes as a scribble, and steers the generated picture."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw
from PySide6.QtWidgets import QComboBox, QLabel

from tests.tiny_models import save_tiny_controlnet
from tests.ui.test_image_page import generate_with_keyboard, wait_result


def test_a_control_unit_from_the_panel(qtbot, studio, tiny_sd, tmp_path):
    picture = tmp_path / "circle.png"
    im = Image.new("RGB", (64, 64), "black")
    ImageDraw.Draw(im).ellipse((12, 12, 52, 52), fill="white")
    im.save(picture)
    save_tiny_controlnet(
        tiny_sd, studio.runtime.paths.models_dir / "ControlNet" / "cn-tiny.safetensors", "file"
    )
    studio.session.library.rescan_models()
    panel = studio.window.image_page.parameters
    studio.session.set_init_image(str(picture))
    studio.session.guidance.add_control()
    (card,) = panel.controls.cards
    preview = card.findChild(QLabel, "control-preview-0")
    assert not preview.pixmap().isNull()
    shown = preview.pixmap().toImage()
    assert (
        shown.pixelColor(shown.width() // 2, shown.height() // 2).value() == 0
    )  # canny: the inside is black
    pre, model = card.findChildren(QComboBox)
    assert model.currentText() == "cn-tiny" and pre.currentData() == "canny"
    pre.setCurrentIndex(pre.findData("depth"))
    assert "made when generating" in card.findChild(QLabel, "control-preview-0").text()
    pre.setCurrentIndex(pre.findData("canny"))
    studio.session.set_init_image(None)
    generate_with_keyboard(qtbot, studio)
    wait_result(qtbot, studio.window.image_page)
    path = Path(studio.window.image_page.result_view.path())
    with Image.open(path) as result:
        assert 'ControlNet 0: "Module: canny, Model: cn-tiny, Weight: 1' in result.info["parameters"]
        controlled = np.asarray(result.convert("RGB"), int)
    studio.session.guidance.remove_control(0)
    assert not panel.controls.cards
    generate_with_keyboard(qtbot, studio)
    view = studio.window.image_page.result_view
    qtbot.waitUntil(lambda: view.path() not in ("", str(path)), timeout=30_000)
    plain = np.asarray(Image.open(studio.window.image_page.result_view.path()).convert("RGB"), int)
    assert np.abs(plain - controlled).mean() > 1.0


def test_a_missing_controlnet_is_said_beside_the_units(qtbot, studio, tmp_path):
    picture = tmp_path / "p.png"
    Image.new("RGB", (64, 64), "white").save(picture)
    studio.session.guidance.add_control(str(picture))
    studio.session.guidance.set_control(0, "model", "no-such-controlnet")
    assert studio.session.generate() is None
    assert "no-such-controlnet" in studio.session.errors["controls"]


def test_a_gallery_picture_becomes_a_control_or_reference_image(qtbot, studio):
    generate_with_keyboard(qtbot, studio)
    wait_result(qtbot, studio.window.image_page)
    qtbot.waitUntil(lambda: not studio.queue.busy)
    path = studio.window.image_page.result_view.path()
    gallery = studio.window.gallery_page
    gallery.refresh()
    qtbot.waitUntil(lambda: gallery.model.rowCount() == 1, timeout=10_000)
    gallery.grid.setCurrentIndex(gallery.model.index(0))
    gallery.use_as_guide("controls")  # the context menu's Use as ControlNet image
    gallery.use_as_guide("references")
    assert [u["image"] for u in studio.session.value("controls")] == [path]
    assert [u["image"] for u in studio.session.value("references")] == [path]
    assert studio.window.tabs.currentWidget() is studio.window.image_page
    assert len(studio.window.image_page.parameters.references.cards) == 1


def test_a_canny_map_without_edges_says_so_and_its_thresholds_can_be_set(qtbot, studio, tmp_path):
    from PySide6.QtWidgets import QDoubleSpinBox

    picture = tmp_path / "soft.png"
    im = Image.new("RGB", (64, 64), (120, 120, 120))
    ImageDraw.Draw(im).ellipse((12, 12, 52, 52), fill=(135, 135, 135))  # a faint disc: no edge at 100/200
    im.save(picture)
    panel = studio.window.image_page.parameters
    studio.session.guidance.add_control(str(picture))
    (card,) = panel.controls.cards
    said = card.findChild(QLabel, "control-said-0")
    assert "No edges at thresholds 100/200: lower them" in said.text() and not said.isHidden()
    low, high = [s for s in card.findChildren(QDoubleSpinBox) if s.maximum() == 1000.0]
    low.setValue(5)
    high.setValue(10)
    (card,) = panel.controls.cards
    said = card.findChild(QLabel, "control-said-0")
    assert said.isHidden() or not said.text()  # the edge is found now
    unit = studio.session.value("controls")[0]
    assert (unit["threshold_a"], unit["threshold_b"]) == (5.0, 10.0)
    shown = card.findChild(QLabel, "control-preview-0").pixmap().toImage()
    assert (
        max(shown.pixelColor(x, y).value() for x in range(shown.width()) for y in range(shown.height())) > 200
    )
