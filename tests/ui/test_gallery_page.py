"""The Gallery room driven like a user: search, star, delete and undo, use a recipe, import, lineage."""

from __future__ import annotations

from pathlib import Path

from PIL import Image
from PIL.PngImagePlugin import PngInfo
from PySide6.QtCore import Qt

from studio.core.image.image_metadata import RenderInfo
from studio.core.image.specs import GenerateSpec
from studio.viewmodels.gallery_model import ThumbRole


def fill_gallery(st, prompts):
    store = st.runtime.gallery
    items = []
    for i, prompt in enumerate(prompts):
        spec = GenerateSpec(
            model=str(st.session.value("model")),
            prompt=prompt,
            negative_prompt="ugly",
            width=64,
            height=64,
            steps=7 + i,
            cfg_scale=5.5,
            seed=1000 + i,
            sampler="Euler a",
            schedule="Automatic",
        )
        items.append(
            store.save(
                Image.new("RGB", (64, 64), (40 * i % 255, 90, 200)), spec.replace(seed=1000 + i), RenderInfo()
            )
        )
    page = st.window.gallery_page
    page.refresh()
    return page, items


def shown_prompts(page):
    return [page.model.data(page.model.index(r)) for r in range(page.model.rowCount())]


def test_search_as_you_type_and_star_filter(qtbot, studio):
    page, _ = fill_gallery(studio, ["a red fox", "a blue whale", "a red panda"])
    studio.window.tabs.setCurrentWidget(page)
    assert shown_prompts(page) == ["a red panda", "a blue whale", "a red fox"]
    qtbot.keyClicks(page.search, "red")
    qtbot.waitUntil(lambda: shown_prompts(page) == ["a red panda", "a red fox"], timeout=3000)
    assert page.count_label.text() == "2 of 3 images"
    page.grid.setFocus()
    page.grid.setCurrentIndex(page.model.index(1))
    qtbot.keyClick(page.grid, Qt.Key.Key_S)  # star the red fox
    assert page.star_btn.text() == "★ Starred"
    page.search.clear()
    page.starred_box.setChecked(True)
    qtbot.waitUntil(lambda: shown_prompts(page) == ["a red fox"], timeout=3000)
    qtbot.keyClicks(page.search, "zebra")
    qtbot.waitUntil(lambda: page.model.rowCount() == 0, timeout=3000)
    assert page.empty.isVisible() and "No image matches" in page.empty.text()


def test_delete_moves_to_trash_and_undo_brings_it_back(qtbot, studio):
    page, items = fill_gallery(studio, ["keep me", "delete me"])
    studio.window.tabs.setCurrentWidget(page)
    page.grid.setFocus()
    page.grid.setCurrentIndex(page.model.index(0))
    assert page.model.data(page.model.index(0)) == "delete me"
    qtbot.keyClick(page.grid, Qt.Key.Key_Delete)
    assert shown_prompts(page) == ["keep me"]
    assert not items[1].path.exists() and page.undo_bar.isVisible()
    assert page.empty_trash_btn.text() == "Empty trash (1)"
    qtbot.mouseClick(page.undo_bar.findChild(type(page.use_btn), None), Qt.MouseButton.LeftButton)
    assert sorted(shown_prompts(page)) == ["delete me", "keep me"]
    assert items[1].path.is_file() and not page.undo_bar.isVisible()


def test_use_these_settings_fills_the_image_panel_exactly(qtbot, studio):
    page, items = fill_gallery(studio, ["a lighthouse (at night:1.2)"])
    studio.window.tabs.setCurrentWidget(page)
    page.grid.setCurrentIndex(page.model.index(0))
    qtbot.waitUntil(
        lambda: "a lighthouse (at night:1.2)" in page.recipe.toPlainText(), timeout=5000
    )  # read aside
    studio.session.set("prompt", "something else")
    studio.session.set("seed", -1)
    qtbot.mouseClick(page.use_btn, Qt.MouseButton.LeftButton)
    s = studio.session
    assert studio.window.tabs.currentWidget() is studio.window.image_page
    assert (
        s.value("prompt"),
        s.value("negative_prompt"),
        s.value("seed"),
        s.value("steps"),
        s.value("cfg_scale"),
        s.value("sampler"),
    ) == ("a lighthouse (at night:1.2)", "ugly", 1000, 7, 5.5, "Euler a")
    assert studio.window.image_page.prompt_panel.prompt.toPlainText() == "a lighthouse (at night:1.2)"


def test_use_as_init_links_the_result_to_its_parent(qtbot, studio):
    page, items = fill_gallery(studio, ["the parent"])
    page.grid.setCurrentIndex(page.model.index(0))
    qtbot.mouseClick(page.init_btn, Qt.MouseButton.LeftButton)
    s = studio.session
    assert s.value("init_image") and s.value("parent_image") == page.model.store.rel(items[0].path)
    s.set("strength", 0.5)
    s.set("prompt", "the child")
    studio.session.generate()
    qtbot.waitUntil(
        lambda: any(r.prompt == "the child" for r in page.model.store.rows(page.model.store.ids())),
        timeout=60_000,
    )
    qtbot.waitUntil(lambda: not studio.queue.busy, timeout=10_000)
    page.refresh()
    child_row = next(
        r for r in range(page.model.rowCount()) if page.model.data(page.model.index(r)) == "the child"
    )
    page.grid.setCurrentIndex(page.model.index(child_row))
    assert page.parent_btn.isEnabled()
    qtbot.mouseClick(page.parent_btn, Qt.MouseButton.LeftButton)
    assert page.model.data(page.grid.currentIndex()) == "the parent"
    assert page.child_btn.isEnabled()
    qtbot.mouseClick(page.child_btn, Qt.MouseButton.LeftButton)
    assert page.model.data(page.grid.currentIndex()) == "the child"


def test_dropped_image_from_another_tool_is_imported_with_its_recipe(qtbot, studio, tmp_path):
    info = PngInfo()
    info.add_text(
        "parameters",
        "a misty forest\nNegative prompt: people\nSteps: 31, Sampler: DPM++ 2M, "
        "Schedule type: Karras, CFG scale: 6, Seed: 77, Size: 48x48, Model: foo",
    )
    src = tmp_path / "forest.png"
    Image.new("RGB", (48, 48), "green").save(src, pnginfo=info)
    page = studio.window.gallery_page
    with qtbot.waitSignal(page.actions.imported, timeout=10_000) as imported:  # off the GUI thread
        page.import_files([str(src), str(tmp_path / "missing.png")])
    assert imported.args == [1]
    assert src.is_file()  # the original is untouched
    assert shown_prompts(page) == ["a misty forest"]
    page.grid.setCurrentIndex(page.model.index(0))
    qtbot.waitUntil(
        lambda: "automatic1111" in page.recipe.toPlainText(), timeout=5000
    )  # read off the GUI thread
    page.use_settings()
    s = studio.session
    assert (
        s.value("prompt"),
        s.value("seed"),
        s.value("steps"),
        s.value("sampler"),
        s.value("schedule"),
        s.value("width"),
    ) == ("a misty forest", 77, 31, "DPM++ 2M", "Karras", 48)


def test_thumbnails_load_off_the_gui_thread_and_export(qtbot, studio, tmp_path):
    page, items = fill_gallery(studio, ["one", "two"])
    model = page.model
    model.data(model.index(0), ThumbRole)  # the first ask starts the load in the background
    qtbot.waitUntil(lambda: model.data(model.index(0), ThumbRole) is not None, timeout=5000)
    thumb = model.data(model.index(0), ThumbRole)
    assert thumb.width() == 64  # never enlarged beyond the image
    assert any(Path(studio.runtime.paths.cache_dir / "thumbnails").rglob("*.jpg"))  # cached on disk
    page.grid.selectAll()
    out = tmp_path / "export"
    out.mkdir()
    with qtbot.waitSignal(page.actions.exported, timeout=10_000) as exported:  # off the GUI thread
        page.export_selected(str(out), with_metadata=False)
    assert exported.args[0] == 2
    for f in out.iterdir():
        with Image.open(f) as im:
            assert "parameters" not in im.info and "studio" not in im.info
    out2 = tmp_path / "export2"
    out2.mkdir()
    with qtbot.waitSignal(page.actions.exported, timeout=10_000) as exported:
        page.export_selected(str(out2), with_metadata=True)
    assert exported.args[0] == 2
    for f in out2.iterdir():
        with Image.open(f) as im:
            assert "parameters" in im.info


def test_repainting_many_times_keeps_the_interpreter_alive(qtbot, studio):
    """PySide6 drops a reference to None on each ``QModelIndex.data()`` that yields nothing; a grid of loading
    thumbnails repainted for a while used to abort the process. The delegates must not take that road."""
    import sys

    page, _ = fill_gallery(studio, [f"image {i}" for i in range(12)])
    studio.window.tabs.setCurrentWidget(page)
    page.model.thumbs.close()  # thumbnails never arrive: every paint sees "not loaded yet"
    before = sys.getrefcount(None)
    for _ in range(300):
        page.grid.viewport().repaint()
    assert sys.getrefcount(None) > before - 500


def test_custom_date_range(qtbot, studio):
    import time as _time

    from PySide6.QtCore import QDate

    page, items = fill_gallery(studio, ["old one", "new one"])
    store = page.model.store
    old = store.rel(items[0].path)
    with store._tx() as db:  # made two weeks ago
        db.execute("UPDATE images SET created = ? WHERE rel = ?", (_time.time() - 14 * 86400, old))
    today = QDate.currentDate()
    page.choose_range(today.addDays(-20), today.addDays(-10))
    assert shown_prompts(page) == ["old one"]
    page.choose_range(today, today)
    assert shown_prompts(page) == ["new one"]
    assert page.date_box.currentText() == f"{today.toString('yyyy-MM-dd')} – {today.toString('yyyy-MM-dd')}"
    page.date_box.setCurrentIndex(0)
    assert sorted(shown_prompts(page)) == ["new one", "old one"]


def test_search_by_meaning_finds_what_the_words_do_not_say(qtbot, studio):
    page, _ = fill_gallery(
        studio, ["a bowl of fruit", "a red car on a street", "a cat on a sofa", "a yellow bus"]
    )
    studio.window.tabs.setCurrentWidget(page)
    qtbot.keyClicks(page.search, "vehicle")
    qtbot.waitUntil(lambda: page.model.rowCount() == 0, timeout=3000)  # no prompt says "vehicle"
    page.meaning_btn.setChecked(True)
    qtbot.waitUntil(lambda: page.model.rowCount() == 2, timeout=30000)
    assert set(shown_prompts(page)) == {"a red car on a street", "a yellow bus"}
    assert page.count_label.text() == "2 of 4 images · best match first" and page.meaning_label.text() == ""
    assert page.grid.currentIndex().row() == 0
    assert "near the search" in page.model.data(page.model.index(0), Qt.ItemDataRole.ToolTipRole)
    # a new image is read as it arrives: searching again finds it
    fill_gallery(studio, ["a pickup truck in the desert"])
    qtbot.waitUntil(lambda: page.model.rowCount() == 3, timeout=30000)
    assert shown_prompts(page)[0] != "a bowl of fruit"


def test_search_by_meaning_without_its_model_says_what_to_install(qtbot, studio, monkeypatch):
    monkeypatch.setattr("studio.engine.sentence_embedding.model_folder", lambda: None)
    page, _ = fill_gallery(studio, ["a red car on a street"])
    page.meaning_btn.setChecked(True)
    qtbot.keyClicks(page.search, "vehicle")
    qtbot.waitUntil(lambda: "pip install 'studio[semantic]'" in page.meaning_label.text(), timeout=30000)
    assert page.model.rowCount() == 0


def test_ctrl_z_undoes_a_delete_and_the_recipe_says_its_sampler_plainly(qtbot, studio):
    page, items = fill_gallery(studio, ["keep me", "delete me"])
    studio.window.tabs.setCurrentWidget(page)
    page.grid.setFocus()
    page.grid.setCurrentIndex(page.model.index(0))
    qtbot.waitUntil(lambda: "Euler a" in page.recipe.toPlainText(), timeout=5000)  # read off the GUI thread
    assert "Automatic" not in page.recipe.toPlainText()
    qtbot.keyClick(page.grid, Qt.Key.Key_Delete)
    assert shown_prompts(page) == ["keep me"]
    qtbot.keyClick(page.grid, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert sorted(shown_prompts(page)) == ["delete me", "keep me"] and items[1].path.is_file()


def test_compare_side_by_side_says_what_differs_and_closes(qtbot, studio):
    from PySide6.QtWidgets import QDialogButtonBox

    from studio.ui.gallery.gallery_widgets import CompareDialog

    page, _ = fill_gallery(studio, ["a red fox", "a blue whale"])
    studio.window.tabs.setCurrentWidget(page)
    page.grid.selectAll()
    page.compare_selected()
    dialog = page.findChildren(CompareDialog)[-1]
    text = dialog.differences.text()
    assert "What differs" in text and "Prompt" in text and "Seed" in text and "Steps" in text
    assert "Sampler" not in text  # the same in both: not listed
    dialog.findChild(QDialogButtonBox).button(QDialogButtonBox.StandardButton.Close).click()
    assert not dialog.isVisible()
