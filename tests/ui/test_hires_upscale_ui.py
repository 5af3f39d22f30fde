"""Hires fix from the Image panel's widgets, and *Upscale…* on a gallery picture, as an artist uses them."""

from __future__ import annotations

from pathlib import Path

from PIL import Image

from tests.ui.test_image_page import generate_with_keyboard, wait_result


def test_hires_fix_from_the_panel_makes_the_larger_picture(qtbot, studio):
    panel = studio.window.image_page.parameters
    assert panel.hires_scale.text() == "Off" and not panel.hires_denoise.isEnabled()
    panel.hires_scale.setValue(2.0)
    panel.hires_upscaler.setCurrentIndex(panel.hires_upscaler.findData("Lanczos"))
    panel.hires_steps.setValue(2)
    assert panel.hires_denoise.isEnabled() and studio.session.value("hires_upscaler") == "Lanczos"
    generate_with_keyboard(qtbot, studio)
    wait_result(qtbot, studio.window.image_page)
    path = Path(studio.window.image_page.result_view.path())
    with Image.open(path) as im:
        assert im.size == (128, 128)
        assert "Hires upscale: 2, Hires steps: 2, Hires upscaler: Lanczos" in im.info["parameters"]


def test_upscale_from_the_gallery_adds_a_child(qtbot, studio, monkeypatch):
    from studio.ui.image.upscale_dialog import UpscaleDialog

    generate_with_keyboard(qtbot, studio)
    page = studio.window.image_page
    wait_result(qtbot, page)
    qtbot.waitUntil(lambda: not studio.queue.busy)
    source = page.result_view.path()
    gallery = studio.window.gallery_page
    gallery.refresh()
    qtbot.waitUntil(lambda: gallery.model.rowCount() == 1, timeout=10_000)

    def run_dialog(dialog: UpscaleDialog) -> int:
        assert [dialog.upscaler.itemText(i) for i in range(dialog.upscaler.count())][0] == "Lanczos"
        dialog.scale.setValue(20)  # out of range: the spin box clamps, the job is valid
        dialog.scale.setValue(1.5)
        dialog.submit()
        return 1

    monkeypatch.setattr(UpscaleDialog, "exec", run_dialog)
    job = studio.window.upscale(source)
    assert job is not None
    qtbot.waitUntil(lambda: not studio.queue.busy, timeout=30_000)
    from studio.viewmodels.job_queue import JobState, describe

    assert (
        describe(studio.queue.rows()[-1].spec).startswith("Upscale ")
        and studio.queue.rows()[-1].state is JobState.DONE
    )
    gallery.refresh()
    qtbot.waitUntil(lambda: gallery.model.rowCount() == 2, timeout=10_000)
    kids = studio.runtime.gallery.children(studio.runtime.gallery.rel(source))
    assert len(kids) == 1
    with Image.open(studio.runtime.gallery.path(kids[0].rel)) as im:
        assert im.size == (96, 96)
        assert "Postprocess upscale by: 1.5, Postprocess upscaler: Lanczos" in im.info["parameters"]


def test_a_creative_upscale_from_the_gallery_redraws_with_the_pictures_recipe(qtbot, studio, monkeypatch):
    from studio.ui.image.upscale_dialog import UpscaleDialog

    generate_with_keyboard(qtbot, studio)
    page = studio.window.image_page
    wait_result(qtbot, page)
    qtbot.waitUntil(lambda: not studio.queue.busy)
    source = page.result_view.path()

    def run_dialog(dialog: UpscaleDialog) -> int:
        assert dialog.creativity.text() == "Off (a plain upscale)"
        dialog.scale.setValue(2)
        dialog.creativity.setValue(0.3)
        dialog.submit()
        return 1

    monkeypatch.setattr(UpscaleDialog, "exec", run_dialog)
    assert studio.window.upscale(source) is not None
    qtbot.waitUntil(lambda: not studio.queue.busy, timeout=60_000)
    kids = studio.runtime.gallery.children(studio.runtime.gallery.rel(source))
    assert len(kids) == 1
    with Image.open(studio.runtime.gallery.path(kids[0].rel)) as im, Image.open(source) as src:
        assert im.size == (128, 128)
        assert "Tiled refine creativity: 0.3" in im.info["parameters"]
        prompt = src.info["parameters"].split("\n")[0]
        assert im.info["parameters"].startswith(prompt + "\n")  # redrawn with the source's own prompt
