"""The Fine-tune room: a dataset from generated pictures, a caption edited, training started, the loss curve
growing, cancelled."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QPoint, Qt

from tests.training.conftest import photos


def test_build_caption_train_watch_cancel(qtbot, studio, tiny_sd, tmp_path):
    page = studio.window.finetune_page
    session = page.session
    pics = photos(tmp_path / "pics", n=4)
    with qtbot.waitSignal(session.datasetChanged, timeout=30_000):
        session.add_pictures([str(pics)])  # copied and checked off the GUI thread
    assert page.table.rowCount() == 4 and "4 of 4 pictures" in page.summary.text()
    page.table.item(1, 1).setText("a red disc on a table")  # edit a caption in the grid
    assert session.dataset.images[1].caption == "a red disc on a table"
    assert (
        session.dataset.path(session.dataset.images[1])
        .with_suffix(".txt")
        .read_text()
        .endswith("a red disc on a table")
    )
    page.trigger.setText("zwx")
    page.class_word.setText("disc")
    page.set_base_choices([("tiny", str(tiny_sd))])
    page.steps.setValue(300)
    page.rank.setValue(4)
    page.resolution.setValue(64)
    page.text_encoder.setChecked(False)
    qtbot.mouseClick(page.start_btn, Qt.MouseButton.LeftButton)
    assert not page.start_btn.isEnabled() and page.cancel_btn.isEnabled()
    qtbot.waitUntil(lambda: len(session.curve.losses) >= 3, timeout=120_000)
    assert "Step" in page.status.text() and "loss" in page.status.text()
    page.curve.grab()  # paints the curve
    (y_hi, y_lo), (x_0, x_n) = page.curve.axis_labels()  # with its axes' values
    assert float(y_hi) >= float(y_lo) > 0 and x_0 == "0" and x_n.startswith("step ")
    with qtbot.waitSignal(session.stopped, timeout=60_000) as stopped:
        qtbot.mouseClick(page.cancel_btn, Qt.MouseButton.LeftButton)
    assert stopped.args == ["cancelled"]
    assert page.start_btn.isEnabled() and "Cancelled" in page.status.text()
    assert len(session.curve.losses) < 300
    qtbot.waitUntil(lambda: "measured on an earlier run" in page.estimate.text(), timeout=5_000)


def test_an_empty_dataset_says_what_to_do(qtbot, studio):
    page = studio.window.finetune_page
    qtbot.mouseClick(page.start_btn, Qt.MouseButton.LeftButton)
    assert "empty" in page.status.text() and page.start_btn.isEnabled()


def test_auto_captions_focus_point_class_pictures_and_estimate(qtbot, studio, tmp_path, home):
    from studio.core.models.builtin_models import builtin_image_models
    from tests.tiny_models import save_tiny_captioner
    from tests.training.test_train_extras import coloured

    page = studio.window.finetune_page
    session = page.session
    pics = coloured(tmp_path / "pics", {"a": (220, 20, 20), "b": (30, 60, 230)})
    with qtbot.waitSignal(session.datasetChanged, timeout=30_000):
        session.add_pictures([str(pics)])
    qtbot.mouseClick(page.caption_btn, Qt.MouseButton.LeftButton)
    assert "No captioning model is installed" in page.summary.text()  # said where the user looks
    save_tiny_captioner(home / "models" / "captioners" / "tiny-blip")
    library = studio.window.models_page.model
    library.rescan()
    qtbot.waitUntil(lambda: any(e.kind == "captioner" for e in library.entries), timeout=30_000)
    page.table.item(1, 1).setText("blue, my words")
    with qtbot.waitSignal(session.captioning, timeout=60_000, check_params_cb=lambda busy: not busy):
        qtbot.mouseClick(page.caption_btn, Qt.MouseButton.LeftButton)
    assert page.table.item(0, 1).text() == "a photo of a red disc"
    assert page.table.item(1, 1).text() == "blue, my words"  # not overwritten
    assert "captioned 1 picture" in page.summary.text()
    qtbot.waitUntil(lambda: "Done: 1 caption in" in studio.window.statusBar().currentMessage(), timeout=5000)

    page.table.setCurrentCell(0, 1)
    view = page.focus_view
    page.resolution.setValue(64)
    centred = view.crop_rect()
    r = view.picture_rect()
    qtbot.mouseClick(
        view, Qt.MouseButton.LeftButton, pos=r.topLeft().toPoint() + QPoint(3, int(r.height() / 2))
    )
    assert session.dataset.images[0].focus[0] < 0.05
    assert view.crop_rect().left() < centred.left()  # the crop moved to the left edge
    assert "focus" in (session.dataset.folder / "dataset.json").read_text()

    shapes = str(builtin_image_models()[0].path)
    page.set_base_choices([("Shapes", shapes)])
    page.resolution.setValue(512)
    page._base_changed(0)
    assert page.resolution.value() == 64  # the demo model's own size
    qtbot.waitUntil(lambda: page.estimate.text().startswith("About"), timeout=5000)
    assert "rough" in page.estimate.text()

    page.class_box.setChecked(True)
    page.class_count.setValue(2)
    qtbot.mouseClick(page.start_btn, Qt.MouseButton.LeftButton)
    assert "need a class word" in page.status.text()  # refused before anything is queued
    page.class_word.setText("Big dog")
    session.set_words(page.trigger.text(), page.class_word.text())
    spec = session.build_spec("x")
    assert spec.class_images == 2 and Path(spec.class_dir) == home / "training" / "class" / "big-dog"

    assert not page.more.isVisibleTo(page)  # "More settings" start folded
    page.more.epochs.setValue(3)
    page.more.batch_size.setValue(2)
    page.more.schedule.setCurrentIndex(page.more.schedule.findData("cosine"))
    page.more.checkpointing.setChecked(True)
    page.preset.setCurrentIndex(page.preset.findData("style"))  # the preset sets the text encoder's LR
    spec = session.build_spec("x")
    assert (spec.epochs, spec.batch_size, spec.schedule, spec.gradient_checkpointing) == (
        3,
        2,
        "cosine",
        True,
    )
    assert spec.lr_text == 0.0 and spec.rank == 32


def test_export_a_run_train_it_elsewhere_and_import_the_result(qtbot, studio, tiny_sd, tmp_path):
    """Elsewhere ▸ Export run: a folder another machine trains with `studio train --resume`; Import result brings
    the LoRA back, ready to use."""
    import json
    import shutil

    from tests.cli.helpers import studio_here as cli

    page = studio.window.finetune_page
    session = page.session
    with qtbot.waitSignal(session.datasetChanged, timeout=30_000):
        session.add_pictures([str(photos(tmp_path / "pics", n=4))])
    page.trigger.setText("zwx")
    page.class_word.setText("disc")
    page.set_base_choices([("tiny", str(tiny_sd))])
    page.steps.setValue(2)
    page.rank.setValue(4)
    page.resolution.setValue(64)
    folder = tmp_path / "to-the-gpu-box"
    folder.mkdir()
    page.export_run(str(folder))
    assert page.status.text().startswith(f"Exported to {folder}.") and (folder / "RUN.txt").is_file()
    page.export_run(str(folder))
    assert "is not empty" in page.status.text()

    spec = json.loads((folder / "spec.json").read_text())
    assert spec["dataset"] == "dataset" and spec["out"].startswith("result/")  # nothing points back here
    assert len(list((folder / "dataset" / "images").glob("*.png"))) == 4
    base_there = tmp_path / "models-there" / "tiny"  # the other machine keeps the base model elsewhere
    shutil.copytree(tiny_sd, base_there)
    r = cli(
        "train",
        "--resume",
        str(folder),
        "--base",
        str(base_there),
        "--json",
        home=tmp_path / "gpu-box",
        timeout=300,
    )  # the other machine
    assert r.returncode == 0, r.stderr[-2000:]
    lines = [json.loads(x) for x in r.stdout.splitlines()]
    assert [x["step"] for x in lines if "loss" in x] == [1, 2]
    trained = Path(lines[-1]["path"])
    assert trained.parent == folder / "result" and trained.name.startswith("zwx-")
    studio.window.tabs.setCurrentWidget(page)
    studio.window.show()
    studio.window.resize(800, 560)  # short: the result lands below the training settings
    with qtbot.waitSignal(session.finished, timeout=10_000):
        page.import_result(str(folder))
    assert page.status.text().startswith("Imported ") and not page.use_btn.isHidden()
    qtbot.waitUntil(
        lambda: not page.use_btn.visibleRegion().isEmpty()
    )  # scrolled into view on a short window
    lora = Path(session.last.path)
    assert (
        lora.parent == session.loras_dir
        and lora.name == trained.name
        and lora.read_bytes() == trained.read_bytes()
    )


def test_the_hint_and_the_estimate_follow_the_pictures(qtbot, studio, tiny_sd, tmp_path):
    page = studio.window.finetune_page
    page.set_base_choices([("tiny", str(tiny_sd))])
    assert page.status.text().startswith("Add pictures")
    with qtbot.waitSignal(page.session.datasetChanged, timeout=30_000):
        page.session.add_pictures([str(photos(tmp_path / "pics", n=3))])
    assert page.status.text() == "Check the captions and the trigger word, then press Train."
    qtbot.waitUntil(lambda: bool(page.estimate.text()), timeout=5_000)  # without touching a setting
    page.trigger.setText("")
    page.trigger.editingFinished.emit()
    assert page.status.text().startswith("Choose a trigger word")  # what is missing


def test_use_it_in_the_image_panel_tries_the_lora_alone(qtbot, studio, tmp_path):
    lora = tmp_path / "zwx.safetensors"
    lora.write_bytes(b"not read here")
    s = studio.session
    s.set("prompt", "a castle <lora:ink:1>")
    s.set("loras", [[str(tmp_path / "other.safetensors"), 1.0]])
    studio.window.finetune_page.useLora.emit(str(lora), "zwx disc")
    assert s.value("loras") == [[str(lora), 0.8]] and s.value("prompt") == "a photo of zwx disc"
    assert studio.window.tabs.currentWidget() is studio.window.image_page


def test_the_caption_grid_shows_the_words_training_adds(qtbot, studio, tmp_path):
    page = studio.window.finetune_page
    with qtbot.waitSignal(page.session.datasetChanged, timeout=30_000):
        page.session.add_pictures([str(photos(tmp_path / "pics", n=2))])
    page.trigger.setText("zwx")
    page.class_word.setText("disc")
    page.trigger.editingFinished.emit()
    assert page.table.horizontalHeaderItem(1).text() == "Caption (trained as “zwx disc, …”)"
    page.table.item(0, 1).setText("a red disc on a table")
    page.refresh()
    assert page.table.item(0, 1).toolTip() == "Trained as: zwx disc, a red disc on a table"
    from PySide6.QtGui import QIcon

    shown = page.table.item(0, 0).icon()  # a selected row's picture keeps its colours (no tint)
    assert shown.pixmap(72, QIcon.Mode.Selected).toImage() == shown.pixmap(72).toImage()


def test_the_ab_grid_is_labelled_and_opens_large(qtbot, studio, tmp_path):
    from PIL import Image

    from studio.engine.sample_grids import labelled_grid

    red, blue = Image.new("RGB", (32, 32), "red"), Image.new("RGB", (32, 32), "blue")
    grid = labelled_grid([("Base model", [red, red]), ("With the LoRA, checkpoint 40", [blue, blue])])
    assert grid.size == (64, 2 * (32 + 22))
    band = grid.crop((0, 0, 64, 22))
    assert band.getextrema() != ((255, 255), (255, 255), (255, 255))  # the label is written on the grid
    assert grid.getpixel((5, 22 + 5)) == (255, 0, 0) and grid.getpixel((5, 54 + 22 + 5)) == (0, 0, 255)
    path = tmp_path / "ab.png"
    grid.save(path)
    page = studio.window.finetune_page
    page._samples(str(path))
    assert not page.open_samples_btn.isHidden()
    page.open_samples()
    assert page.samples_dialog.isVisible() and page.samples_dialog.windowTitle() == "ab.png"


def test_on_a_small_window_the_captions_come_before_the_crop_view(qtbot, studio):
    window, page = studio.window, studio.window.finetune_page
    window.tabs.setCurrentWidget(page)
    window.show()
    window.resize(1600, 1000)
    qtbot.waitUntil(lambda: page.crop_split.sizes()[1] >= 220)  # the crop view beside the captions
    for _ in range(4):
        window.resize(800, 560)
        qtbot.wait(20)
    assert page.crop_split.sizes()[1] == 0 and page.crop_split.sizes()[0] > 0
    window.resize(1600, 1000)
    qtbot.waitUntil(lambda: page.crop_split.sizes()[1] > 0)


def test_the_tag_editor_adds_and_removes_a_tag_on_many_pictures(qtbot, studio, tmp_path):
    page = studio.window.finetune_page
    session = page.session
    with qtbot.waitSignal(session.datasetChanged, timeout=30_000):
        session.add_pictures([str(photos(tmp_path / "pics", n=3))])
    for row, caption in enumerate(["red disc, grass", "red disc", "blue sky, grass"]):
        page.table.item(row, 1).setText(caption)
    page.table.selectRow(0)
    page.table.selectionModel().select(page.table.model().index(2, 0), page.table.selectionModel().SelectionFlag.Select
                                       | page.table.selectionModel().SelectionFlag.Rows)  # fmt: skip
    editor = page.captions.edit_tags()
    assert "2 selected pictures" in editor.scope.text()
    assert [editor.tags.item(i).text() for i in range(editor.tags.count())] == ["grass (2)", "blue sky (1)",
                                                                                "red disc (1)"]  # fmt: skip
    editor.tag.setText("outdoors")
    qtbot.mouseClick(editor.add_btn, Qt.MouseButton.LeftButton)
    assert [i.caption for i in session.dataset.images] == ["red disc, grass, outdoors", "red disc",
                                                           "blue sky, grass, outdoors"]  # fmt: skip
    assert "added to 2 captions" in editor.result.text()
    assert page.table.item(0, 1).text() == "red disc, grass, outdoors"  # the grid shows it
    page.table.clearSelection()
    editor.refresh()
    assert "all 3 pictures" in editor.scope.text()
    editor.tags.setCurrentRow(0)  # choosing a tag in the list fills it in
    assert editor.tag.text() == "grass"
    qtbot.mouseClick(editor.remove_btn, Qt.MouseButton.LeftButton)
    assert [i.caption for i in session.dataset.images] == [
        "red disc, outdoors",
        "red disc",
        "blue sky, outdoors",
    ]
    sidecar = session.dataset.path(session.dataset.images[2]).with_suffix(".txt").read_text()
    assert sidecar.endswith("blue sky, outdoors")  # what other trainers read follows


def test_a_mask_painted_with_the_brush_or_made_by_selecting_the_subject(qtbot, studio, home, tmp_path):
    from PIL import Image
    from PySide6.QtCore import QPointF
    from PySide6.QtGui import QColor, QImage, QPainter

    from tests.tiny_models import save_tiny_sam

    page = studio.window.finetune_page
    session = page.session
    with qtbot.waitSignal(session.datasetChanged, timeout=30_000):
        session.add_pictures([str(photos(tmp_path / "pics", n=2))])
    page.table.setCurrentCell(0, 1)
    tools = page.mask_tools
    qtbot.mouseClick(tools.select_btn, Qt.MouseButton.LeftButton)
    assert "Segment Anything" in tools.state.text()  # what to get, where the user looks
    with qtbot.waitSignal(session.masks.loaded, timeout=10_000):
        qtbot.mouseClick(tools.paint_btn, Qt.MouseButton.LeftButton)
    dialog = tools.dialog
    mask = QImage(dialog.canvas.mask().size(), QImage.Format.Format_Grayscale8)
    mask.fill(0)
    painter = QPainter(mask)
    painter.fillRect(
        0, 0, mask.width() // 2, mask.height(), QColor(255, 255, 255)
    )  # the left half is the subject
    painter.end()
    dialog.canvas.set_mask(mask)
    dialog.canvas._stroke(QPointF(mask.width() * 0.75, 10), QPointF(mask.width() * 0.75, 10))  # and one dab
    with qtbot.waitSignal(session.masks.changed, timeout=10_000):
        dialog._done(dialog.canvas.mask())
    img = session.dataset.images[0]
    with Image.open(session.dataset.folder / "masks" / img.mask) as saved:
        grey = saved.convert("L")
        assert grey.size == (img.width, img.height)
        assert (
            grey.getpixel((5, img.height // 2)) == 255 and grey.getpixel((img.width - 5, img.height - 5)) == 0
        )
    assert tools.state.text() == "Mask saved."
    view = page.focus_view  # the crop view shades the background the mask leaves out
    assert not view.background.isNull() and view.background.size() == view.image.size()
    assert (
        view.background.pixelColor(5, 20).alpha() == 0
        and view.background.pixelColor(view.image.width() - 5, view.image.height() - 5).alpha() == 255
    )
    save_tiny_sam(home / "models" / "segmenters" / "tiny-sam")
    library = studio.window.models_page.model
    library.rescan()
    qtbot.waitUntil(lambda: any(e.kind == "segmenter" for e in library.entries), timeout=30_000)
    page.table.setCurrentCell(1, 1)
    with qtbot.waitSignal(session.masks.changed, timeout=60_000):
        qtbot.mouseClick(tools.select_btn, Qt.MouseButton.LeftButton)
    assert "The subject is selected" in tools.state.text() and "counts 10%" in tools.state.text()
    second = session.dataset.images[1]
    with Image.open(session.dataset.folder / "masks" / second.mask) as made:
        assert made.size == (second.width, second.height)
