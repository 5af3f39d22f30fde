"""Regions from the Image panel: dragging on the map makes a region, its card takes the prompt and the area, a
bad area is said on the card, and the job carries the regions into the picture's recipe."""

from __future__ import annotations

from pathlib import Path

from PIL import Image
from PySide6.QtCore import QPoint, Qt
from PySide6.QtWidgets import QLabel, QLineEdit

from studio.ui.image.regions_panel import RegionMapView
from tests.ui.test_image_page import generate_with_keyboard, wait_result


def test_drag_a_region_write_its_prompt_and_generate(qtbot, studio, tiny_sd):
    page = studio.window.image_page
    studio.window.show()
    studio.session.set("model", str(tiny_sd))
    studio.session.set("width", 64)
    studio.session.set("height", 64)
    studio.session.set("steps", 2)
    panel = page.parameters
    view = panel.findChild(RegionMapView)
    panel.ensureWidgetVisible(view)
    qtbot.waitExposed(view)
    frame = view.frame()
    start = QPoint(int(frame.left() + 2), int(frame.top() + 2))
    end = QPoint(int(frame.center().x()), int(frame.bottom() - 2))
    qtbot.mousePress(view, Qt.MouseButton.LeftButton, pos=start)
    qtbot.mouseMove(view, end)
    qtbot.mouseRelease(view, Qt.MouseButton.LeftButton, pos=end)
    (card,) = panel.regions.cards
    (region,) = studio.session.value("regions")
    x0, y0, x1, y1 = region["box"]
    assert x0 < 0.05 and y0 < 0.05 and 0.45 < x1 < 0.55 and y1 > 0.95
    image = view.grab().toImage()
    inside = image.pixelColor(int(frame.left() + frame.width() / 4), int(frame.center().y()))
    outside = image.pixelColor(int(frame.left() + frame.width() * 3 / 4), int(frame.center().y()))
    assert inside != outside  # the region is drawn in its colour

    assert studio.session.generate() is None and "has no prompt" in studio.session.errors["regions"]
    prompt = card.findChild(QLineEdit, "region-prompt-0")
    qtbot.keyClicks(prompt, "a green field")
    area = card.findChild(QLineEdit, "region-area-0")
    area.setText("0,0,2,1")
    area.editingFinished.emit()
    said = [w for w in card.findChildren(QLabel) if w.property("role") == "error"][0]
    assert "not inside the picture" in said.text() and not said.isHidden()
    area.setText("0,0,0.5,1")
    area.editingFinished.emit()
    assert said.isHidden() and studio.session.value("regions")[0]["box"] == [0.0, 0.0, 0.5, 1.0]
    assert panel.regions.cards[0] is card  # typing did not rebuild the card under the cursor

    generate_with_keyboard(qtbot, studio)
    wait_result(qtbot, page)
    with Image.open(Path(page.result_view.path())) as result:
        assert 'Region 1: "0,0,0.5,1: a green field: 1"' in result.info["parameters"]
    studio.session.guidance.remove_region(0)
    assert not panel.regions.cards and "Drag on the map" in panel.regions.findChild(QLabel).text()


def test_the_detailer_from_the_panel_needs_a_detector_then_redraws_and_records(
    qtbot, studio, tiny_sd, vision_models
):
    import shutil

    from studio.ui.image.detail_panel import DetailList

    page = studio.window.image_page
    panel = page.parameters
    details = panel.findChild(DetailList)
    assert "No detailer" in details.findChild(QLabel).text()
    studio.session.guidance.add_detail()
    (card,) = details.cards
    target = card.findChild(QLineEdit, "detail-target-0")
    assert target.text() == "face"
    target.clear()
    qtbot.keyClicks(target, "a cat")
    qtbot.keyClicks(card.findChild(QLineEdit, "detail-prompt-0"), "a red cat")
    assert details.cards[0] is card  # typing did not rebuild the card
    assert studio.session.generate() is None
    assert "google/owlv2-base-patch16-ensemble" in studio.session.errors["details"]

    shutil.copytree(vision_models / "owlv2-tiny", studio.runtime.paths.models_dir / "owlv2-tiny")
    studio.session.guidance.set_detail(0, "confidence", 0.0)
    generate_with_keyboard(qtbot, studio)
    wait_result(qtbot, page)
    with Image.open(Path(page.result_view.path())) as result:
        text = result.info["parameters"]
    assert "ADetailer model: a cat" in text and "ADetailer prompt: a red cat" in text
