"""The Canvas room as an artist uses it: paint, undo, draw the box, generate into it, look through the staging
area, accept a result as a layer with its recipe, save and reopen as OpenRaster; the canvas comes back after a
crash."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image
from PySide6.QtCore import QPoint, Qt
from PySide6.QtGui import QColor, QPainter

from studio.core.image.openraster import load_ora
from studio.core.jobs.events import Preview
from studio.core.models.builtin_models import BUILTIN_IMAGE_DIRS
from studio.viewmodels.canvas_session import to_pil

SHAPES = BUILTIN_IMAGE_DIRS[0]


def canvas_point(view, x, y) -> QPoint:
    return view.mapFromScene(x, y)


def stroke(qtbot, view, points):
    qtbot.mousePress(view.viewport(), Qt.MouseButton.LeftButton, pos=canvas_point(view, *points[0]))
    for p in points[1:]:
        qtbot.mouseMove(view.viewport(), canvas_point(view, *p))
    qtbot.mouseRelease(view.viewport(), Qt.MouseButton.LeftButton, pos=canvas_point(view, *points[-1]))


def test_paint_undo_generate_into_the_box_accept_and_save(qtbot, studio, tmp_path):
    page = studio.window.canvas_page
    studio.window.tabs.setCurrentWidget(page)
    session, view = page.session, page.view
    session.new(128, 96)
    qtbot.waitExposed(view)
    view.fit()
    background = session.doc.layers[0]
    assert background.image.getpixel((40, 50)) == (255, 255, 255, 255)

    stroke(qtbot, view, [(20, 50), (60, 50), (100, 50)])  # the brush, red by default
    painted = session.doc.layers[0].image
    r, g, b, a = painted.getpixel((60, 50))
    assert r > 150 and g < 100 and b < 100 and painted.getpixel((60, 10)) == (255, 255, 255, 255)
    session.undo()
    assert session.doc.layers[0].image.getpixel((60, 50)) == (255, 255, 255, 255)
    session.redo()
    assert session.doc.layers[0].image.getpixel((60, 50))[1] < 100

    page._tool("box")
    stroke(qtbot, view, [(0, 0), (70, 70)])
    assert session.box == (0, 0, 64, 64)  # multiples of 8, at least 64 px
    session.add_layer("mask")
    page._tool("brush")
    stroke(qtbot, view, [(10, 10), (30, 30)])
    mask = session.doc.mask_of(session.box)
    assert mask is not None and mask.getpixel((20, 20)) == 255

    studio.session.set("steps", 2)
    job = session.generate()
    assert job is not None
    qtbot.waitUntil(lambda: bool(session.staging), timeout=60_000)
    assert page.staged.text() == "Result 1 of 1" and page.staging_buttons[2].isEnabled()
    layer = session.accept()
    assert (layer.kind, layer.x, layer.y, layer.image.size) == ("generated", 0, 0, (64, 64))
    assert (
        layer.recipe["init_image"] and layer.recipe["mask"] and layer.recipe["width"] == 64
    )  # inpainted there
    assert not session.staging and page.staged.text() == "No result waiting"
    assert [lay.name for lay in session.doc.layers] == ["Background", "Mask (repaint here)", "Generated 1"]
    assert page.layers.list.item(0).text() == "Generated 1"  # the panel lists the topmost first

    path = tmp_path / "mine.ora"
    session.files.save(str(path))
    qtbot.waitUntil(lambda: path.is_file() and session.source == str(path), timeout=10_000)
    back = load_ora(path)
    assert [(lay.name, lay.kind, lay.x, lay.y) for lay in back.layers] == [
        (lay.name, lay.kind, lay.x, lay.y) for lay in session.doc.layers]  # fmt: skip
    assert back.layers[-1].recipe == layer.recipe


def test_after_a_crash_the_canvas_comes_back(qtbot, studio):
    from studio.ui.canvas.canvas_page import CanvasPage
    from studio.viewmodels.canvas_session import CanvasSession

    page = studio.window.canvas_page
    session = page.session
    session.new(64, 64)
    session.add_layer("paint")
    session.stroke(session.active, session.qimage(session.doc.get(session.active)).copy())
    session.set_layer(session.active, name="Sketch")
    assert session.writer.flush()
    again = CanvasSession(
        studio.session, studio.queue, studio.bridge, studio.runtime.paths.canvas_recovery_dir
    )
    shown = CanvasPage(again, studio.session)
    qtbot.addWidget(shown)
    qtbot.waitUntil(lambda: again.recovered, timeout=10_000)  # read off the GUI thread
    assert [lay.name for lay in again.doc.layers] == ["Background", "Sketch"]
    assert "brought back" in shown.status.text()


def test_a_broken_file_is_said_on_the_canvas(qtbot, studio, tmp_path):
    page = studio.window.canvas_page
    bad = tmp_path / "bad.ora"
    bad.write_text("not a zip")
    page.session.files.open(str(bad))
    qtbot.waitUntil(lambda: "bad.ora is not an OpenRaster file" in page.status.text(), timeout=10_000)
    assert page.session.doc.layers  # the canvas in the room is kept


def test_live_painting_redraws_the_box_after_strokes_and_drops_stale_frames(qtbot, studio):
    page = studio.window.canvas_page
    session = page.session
    session.new(64, 64)
    studio.session.set("steps", 2)
    studio.window.tabs.setCurrentWidget(page)
    started: list[str] = []
    real_enqueue = studio.queue.enqueue
    studio.queue.enqueue = lambda spec, room=None: started.append(real_enqueue(spec, room)) or started[-1]
    frames = []
    studio.bridge.arrived.connect(lambda ui: isinstance(ui.event, Preview) and ui.event.job_id in started
                                  and frames.append(ui))  # fmt: skip
    page.live.setChecked(True)  # the white background is already something to paint from: a first frame
    background = session.doc.layers[0]
    for shade in (40, 80, 120):  # three strokes in a row: frames not yet begun are dropped for the newest
        image = session.qimage(session.doc.get(background.id)).copy()
        image.fill(QColor(shade, 0, 0))
        session.stroke(background.id, image)
    qtbot.waitUntil(lambda: bool(session.staging) and session.live.job is None, timeout=60_000)
    made = [ui.event.job_id for ui in frames]
    assert len(made) <= 3 and made[-1] == started[-1]  # the stale ones never ran; the newest did
    frame, recipe = session.staging[0]
    assert frame.size().width() == 64 and recipe["strength"] == 0.5
    with Image.open(recipe["init_image"]) as drawn_from:
        assert drawn_from.convert("RGB").getpixel((10, 10)) == (
            120,
            0,
            0,
        )  # the box as the last stroke left it
    layer = session.accept()
    assert layer.kind == "generated" and layer.recipe == recipe
    page.live.setChecked(False)
    assert not session.live.on


def test_click_to_select_makes_a_mask_layer_and_a_layer_loses_its_background(qtbot, studio, vision_models):
    import shutil

    page = studio.window.canvas_page
    session, view = page.session, page.view
    session.new(96, 64)
    studio.window.tabs.setCurrentWidget(page)
    qtbot.waitExposed(view)
    view.fit()
    page._tool("select")
    stroke(qtbot, view, [(40, 30)])
    assert "Segment Anything model" in page.status.text()  # none yet: what to get is said
    for name in ("sam-tiny", "vitmatte-tiny"):
        shutil.copytree(vision_models / name, studio.runtime.paths.models_dir / name)
    stroke(qtbot, view, [(40, 30)])
    qtbot.waitUntil(lambda: session.doc.layers[-1].name == "Selection", timeout=30_000)
    selection = session.doc.layers[-1]
    assert selection.kind == "mask" and selection.image.size == (96, 64)
    alpha = selection.image.getchannel("A")
    assert sum(alpha.histogram()[1:255]) == 0 and alpha.getbbox() is not None  # an outline of whole pixels

    background = session.doc.layers[0]
    session.selection.remove_background(background.id)
    qtbot.waitUntil(lambda: session.doc.get(background.id).rev > background.rev, timeout=30_000)
    cut = session.doc.get(background.id).image
    assert cut.size == (96, 64) and cut.getchannel("A").getextrema()[0] == 0  # somewhere transparent now
    session.undo()
    assert session.doc.get(background.id).image.getchannel("A").getextrema() == (255, 255)


@pytest.mark.skipif(not (SHAPES / "model_index.json").is_file(), reason="Shapes is not in this checkout")
def test_region_layers_give_each_half_its_own_prompt(qtbot, studio):
    page = studio.window.canvas_page
    session = page.session
    session.new(64, 64)
    for key, value in {"model": str(SHAPES), "prompt": "a red circle", "steps": 20, "cfg_scale": 5.0,
                       "sampler": "DPM++ 2M", "schedule": "Karras", "seed": 3}.items():  # fmt: skip
        studio.session.set(key, value)
    session.discard()
    left = session.add_layer("region")
    for layer, x, prompt in ((left, 0, "a red circle on a green background"),
                             (session.add_layer("region"), 32, "a red circle on a yellow background")):  # fmt: skip
        image = session.qimage(session.doc.get(layer.id)).copy()
        painter = QPainter(image)
        painter.fillRect(x, 0, 32, 64, QColor("white"))
        painter.end()
        session.stroke(layer.id, image)
        if layer is left:
            assert session.generate() is None and "Name the region layer" in page.status.text()
        session.set_layer(layer.id, name=prompt)
    session.set_box(0, 0, 64, 64)
    assert session.generate() is not None
    qtbot.waitUntil(lambda: bool(session.staging), timeout=60_000)
    picture, recipe = session.staging[0]
    assert [r["prompt"] for r in recipe["regions"]] == ["a red circle on a green background",
                                                        "a red circle on a yellow background"]  # fmt: skip
    pixels = np.asarray(to_pil(picture).convert("RGB")).astype(int)
    r, g, b = pixels[..., 0], pixels[..., 1], pixels[..., 2]
    green = ((g > 100) & (g > r + 40) & (g > b + 40))[:, :32].mean()
    yellow = ((r > 150) & (g > 150) & (b < 100))[:, 32:].mean()
    assert green > 0.6 and yellow > 0.6, (green, yellow)


def test_a_control_layer_needs_a_controlnet_unit_then_gives_it_its_picture(qtbot, studio, tiny_sd):
    from tests.tiny_models import save_tiny_controlnet

    page = studio.window.canvas_page
    session = page.session
    session.new(64, 64)
    control = session.add_layer("control")
    image = session.qimage(session.doc.get(control.id)).copy()
    painter = QPainter(image)
    painter.fillRect(10, 10, 30, 30, QColor("black"))
    painter.end()
    session.stroke(control.id, image)
    assert session.generate() is None and "ControlNet unit" in page.status.text()
    net = save_tiny_controlnet(
        tiny_sd, studio.runtime.paths.models_dir / "ControlNet" / "cn.safetensors", "file"
    )
    studio.session.library.rescan_models()
    studio.session.guidance.add_control()
    studio.session.guidance.set_control(0, "model", str(net))
    studio.session.guidance.set_control(0, "preprocessor", "none")
    studio.session.set("steps", 2)
    assert session.generate() is not None
    qtbot.waitUntil(lambda: bool(session.staging), timeout=60_000)
    _, recipe = session.staging[0]
    with Image.open(recipe["controls"][0]["image"]) as used:
        assert used.convert("RGB").getpixel((20, 20)) == (0, 0, 0) and used.convert("RGB").getpixel(
            (50, 50)
        ) == (255, 255, 255)


def test_a_picture_becomes_an_image_layer_and_a_bad_one_is_said(qtbot, studio, tmp_path):
    page = studio.window.canvas_page
    session = page.session
    session.new(128, 96)
    photo = tmp_path / "photo.png"
    Image.new("RGB", (400, 200), (10, 200, 30)).save(photo)
    session.files.import_picture(str(photo))
    qtbot.waitUntil(lambda: session.doc.layers[-1].name == "photo", timeout=10_000)
    layer = session.doc.layers[-1]
    assert layer.kind == "image" and layer.image.size == (128, 64)  # made smaller to fit, its shape kept
    assert layer.image.getpixel((5, 5)) == (10, 200, 30, 255)
    bogus = tmp_path / "bogus.png"
    bogus.write_bytes(b"no picture")
    session.files.import_picture(str(bogus))
    qtbot.waitUntil(
        lambda: "bogus.png is not a picture Studio can read" in page.status.text(), timeout=10_000
    )


def test_selecting_by_words_makes_a_mask_layer(qtbot, studio, vision_models):
    import shutil

    page = studio.window.canvas_page
    session = page.session
    session.new(96, 64)
    page.words.setText("a face")
    page.words.returnPressed.emit()
    assert "Segment Anything model" in page.status.text()  # what to get is said
    for name in ("sam-tiny", "owlv2-tiny"):
        shutil.copytree(vision_models / name, studio.runtime.paths.models_dir / name)
    page.words.returnPressed.emit()
    qtbot.waitUntil(lambda: session.doc.layers[-1].name == "Selection", timeout=30_000)
    assert session.doc.layers[-1].kind == "mask" and session.doc.layers[-1].image.size == (96, 64)
