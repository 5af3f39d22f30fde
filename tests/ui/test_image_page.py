import json
from pathlib import Path

import pytest
from PySide6.QtCore import QPoint, Qt

from studio.viewmodels.job_queue import JobState


def generate_with_keyboard(qtbot, st, prompt="a red circle"):
    page = st.window.image_page
    editor = page.prompt_panel.prompt
    editor.setFocus()
    qtbot.keyClicks(editor, prompt)
    qtbot.keyClick(editor, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)


def wait_result(qtbot, page, timeout=60_000):
    """Wait for a shown result; fail at once, with the message, if the job failed instead."""

    def ready():
        assert not page.banner.isVisible(), page.banner.text()
        return bool(page.result_view.path())

    qtbot.waitUntil(ready, timeout=timeout)


def test_ctrl_return_generates_with_live_preview_and_shows_the_result(qtbot, studio):
    page = studio.window.image_page
    previews = []
    studio.queue.previewChanged.connect(previews.append)
    generate_with_keyboard(qtbot, studio)
    assert page.prompt_panel.prompt.toPlainText() == "a red circle"  # Ctrl+Return added no newline
    wait_result(qtbot, page)
    path = Path(page.result_view.path())
    assert path.is_file() and path.suffix == ".png"
    assert page.result_view.image().size().width() == 64
    assert previews, "the canvas got live previews before the result"
    qtbot.waitUntil(lambda: not studio.queue.busy)
    assert [r.state for r in studio.queue.rows()] == [JobState.DONE]
    assert "Done" in studio.window.statusBar().currentMessage()
    assert page.progress.value() == 1000
    assert page.results.count() == 1 and page.results.isVisible()


def test_escape_cancels_the_running_job_and_nothing_is_saved(qtbot, studio):
    page = studio.window.image_page
    studio.session.set("steps", 400)
    before = studio.runtime.gallery.count()
    generate_with_keyboard(qtbot, studio)
    qtbot.waitUntil(lambda: page.progress.value() > 0, timeout=60_000)
    assert page.prompt_panel.stop.isEnabled()
    qtbot.keyClick(page.prompt_panel.prompt, Qt.Key.Key_Escape)
    qtbot.waitUntil(lambda: studio.queue.rows()[0].state is JobState.CANCELLED, timeout=10_000)
    assert studio.runtime.gallery.count() == before
    assert not page.result_view.path()
    qtbot.waitUntil(lambda: not page.prompt_panel.stop.isEnabled())


def test_invalid_width_shows_an_inline_error_and_queues_nothing(qtbot, studio):
    params = studio.window.image_page.parameters
    params.width_spin.selectAll()
    qtbot.keyClicks(params.width_spin, "65")
    params.width_spin.interpretText()
    assert studio.session.value("width") == 65
    generate_with_keyboard(qtbot, studio)
    assert params.size_error.isVisible()
    assert params.size_error.text() == "Width must be a multiple of 8 (try 64 or 72)."
    assert studio.queue.rowCount() == 0
    params.width_spin.setValue(64)  # fixing the field clears its message
    assert not params.size_error.isVisible()


def test_queue_cancel_and_reorder_from_the_panel(qtbot, studio):
    panel = studio.window.image_page.queue_panel
    s = studio.session
    s.set("steps", 300)
    s.set("prompt", "first")
    first = s.generate()
    qtbot.waitUntil(lambda: studio.queue.row_of(first).state is JobState.RUNNING, timeout=60_000)
    s.set("steps", 2)
    ids = []
    for name in ("second", "third", "fourth"):
        s.set("prompt", name)
        ids.append(s.generate())
    panel.view.setCurrentIndex(studio.queue.index(2))  # "third"
    qtbot.mouseClick(panel.up, Qt.MouseButton.LeftButton)
    assert [r.spec.prompt for r in studio.queue.rows()] == ["first", "third", "second", "fourth"]
    assert panel.view.currentIndex().row() == 1
    panel.view.setCurrentIndex(studio.queue.index(2))  # "second"
    qtbot.mouseClick(panel.cancel, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: studio.queue.row_of(ids[0]).state is JobState.CANCELLED, timeout=5_000)
    studio.queue.cancel(first)
    qtbot.waitUntil(lambda: not studio.queue.busy, timeout=60_000)
    done = [r.spec.prompt for r in studio.queue.rows() if r.state is JobState.DONE]
    assert done == ["third", "fourth"]
    finished_order = [Path(i.path).stat().st_mtime_ns for i in studio.runtime.gallery.recent()]
    assert len(finished_order) == 2
    panel.clear.click()
    assert studio.queue.rowCount() == 0


def test_engine_errors_show_in_a_banner_and_beside_the_field(qtbot, studio, tmp_path):
    folder = tmp_path / "not-a-model"
    folder.mkdir()
    studio.session.choose_model(str(folder))
    generate_with_keyboard(qtbot, studio)
    page = studio.window.image_page
    qtbot.waitUntil(lambda: page.banner.isVisible(), timeout=30_000)
    assert "not a diffusers pipeline folder" in page.banner.text()
    assert "model" in studio.session.errors


def test_init_image_drop_and_mask_painting_switch_modes(qtbot, studio, tmp_path):
    from PIL import Image

    page = studio.window.image_page
    src = tmp_path / "photo.png"
    Image.new("RGB", (64, 64), (10, 120, 200)).save(src)
    page.input_view.imageDropped.emit(str(src))
    assert studio.session.mode == "img2img"
    assert page.stack.currentWidget() is page.input_view
    assert page.prompt_panel.mode.text() == "Image to image"
    canvas = page.input_view
    r = canvas.image_rect()
    centre = QPoint(int(r.center().x()), int(r.center().y()))
    qtbot.mousePress(canvas, Qt.MouseButton.LeftButton, pos=centre)
    qtbot.mouseMove(canvas, centre + QPoint(20, 0))
    qtbot.mouseRelease(canvas, Qt.MouseButton.LeftButton, pos=centre + QPoint(20, 0))
    assert studio.session.mode == "inpaint"
    with Image.open(studio.session.value("mask")) as mask:
        assert mask.getpixel((32, 32)) == 255 and mask.getpixel((0, 0)) == 0
    assert page.prompt_panel.mode.text() == "Inpaint"
    generate_with_keyboard(qtbot, studio, "a cat")
    wait_result(qtbot, page)
    with Image.open(page.result_view.path()) as out:
        assert out.getpixel((0, 0)) == (10, 120, 200)  # outside the mask: the original pixel
    page.clear_mask.click()
    assert studio.session.mode == "img2img"


def test_use_these_settings_restores_the_recipe_exactly(qtbot, studio):
    page = studio.window.image_page
    s = studio.session
    s.set("negative_prompt", "blurry")
    s.set("cfg_scale", 5.5)
    generate_with_keyboard(qtbot, studio, "a (blue:1.2) square")
    wait_result(qtbot, page)
    seed = s.last_seed
    for key, value in {
        "prompt": "other",
        "negative_prompt": "",
        "cfg_scale": 9.0,
        "seed": -1,
        "steps": 9,
    }.items():
        s.set(key, value)
    page.use_settings.click()
    assert page.prompt_panel.prompt.toPlainText() == "a (blue:1.2) square"
    assert page.prompt_panel.negative.toPlainText() == "blurry"
    assert s.value("seed") == seed and int(page.parameters.seed.value()) == seed
    assert s.value("cfg_scale") == 5.5 and s.value("steps") == 4


def test_parameters_and_layout_are_remembered(qtbot, studio, home):
    studio.session.set("prompt", "remember me")
    studio.session.set("steps", 7)
    studio.window.resize(studio.window.width(), 540)
    studio.window.image_page.queue_dock.hide()  # a dock layout change
    studio.window.close()
    settings = json.loads((home / "config" / "settings.json").read_text())
    assert settings["image_params"]["prompt"] == "remember me"
    assert settings["window"]["geometry"]

    from studio.app import create_window
    from studio.runtime import build_runtime

    again = create_window(build_runtime(home))
    qtbot.addWidget(again.window)
    try:
        assert again.window.image_page.prompt_panel.prompt.toPlainText() == "remember me"
        assert again.window.image_page.parameters.steps.value() == 7
        assert again.window.height() == 540  # (offscreen clamps width to its 800 px screen)
        assert again.window.image_page.queue_dock.isHidden()
        assert not again.window.image_page.params_dock.isHidden()
    finally:
        again.runtime.close(5)
        again.runtime.unsubscribe(again.bridge.post)


def test_closing_the_window_during_a_job_stops_it_within_5_seconds(qtbot, studio):
    import time

    studio.session.set("steps", 2000)
    job = studio.session.generate()
    qtbot.waitUntil(lambda: studio.queue.row_of(job).fraction > 0, timeout=60_000)
    t = time.monotonic()
    studio.window.quit_question = lambda *a: "keep"  # (the question itself: tests/ui/test_real_use.py)
    studio.window.close()
    assert time.monotonic() - t < 5
    assert studio.runtime.runner.running_id is None
    assert studio.runtime.runner.shutdown(0)  # the runner thread has ended
    assert not list(studio.runtime.paths.gallery_dir.rglob("*.png"))  # the half-made image was not saved


@pytest.mark.parametrize("theme", ["light", "dark"])
def test_themes_apply(qtbot, studio, theme):
    from PySide6.QtWidgets import QApplication

    studio.window.themeRequested.emit(theme)
    window_color = QApplication.instance().palette().color(QApplication.instance().palette().ColorRole.Window)
    assert (window_color.lightness() < 128) == (theme == "dark")
    assert studio.runtime.settings.theme == theme


def test_jobs_waiting_at_close_are_offered_again_and_run_only_when_asked(qtbot, studio, home):
    s = studio.session
    s.set("steps", 400)
    first = s.generate()
    qtbot.waitUntil(lambda: studio.queue.row_of(first).fraction > 0, timeout=60_000)
    s.set("steps", 3)
    for prompt in ("second", "third"):
        s.set("prompt", prompt)
        s.generate()
    studio.window.quit_question = lambda *a: "keep"
    studio.window.close()

    from studio.app import create_window
    from studio.runtime import build_runtime

    again = create_window(build_runtime(home))
    qtbot.addWidget(again.window)
    page = again.window.image_page
    try:
        assert page.left_over_label.text() == "3 jobs were still waiting when Studio last closed."
        assert again.queue.rowCount() == 0  # nothing runs without the user's word
        page.left_over_run.click()
        assert [r.spec.prompt for r in again.queue.rows()][1:] == ["second", "third"]
        assert not page.left_over_label.isVisibleTo(page)
        for row in again.queue.rows():
            again.queue.cancel(row.id)
        qtbot.waitUntil(lambda: not again.queue.busy, timeout=10_000)
        assert not (home / "queue.json").exists()  # nothing left waiting
    finally:
        again.runtime.close(5)
        again.runtime.unsubscribe(again.bridge.post)


def test_discarding_left_over_jobs_forgets_them(qtbot, studio, home):
    from studio.app import create_window
    from studio.core.image.queue_store import QueueStore
    from studio.core.image.specs import GenerateSpec
    from studio.runtime import build_runtime

    QueueStore(home / "queue.json", owner="gone").save([GenerateSpec(model="m", prompt="old")])
    again = create_window(build_runtime(home))
    qtbot.addWidget(again.window)
    try:
        assert "1 job was still waiting" in again.window.image_page.left_over_label.text()
        again.window.image_page.left_over_drop.click()
        assert not (home / "queue.json").exists()
        assert again.queue.rowCount() == 0
    finally:
        again.runtime.close(5)
        again.runtime.unsubscribe(again.bridge.post)


def test_use_as_input_records_the_parent_and_the_recipe_says_image_to_image(qtbot, studio):
    page = studio.window.image_page
    generate_with_keyboard(qtbot, studio)
    wait_result(qtbot, page)
    qtbot.waitUntil(lambda: not studio.queue.busy)
    first = page.result_view.path()
    page.use_as_init.click()
    studio.session.generate()
    qtbot.waitUntil(lambda: page.result_view.path() != first, timeout=60_000)
    qtbot.waitUntil(lambda: not studio.queue.busy)
    store = studio.runtime.gallery
    children = store.children(store.rel(first))
    assert [store.path(c.rel) for c in children] == [Path(page.result_view.path())]
    gallery = studio.window.gallery_page
    gallery.refresh()
    gallery.grid.setCurrentIndex(gallery.model.index(0))
    qtbot.waitUntil(lambda: "Image to image" in gallery.recipe.toPlainText(), timeout=5000)  # read aside
    assert gallery.parent_btn.isEnabled()


def test_after_stop_the_last_finished_picture_comes_back(qtbot, studio):
    page = studio.window.image_page
    generate_with_keyboard(qtbot, studio)
    wait_result(qtbot, page)
    qtbot.waitUntil(lambda: not studio.queue.busy)
    finished = page.result_view.path()
    assert page.results.currentRow() == 0  # the strip's highlight is on the picture in view
    from PySide6.QtGui import QIcon

    shown = page.results.item(0).icon()  # framed, not tinted: the selected picture keeps its colours
    assert shown.pixmap(72, QIcon.Mode.Selected).toImage() == shown.pixmap(72).toImage()
    studio.session.set("steps", 400)
    studio.session.generate()
    qtbot.waitUntil(
        lambda: page.progress.value() > 0 and not page.result_view.path(), timeout=60_000
    )  # a preview
    qtbot.keyClick(page.prompt_panel.prompt, Qt.Key.Key_Escape)
    qtbot.waitUntil(lambda: not studio.queue.busy, timeout=10_000)
    assert page.result_view.path() == finished and page.use_as_init.isEnabled()


def test_stopped_before_any_picture_the_canvas_is_empty_again(qtbot, studio):
    page = studio.window.image_page
    studio.session.set("steps", 400)
    studio.session.generate()
    qtbot.waitUntil(lambda: not page.result_view.image().isNull(), timeout=60_000)  # a preview
    qtbot.keyClick(page.prompt_panel.prompt, Qt.Key.Key_Escape)
    qtbot.waitUntil(lambda: not studio.queue.busy, timeout=10_000)
    assert page.result_view.image().isNull() and not page.use_as_init.isEnabled()  # no half-made picture


def test_the_lora_list_shows_what_the_prompt_applies_and_nothing_twice(qtbot, studio):
    from PySide6.QtWidgets import QLabel

    from studio.core.image.specs import GenerateSpec, LoraRef

    panel = studio.window.image_page.parameters
    studio.session.set("loras", [])
    studio.session.set("prompt", "a cat <lora:ink:0.6>")
    texts = [w.text() for w in panel.findChildren(QLabel) if "from the" in w.text()]
    assert texts and "ink" in texts[0] and "×0.6" in texts[0]
    assert not any("No LoRAs" in w.text() for w in panel.findChildren(QLabel) if w.isVisibleTo(panel))
    # Use these settings on a picture whose prompt names its LoRA: listed once, in the prompt only
    spec = GenerateSpec(model=str(studio.session.value("model")), prompt="a dog <lora:ink:0.7>",
                        loras=(LoraRef("/loras/ink.safetensors", 0.7), LoraRef("/loras/grain.safetensors", 0.5)))  # fmt: skip
    studio.session.apply_spec(spec)
    assert studio.session.value("loras") == [["/loras/grain.safetensors", 0.5]]


def test_the_queue_reads_in_full_and_has_a_context_menu(qtbot, studio):
    from studio.viewmodels.job_queue import JobState

    page = studio.window.image_page
    long_prompt = (
        "a lighthouse on a cliff at dusk, storm clouds, crashing waves, oil painting, dramatic light"
    )
    generate_with_keyboard(qtbot, studio, long_prompt)
    wait_result(qtbot, page)
    qtbot.waitUntil(lambda: not studio.queue.busy)
    panel = page.queue_panel
    index = studio.queue.index(0)
    tip = studio.queue.data(index, Qt.ItemDataRole.ToolTipRole)
    assert long_prompt in tip and "Done" in tip  # the whole prompt, where the row cuts it
    panel._menu(panel.view.visualRect(index).center())
    labels = [a.text() for a in panel.context_menu.actions() if a.text()]
    assert labels == [
        "Cancel",
        "Run earlier",
        "Run later",
        "Run again (the same recipe)",
        "Use these settings",
    ]
    assert not panel.context_menu.actions()[0].isEnabled()  # a finished job cannot be cancelled
    studio.session.set("prompt", "something else")
    next(a for a in panel.context_menu.actions() if a.text() == "Use these settings").trigger()
    assert studio.session.value("prompt") == long_prompt
    next(a for a in panel.context_menu.actions() if a.text().startswith("Run again")).trigger()
    qtbot.waitUntil(
        lambda: [r.state for r in studio.queue.rows()] == [JobState.DONE, JobState.DONE], timeout=60_000
    )


def test_the_inpaint_brush_fits_the_picture_down_to_one_pixel(qtbot, studio, tmp_path):
    from PIL import Image

    page = studio.window.image_page
    src = tmp_path / "small.png"
    Image.new("RGB", (64, 64), "white").save(src)
    studio.session.set_init_image(str(src))
    assert page.brush_size.minimum() == 1 and page.brush_size.maximum() == 32 and page.brush_size.value() == 6
    assert page.input_view.brush_size == 6  # a tenth of the picture, not half of it
    page.brush_size.setValue(1)
    assert page.input_view.brush_size == 1


def test_the_window_stays_usable_down_to_800_by_560(qtbot, studio):
    from PySide6.QtWidgets import QToolButton

    window, page = studio.window, studio.window.image_page
    for _ in range(4):  # the docks stack as the window narrows, which lets it narrow further
        window.resize(800, 560)
        qtbot.wait(20)
    assert window.width() <= 810 and window.height() <= 560
    assert page.tabifiedDockWidgets(page.params_dock) == [page.queue_dock]  # the queue is a tab, not a column
    assert all(b.toolButtonStyle() == Qt.ToolButtonStyle.ToolButtonIconOnly
               for b in page._result_tools if isinstance(b, QToolButton))  # fmt: skip
    for i in range(window.tabs.count()):  # every room fits: nothing holds the window wider
        assert window.tabs.widget(i).minimumSizeHint().width() <= 800
    window.tabs.setCurrentWidget(window.models_page)
    with qtbot.waitSignal(window.models_page.model.scanned, timeout=30_000):
        window.models_page.model.rescan()
    qtbot.wait(20)
    t = window.models_page.table
    assert t.columnWidth(0) >= 100 and t.columnWidth(0) + 2 >= t.columnWidth(
        2
    )  # the names read, not squeezed
    window.tabs.setCurrentWidget(page)
    for width in (1400, 1600):  # the actions never need scrolling on a desktop window: words when they fit
        window.resize(width, 1000)
        qtbot.waitUntil(lambda: page.actions_row.horizontalScrollBar().maximum() == 0, timeout=2_000)
    assert page.use_as_init.toolButtonStyle() == Qt.ToolButtonStyle.ToolButtonTextBesideIcon
    assert not page.tabifiedDockWidgets(page.params_dock)  # back side by side
    assert page.params_dock.width() >= page.parameters.sizeHint().width() - 2  # no field clipped
