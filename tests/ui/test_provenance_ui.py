"""Provenance in the window: the Gallery's *Content credentials* panel says what a picture's credentials say, and
a picture changed since it was signed gets a badge in the grid; a newly chosen model's card limits are shown
before its first use, once."""

from __future__ import annotations

import shutil

from PySide6.QtWidgets import QMessageBox

from studio.core.image.content_claim import Verdict
from studio.viewmodels.gallery_model import CredentialsRole
from tests.provenance.helpers import one_pixel_changed
from tests.ui.test_gallery_page import fill_gallery

CARD = """---
license: openrail
---
# Tiny SD

A model for tests.

## Uses

### Out-of-Scope Use

It must not be used to depict real people.

## Limitations and Bias

It cannot render legible text. It was trained on a narrow set of pictures.

## Training

Nothing of note.
"""


def test_the_gallery_shows_content_credentials_and_badges_an_altered_picture(qtbot, studio):
    page, items = fill_gallery(studio, ["a red circle", "a blue square"])
    grid = page.grid
    index = page.model.index_of_rel(studio.runtime.gallery.rel(items[0].path))
    grid.setCurrentIndex(index)
    label = page.viewer.credentials
    qtbot.waitUntil(lambda: "Intact" in label.text(), timeout=10_000)
    assert "Content credentials" in label.text() and "Made by: Studio" in label.text()
    assert "trusted by this installation" in label.text()
    assert page.model.data(index, CredentialsRole) == Verdict.INTACT
    # the other picture is changed behind Studio's back (its manifest kept): the panel and the grid say so
    altered = items[1].path
    altered.write_bytes(one_pixel_changed(altered.read_bytes()))
    other = page.model.index_of_rel(studio.runtime.gallery.rel(altered))
    grid.setCurrentIndex(other)
    qtbot.waitUntil(lambda: "Altered" in label.text(), timeout=10_000)
    assert page.model.data(other, CredentialsRole) == Verdict.ALTERED
    grid.viewport().repaint()  # the badge is painted (the delegate reads the verdict)


def test_a_models_limits_are_shown_before_its_first_use_once(qtbot, studio, tiny_sd, tmp_path):
    carded = tmp_path / "carded-sd"
    shutil.copytree(tiny_sd, carded)
    (carded / "README.md").write_text(CARD)
    cards = studio.session.cards
    with qtbot.waitSignal(cards.toRead, timeout=10_000) as told:
        studio.session.choose_model(str(carded))
    model, text = told.args
    assert model == str(carded)
    assert "must not be used to depict real people" in text and "cannot render legible text" in text
    assert "Nothing of note" not in text
    box = studio.window.image_page.findChild(QMessageBox, "modelLimits")
    qtbot.waitUntil(lambda: box is not None and box.isVisible())
    assert "depict real people" in box.text()
    read = next(b for b in box.buttons() if b.text() == "I have read this")
    read.click()
    assert cards.seen == [str(carded)] and studio.runtime.settings.model_cards_seen == [str(carded)]
    studio.session.choose_model(str(tiny_sd))
    with qtbot.assertNotEmitted(cards.toRead, wait=500):
        studio.session.choose_model(str(carded))


def test_exports_in_other_formats_and_without_metadata_are_signed_as_such(qtbot, studio, tmp_path):
    from studio.core.image.recipe_readers import read_recipe
    from studio.provenance.verify import verify

    page, items = fill_gallery(studio, ["a red circle"])
    page.grid.setCurrentIndex(page.model.index_of_rel(studio.runtime.gallery.rel(items[0].path)))
    anchors = studio.runtime.sealer.anchors()
    for fmt, suffix in (("jpeg", ".jpg"), ("webp", ".webp")):
        out = tmp_path / fmt
        out.mkdir()
        with qtbot.waitSignal(page.actions.exported, timeout=10_000):
            assert page.export_selected(str(out), True, fmt)
        (copy,) = out.iterdir()
        assert copy.suffix == suffix and read_recipe(copy).prompt == "a red circle"  # A1111's EXIF comment
        report = verify(copy, anchors)
        assert report.verdict == 0 and report.action == "c2pa.transcoded" and report.model
        assert [(i.title, i.relationship, i.state) for i in report.ingredients] == [
            (items[0].path.name, "parentOf", "signed")
        ]
    bare = tmp_path / "bare"
    bare.mkdir()
    with qtbot.waitSignal(page.actions.exported, timeout=10_000):
        assert page.export_selected(str(bare), False)
    (copy,) = bare.iterdir()
    assert read_recipe(copy).prompt == ""  # pixels only: no prompt, no settings
    report = verify(copy, anchors)
    assert report.verdict == 0 and report.recipe_kept_private and not report.model and not report.ingredients
    assert report.source_type.endswith("trainedAlgorithmicMedia")  # still marked as made by a model


def test_the_settings_dialog_switches_the_watermark_and_chooses_a_filter_model(qtbot, studio, tmp_path):
    from PIL import Image

    from studio.provenance import watermark
    from tests.ui.test_image_page import generate_with_keyboard, wait_result

    dialog = studio.window.open_settings()
    group = dialog.provenance
    assert group.checks["content_credentials"].isChecked() and group.checks["watermark"].isChecked()
    assert not group.checks["content_filter"].isChecked() and "none chosen" in group.filter_model.text()
    group.checks["watermark"].click()
    assert studio.runtime.settings.watermark is False
    group.choose_filter_model(str(tmp_path / "nsfw-detector"))
    assert studio.runtime.settings.content_filter_model.endswith("nsfw-detector")
    assert group.filter_model.text() == "nsfw-detector"
    dialog.close()
    generate_with_keyboard(qtbot, studio)  # the next picture follows the setting at once
    wait_result(qtbot, studio.window.image_page)
    with Image.open(studio.window.image_page.result_view.path()) as saved:
        assert not watermark.read(saved).found
