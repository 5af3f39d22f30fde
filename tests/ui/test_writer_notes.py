"""The Writer's notes by meaning, in the window: a notes folder chosen in the settings pane is read (and re-read
when a note changes), and *What the model sees* puts the note that is about the passage in — with its similarity
and the reason — and leaves the others out; banned phrases and bias are edited one per line."""

from __future__ import annotations

from PySide6.QtCore import Qt

from tests.ui.test_writer_page import type_story, writer


def test_notes_go_in_by_meaning_and_what_the_model_sees_says_why(qtbot, studio, tiny_lm, tmp_path):
    notes = tmp_path / "notes"
    notes.mkdir()
    (notes / "Ilse.md").write_text("The keeper's daughter is named Ilse and she fears the sea.")
    (notes / "tax.md").write_text("Tax law in the republic changed in 1901, and the merchants protested.")
    page = writer(studio, tiny_lm, max_new_tokens=10)
    pane = next(w for w in page.findChildren(object) if type(w).__name__ == "WriterSettings")
    with qtbot.waitSignal(page.session.notes.changed, timeout=10_000):
        pane.notes_row.choose(str(notes))
    assert pane.notes_row.label.text() == "notes: 2 passages"
    type_story(qtbot, page, "The keeper's daughter walked down to the water.")
    got = []
    page.session.contextReady.connect(got.append)
    qtbot.mouseClick(page.sees_btn, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: bool(got), timeout=60_000)
    labels = [p.label for p in got[0].parts if p.text]
    assert labels[0].startswith("Note: Ilse (similarity 0.") and labels[-1] == "Story"
    assert {d.note.title: d.included for d in got[0].note_choices} == {"Ilse": True, "tax": False}
    # a note written in another program is seen without asking
    with qtbot.waitSignal(page.session.notes.changed, timeout=10_000):
        (notes / "lamp.md").write_text("The lamp must be trimmed every night.")
    assert pane.notes_row.label.text() == "notes: 3 passages"
    # the story keeps its notes folder
    assert page.session.value("notes_folder") == str(notes)


def test_banned_phrases_and_bias_are_edited_one_per_line(qtbot, studio, tiny_lm):
    page = writer(studio, tiny_lm)
    pane = next(w for w in page.findChildren(object) if type(w).__name__ == "WriterSettings")
    pane.banned_edit.setPlainText("a tapestry of\nshivers down")
    pane.bias_edit.setPlainText("sea:5\n")
    spec = page.session.build_spec("Once upon a time")
    assert spec.banned == ("a tapestry of", "shivers down") and spec.bias == ("sea:5",)


def test_instruct_mode_and_its_system_prompt_go_into_the_recipe(qtbot, studio, tiny_lm):
    page = writer(studio, tiny_lm)
    pane = next(w for w in page.findChildren(object) if type(w).__name__ == "WriterSettings")
    pane.instruct_box.setChecked(True)
    pane.system_edit.setPlainText("You write gothic fiction.")
    spec = page.session.build_spec("The keeper climbed.")
    assert spec.instruct and spec.system == "You write gothic fiction." and spec.instruct_format == "auto"
