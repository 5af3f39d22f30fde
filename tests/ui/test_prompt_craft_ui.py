"""Prompt craft in the window: the editor colours the syntax, styles are chosen from a menu with the final prompt
shown, Enhance and Illustrate propose a prompt written by the Writer's model, Describe a captioner's, and Make
variations queues pictures near a result."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image
from PySide6.QtCore import QUrl
from PySide6.QtGui import QColor

from studio.viewmodels.job_queue import describe
from tests.ui.test_image_page import generate_with_keyboard, wait_result


def formats_at(editor, text):
    editor.setPlainText(text)
    layout = editor.document().firstBlock().layout()
    return {(r.start, r.length): r.format.foreground().color().name() for r in layout.formats()}


def test_the_editor_colours_prompt_craft(qtbot, studio):
    editor = studio.window.image_page.prompt_panel.prompt
    text = "a {red|blue} __colours/warm__ [cat:dog:0.5] (x:1.2) [p|q]"
    found = formats_at(editor, text)
    assert found[(text.index("{"), len("{red|blue}"))] == QColor("#c2417a").name()
    assert found[(text.index("__"), len("__colours/warm__"))] == QColor("#c2417a").name()
    assert found[(text.index("[cat"), len("[cat:dog:0.5]"))] == QColor("#2f80d1").name()
    assert found[(text.index("[p|q]"), len("[p|q]"))] == QColor("#2f80d1").name()


def test_styles_from_the_menu_show_the_final_prompt_and_reach_the_recipe(qtbot, studio):
    panel = studio.window.image_page.prompt_panel
    panel._fill_styles(studio.session)
    actions = {a.text(): a for a in panel.styles.menu().actions()}
    assert "Watercolour" in actions and any(t.startswith("Import styles") for t in actions)
    studio.session.set("prompt", "a harbour")
    actions["Watercolour"].setChecked(True)
    assert panel.styles.text() == "Styles (1)"
    assert (
        panel.styled.text()
        == "Watercolour → watercolour painting of a harbour, soft washes, paper texture, loose edges"
    )
    studio.session.set("prompt", "")
    generate_with_keyboard(qtbot, studio, "a lighthouse")
    wait_result(qtbot, studio.window.image_page)
    with Image.open(studio.window.image_page.result_view.path()) as im:
        assert im.info["parameters"].startswith("watercolour painting of a lighthouse, soft washes")
        assert "Styles: Watercolour" in im.info["parameters"]


def accept_proposals(monkeypatch, seen):
    from studio.ui.image.prompt_proposal import PromptProposalDialog

    def run(dialog):
        seen.append(dialog.text())
        dialog.editor.setPlainText(dialog.text() + ", edited")
        return 1

    monkeypatch.setattr(PromptProposalDialog, "exec", run)


def test_enhance_and_illustrate_propose_a_prompt_to_edit(qtbot, studio, monkeypatch):
    seen: list[str] = []
    accept_proposals(monkeypatch, seen)
    # a fixed seed: with a random one the small built-in model sometimes writes nothing usable (said, not proposed)
    monkeypatch.setattr("studio.viewmodels.prompt_helper.random_seed", lambda: 7)
    studio.session.set("prompt", "a lighthouse at dusk")
    studio.window.image_page.prompt_panel.enhance.click()
    qtbot.waitUntil(lambda: bool(seen), timeout=60_000)
    assert seen[0] and "\n" not in seen[0]
    assert studio.session.value("prompt") == seen[0] + ", edited"
    assert studio.session.value("idea") == "a lighthouse at dusk"
    studio.window.writer_page.illustrateRequested.emit("The ship came in at dawn, its sails torn.")
    qtbot.waitUntil(lambda: len(seen) == 2, timeout=60_000)
    assert studio.session.value("idea") == "The ship came in at dawn, its sails torn."
    assert studio.window.tabs.currentWidget() is studio.window.image_page
    studio.session.generate()
    wait_result(qtbot, studio.window.image_page)
    with Image.open(studio.window.image_page.result_view.path()) as im:
        assert im.info["parameters"].startswith(seen[1] + ", edited\n")
        assert 'Idea: "The ship came in at dawn, its sails torn."' in im.info["parameters"]
    studio.session.set("prompt", "")  # a new prompt from scratch: the idea goes with the old one
    assert studio.session.value("idea") == ""


def test_describe_a_result_with_the_captioner(qtbot, studio, monkeypatch):
    from tests.tiny_models import save_tiny_captioner

    seen: list[str] = []
    accept_proposals(monkeypatch, seen)
    generate_with_keyboard(qtbot, studio)
    wait_result(qtbot, studio.window.image_page)
    qtbot.waitUntil(lambda: not studio.queue.busy)
    path = studio.window.image_page.result_view.path()
    assert studio.window.describe(path) is None  # no captioner yet: said where the user looks
    assert "captioning model" in studio.window.statusBar().currentMessage()
    save_tiny_captioner(studio.runtime.paths.models_dir / "tiny-blip")
    library = studio.window.models_page.model
    library.rescan()
    qtbot.waitUntil(lambda: any(e.kind == "captioner" for e in library.entries), timeout=20_000)
    assert studio.window.describe(path)
    qtbot.waitUntil(lambda: bool(seen), timeout=60_000)
    assert "photo of a" in seen[0] and studio.session.value("prompt") == seen[0] + ", edited"


def test_make_variations_of_a_result(qtbot, studio):
    generate_with_keyboard(qtbot, studio)
    page = studio.window.image_page
    wait_result(qtbot, page)
    qtbot.waitUntil(lambda: not studio.queue.busy)
    first = page.result_view.path()
    made: list[str] = []
    studio.queue.resultReady.connect(lambda _img, p: made.append(p))
    page.variations.click()
    qtbot.waitUntil(lambda: len(made) == 4, timeout=60_000)
    seed = Image.open(first).info["parameters"].split("Seed: ")[1].split(",")[0]
    for p in made:
        params = Image.open(p).info["parameters"]
        assert f"Seed: {seed}," in params and "Variation seed strength: 0.25" in params
    assert len({Path(p).read_bytes() for p in made}) == 4


def test_a_prompt_read_differently_is_said_under_the_canvas(qtbot, studio):
    page = studio.window.image_page
    generate_with_keyboard(qtbot, studio, "a [red circle:green:2 on blue")
    wait_result(qtbot, page)
    qtbot.waitUntil(lambda: page.notes.isVisible(), timeout=10_000)
    assert "The [ at character 3 is never closed; it is read as text." in page.notes.text()
    studio.session.set("prompt", "")
    generate_with_keyboard(qtbot, studio, "a red circle")
    assert not page.notes.isVisible()


def test_the_token_counter_and_the_tokens(qtbot, studio, monkeypatch):
    from studio.ui.image.tokens_dialog import TokensDialog

    panel = studio.window.image_page.prompt_panel
    studio.session.set("prompt", "a (red:1.3) circle BREAK on blue")
    studio.session.set("negative_prompt", "")
    qtbot.waitUntil(lambda: panel.token_count.text() == "5/150 · 0/75", timeout=5000)
    shown: list[str] = []
    dialogs: list[TokensDialog] = []
    monkeypatch.setattr(
        TokensDialog, "exec", lambda d: shown.append(d.view.toPlainText()) or dialogs.append(d) or 0
    )
    panel.token_count.click()
    assert "Prompt: 5 tokens" in shown[0] and "Chunk 2" in shown[0] and "red×1.3" in shown[0]
    # a word is a link: its nearest words in the text encoder's embedding space
    d = dialogs[0]
    assert 'href="word:red"' in d.view.toHtml()
    d.view.anchorClicked.emit(QUrl("word:red"))
    qtbot.waitUntil(lambda: "→" in d.near.text(), timeout=10_000)
    expected = studio.session.prompts.word_neighbours("red")
    assert d.word.text() == "red" and expected and f"{expected[0][0]} " in d.near.text()
    studio.session.prompts.toggle_style(
        "Photograph", True
    )  # styles count too: the model reads the styled prompt
    qtbot.waitUntil(lambda: not panel.token_count.text().startswith("5/"), timeout=5000)


def test_the_filmstrip_of_a_result(qtbot, studio, monkeypatch, tmp_path):
    from studio.ui.image.filmstrip_dialog import FilmstripDialog

    page = studio.window.image_page
    generate_with_keyboard(qtbot, studio)
    wait_result(qtbot, page)
    qtbot.waitUntil(lambda: not studio.queue.busy)
    plain = page.result_view.path()
    seen: list[FilmstripDialog] = []

    def ask_for_it(dialog):
        seen.append(dialog)
        assert not dialog.frames and not dialog.make.isHidden()
        dialog._make()
        return 1

    monkeypatch.setattr(FilmstripDialog, "exec", ask_for_it)
    pictures = sorted(studio.runtime.paths.gallery_dir.rglob("*.png"))
    shown: list[FilmstripDialog] = []
    monkeypatch.setattr(FilmstripDialog, "show", lambda d: shown.append(d))
    page.steps.click()  # made without one: its steps are recorded by making it again (same recipe, same seed)
    qtbot.waitUntil(lambda: bool(shown), timeout=60_000)
    dialog = shown[0]
    assert dialog.path.parent == Path(plain).parent and Path(dialog.path.name).suffix == ".webp"
    assert (
        sorted(studio.runtime.paths.gallery_dir.rglob("*.png")) == pictures
    )  # no second copy in the gallery
    assert page.result_view.path() == plain
    assert len(dialog.frames) == 4 and dialog.slider.maximum() == 4
    # its last frame is the picture itself: the saved one is that picture with Studio's watermark in it
    from studio.provenance import watermark

    last = np.asarray(watermark.embed(dialog.frames[-1].convert("RGB")), float)
    saved = np.asarray(Image.open(plain).convert("RGB"), float)
    assert last.shape == saved.shape and np.abs(last - saved).mean() < 0.5
    row = studio.queue.rows()[-1]
    assert row.state.value == "Done" and "not added to the gallery" in describe(row.spec)
    dialog.slider.setValue(1)
    assert dialog.caption.text() == "Step 1 of 4: what the model predicts the picture will be"
    monkeypatch.setattr("studio.ui.image.filmstrip_dialog.QFileDialog.getSaveFileName",
                        lambda *a, **k: (str(tmp_path / "strip.png"), ""))  # fmt: skip
    dialog._export("strip")
    assert Image.open(tmp_path / "strip.png").height == 128
    assert studio.window.image_page.parameters.filmstrip.text() == "Denoising filmstrip"


def test_an_xyz_plot_from_the_generate_menu(qtbot, studio, monkeypatch):
    from studio.ui.image.plot_dialog import PlotDialog

    def fill(dialog):
        dialog.values[0].setText("1, 2")
        dialog.fields[1].setCurrentIndex(dialog.fields[1].findData("steps"))
        dialog.values[1].setText("2, 3")
        dialog.fields[2].setCurrentIndex(dialog.fields[2].findData("nonsense"))  # not there: stays as it was
        dialog.submit()
        return 1 if dialog.job else 0

    monkeypatch.setattr(PlotDialog, "exec", fill)
    studio.session.set("prompt", "a red circle")
    made: list[str] = []
    studio.queue.resultReady.connect(lambda _img, p: made.append(p))
    action = next(
        a for a in studio.window.menuBar().actions()[1].menu().actions() if a.text() == "X/Y/Z plot…"
    )
    action.trigger()
    qtbot.waitUntil(lambda: len(made) == 5, timeout=60_000)  # 2 × 2 cells, then the grid
    grid = Image.open(made[-1])
    assert 'X Values: "1, 2"' in grid.info["parameters"] and 'Y Values: "2, 3"' in grid.info["parameters"]
    assert grid.width > 2 * 64 and grid.height > 2 * 64
    dialog = PlotDialog(studio.session)
    dialog.values[0].setText("1, 2")
    dialog.fields[1].setCurrentIndex(dialog.fields[1].findData("steps"))
    dialog.values[1].setText("1-900:2")
    dialog.submit()
    assert dialog.job is None and "steps=900" in dialog.error.text()


def test_where_each_word_acts_from_a_result(qtbot, studio, monkeypatch):
    from studio.ui.image.attention_dialog import AttentionMaps, WordChooser, prompt_words

    words = prompt_words("a (red:1.3) circle <lora:x:0.5> BREAK on blue, 8k")
    assert words == ["a", "red", "circle", "on", "blue"]
    page = studio.window.image_page
    generate_with_keyboard(qtbot, studio, "a red circle on a blue background")
    wait_result(qtbot, page)
    qtbot.waitUntil(lambda: not studio.queue.busy)

    def choose(dialog):
        for i in range(dialog.words.count()):
            dialog.words.item(i).setSelected(dialog.words.item(i).text() in ("red", "background"))
        return 1

    shown: list[list[str]] = []
    monkeypatch.setattr(WordChooser, "exec", choose)
    monkeypatch.setattr(AttentionMaps, "exec", lambda d: shown.append(d.shown) or 0)
    pictures = sorted(studio.runtime.paths.gallery_dir.rglob("*.png"))
    page.words.click()
    qtbot.waitUntil(lambda: bool(shown), timeout=60_000)
    assert shown[0] == ["red", "background"]
    assert sorted(studio.runtime.paths.gallery_dir.rglob("*.png")) == pictures  # made again, not saved again
    assert describe(studio.queue.rows()[-1].spec).startswith("Where the words act: red, background")
