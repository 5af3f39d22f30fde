"""The Fine-tune room: a dataset from generated pictures, a caption edited, training started, the loss curve
growing, cancelled."""

from __future__ import annotations

from PySide6.QtCore import Qt

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
    assert session.dataset.path(session.dataset.images[1]).with_suffix(".txt").read_text() \
        .endswith("a red disc on a table")
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
    with qtbot.waitSignal(session.stopped, timeout=60_000) as stopped:
        qtbot.mouseClick(page.cancel_btn, Qt.MouseButton.LeftButton)
    assert stopped.args == ["cancelled"]
    assert page.start_btn.isEnabled() and "Cancelled" in page.status.text()
    assert len(session.curve.losses) < 300


def test_an_empty_dataset_says_what_to_do(qtbot, studio):
    page = studio.window.finetune_page
    qtbot.mouseClick(page.start_btn, Qt.MouseButton.LeftButton)
    assert "empty" in page.status.text() and page.start_btn.isEnabled()
