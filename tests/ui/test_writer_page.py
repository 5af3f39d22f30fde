"""The Writer room driven like a writer: continue at the cursor, stop, retry and flip alternatives, undo."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QTextCursor


def writer(studio, tiny_lm, **settings):
    page = studio.window.writer_page
    s = page.session
    s.set("model", str(tiny_lm))
    for k, v in {"seed": 5, "max_new_tokens": 12, **settings}.items():
        s.set(k, v)
    studio.window.tabs.setCurrentWidget(page)
    return page


def plain(text: str) -> str:
    """The editor keeps line breaks as \\n whatever the model wrote (\\r, \\r\\n)."""
    return text.replace("\r\n", "\n").replace("\r", "\n")


def type_story(qtbot, page, text):
    page.editor.setPlainText(text)
    cursor = page.editor.textCursor()
    cursor.movePosition(QTextCursor.MoveOperation.End)
    page.editor.setTextCursor(cursor)


def test_continue_streams_at_the_cursor_and_undo_restores_the_text(qtbot, studio, tiny_lm):
    page = writer(studio, tiny_lm)
    type_story(qtbot, page, "Once upon a time")
    results = []
    page.session.generationEnded.connect(lambda how, r: results.append((how, r)))
    pieces = []
    page.session.tokenArrived.connect(pieces.append)
    qtbot.keyClick(page.editor, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(lambda: bool(results), timeout=60_000)
    how, result = results[0]
    assert how == "finished" and result.text
    text = page.editor.toPlainText()
    assert text == plain("Once upon a time" + result.text) == plain("Once upon a time" + "".join(pieces))
    assert "tokens/s" in page.status.text()
    assert page.accept_btn.isEnabled() and not page.editor.isReadOnly()
    page.editor.undo()  # the whole generation is one undo step
    assert page.editor.toPlainText() == "Once upon a time"


def test_stop_keeps_what_was_written(qtbot, studio, tiny_lm):
    page = writer(studio, tiny_lm, max_new_tokens=100)
    type_story(qtbot, page, "The sea")
    ended = []
    page.session.generationEnded.connect(lambda how, r: ended.append(how))
    got = []

    def on_token(t):
        got.append(t)
        if len(got) == 3:
            qtbot.mouseClick(page.stop_btn, Qt.MouseButton.LeftButton)

    page.session.tokenArrived.connect(on_token)
    qtbot.mouseClick(page.continue_btn, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: bool(ended), timeout=60_000)
    assert ended == ["stopped"]
    assert page.editor.toPlainText() == plain("The sea" + "".join(got))
    assert "kept" in page.status.text()
    page.editor.undo()
    assert page.editor.toPlainText() == "The sea"


def test_retry_keeps_alternatives_to_flip_through_and_accept(qtbot, studio, tiny_lm):
    page = writer(studio, tiny_lm, seed=-1, temperature=1.5)
    type_story(qtbot, page, "Once upon a time")
    ended = []
    page.session.generationEnded.connect(lambda how, r: ended.append(r.text if r else None))
    page.continue_at_cursor()
    qtbot.waitUntil(lambda: len(ended) == 1, timeout=60_000)
    qtbot.mouseClick(page.retry_btn, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: len(ended) == 2, timeout=60_000)
    assert page.editor.toPlainText() == plain("Once upon a time" + ended[1])
    assert page.alt_label.text() == "2/2"
    qtbot.mouseClick(page.prev_btn, Qt.MouseButton.LeftButton)
    assert page.editor.toPlainText() == plain("Once upon a time" + ended[0])
    qtbot.mouseClick(page.accept_btn, Qt.MouseButton.LeftButton)
    assert not page.accept_btn.isEnabled() and page.alt_label.text() == ""


def test_retry_with_a_fixed_seed_writes_something_new_and_the_same_again_next_time(qtbot, studio, tiny_lm):
    page = writer(studio, tiny_lm, seed=5, temperature=1.5)
    ended = []
    page.session.generationEnded.connect(lambda how, r: ended.append(r.text if r else None))

    def first_two() -> tuple[str, str]:
        ended.clear()
        type_story(qtbot, page, "Once upon a time")
        page.continue_at_cursor()
        qtbot.waitUntil(lambda: len(ended) == 1, timeout=60_000)
        qtbot.mouseClick(page.retry_btn, Qt.MouseButton.LeftButton)
        qtbot.waitUntil(lambda: len(ended) == 2, timeout=60_000)
        return ended[0], ended[1]

    first, retried = first_two()
    assert retried != first  # a Retry never repeats the text it replaces
    qtbot.mouseClick(page.accept_btn, Qt.MouseButton.LeftButton)
    assert first_two() == (first, retried)  # the seed still makes it reproducible: the same two again


def test_documents_autosave_and_bad_model_is_explained(qtbot, studio, tiny_lm, tmp_path):
    page = writer(studio, tiny_lm)
    type_story(qtbot, page, "A line worth keeping.")
    assert page.save()
    assert page.path.read_text() == "A line worth keeping."
    page.session.set("model", str(tmp_path / "no-such-model"))
    ended = []
    page.session.generationEnded.connect(lambda how, r: ended.append((how, r)))
    page.continue_at_cursor()
    qtbot.waitUntil(lambda: bool(ended), timeout=30_000)
    assert ended[0][0] == "failed" and "does not exist" in page.status.text()
    assert page.editor.toPlainText() == "A line worth keeping." and not page.editor.isReadOnly()


def test_what_the_model_sees_counts_each_part(qtbot, studio, tiny_lm):
    page = writer(studio, tiny_lm, max_new_tokens=20)
    page.memory_edit.setPlainText("A tale of the sea.")
    page.note_edit.setPlainText("calm")
    type_story(qtbot, page, "The night was dark and the wind was cold. " * 30)  # longer than the 128 context
    got = []
    page.session.contextReady.connect(got.append)
    qtbot.mouseClick(page.sees_btn, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: bool(got), timeout=30_000)
    a = got[0]
    labels = [p.label for p in a.parts]
    assert labels == ["Memory", "Story", "Author's Note"]
    assert a.budget == 128 - 20 and a.total_tokens <= a.budget
    assert a.prompt.startswith("A tale of the sea.") and "[Author's note: calm]" in a.prompt
    assert a.dropped_chars > 0  # the oldest story went first
    assert f"{a.total_tokens} of its {a.budget} tokens" in page.status.text()


def test_illustrate_turns_the_selection_into_a_proposed_prompt(qtbot, studio, tiny_lm, monkeypatch):
    from studio.ui.image.prompt_proposal import PromptProposalDialog

    proposed: list[tuple[str, str]] = []

    def accept(dialog):
        proposed.append((dialog.windowTitle(), dialog.text()))
        return 1

    monkeypatch.setattr(PromptProposalDialog, "exec", accept)
    page = writer(studio, tiny_lm)
    type_story(qtbot, page, "She saw a lighthouse\nin the storm. Then she ran.")
    cursor = page.editor.textCursor()
    cursor.setPosition(8)
    cursor.setPosition(33, QTextCursor.MoveMode.KeepAnchor)
    page.editor.setTextCursor(cursor)
    qtbot.mouseClick(page.illustrate_btn, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: bool(proposed), timeout=60_000)  # the Writer's model wrote it
    assert proposed[0][0] == "A prompt for the passage"
    assert (
        studio.session.value("prompt") == proposed[0][1]
        and studio.session.value("idea") == "a lighthouse in the storm"
    )
    assert studio.window.tabs.currentWidget() is studio.window.image_page


def test_export_from_the_writer(qtbot, studio, tiny_lm, tmp_path):
    page = writer(studio, tiny_lm)
    type_story(qtbot, page, "# Title\n\nSome *words*.")
    with qtbot.waitSignal(page.exported, timeout=10_000):  # written off the GUI thread
        assert page.export_to(tmp_path / "out.txt") == tmp_path / "out.txt"
    assert (tmp_path / "out.txt").read_text() == "Title\n\nSome words.\n"
    assert page.export_to(tmp_path / "out.pdf") is None and "Could not export" in page.status.text()


def test_presets_builtin_and_saved(qtbot, studio, tiny_lm):
    page = writer(studio, tiny_lm)
    page.apply_preset("Focused")
    assert (page.session.value("temperature"), page.session.value("top_k")) == (0.5, 40)
    page._spins["temperature"].setValue(1.3)
    page.save_preset("Wild")
    assert "Wild" in page.presets.names()
    page.apply_preset("Balanced")
    assert page.session.value("temperature") == 0.8
    page.apply_preset("Wild")
    assert page.session.value("temperature") == 1.3
    page.save_preset("Balanced")
    assert "built-in" in page.status.text()


def test_lorebook_entries_reach_the_model_when_their_key_appears(qtbot, studio, tiny_lm):
    page = writer(studio, tiny_lm, max_new_tokens=20)
    page._add_lore_row("dragon, wyrm", "Dragons here breathe frost.")
    page._add_lore_row("castle", "The castle is ruined.")
    page._add_lore_row("Stir", "Stirring is loud.")
    page.lore.item(2, 3).setCheckState(Qt.CheckState.Checked)  # case: "Stir" is not "stirred"
    page._add_lore_row(r"far\s+away", "Far away is the north.")
    page.lore.cellWidget(3, 2).setCurrentIndex(1)  # a regular expression
    assert [(e["keys"], e["text"], e["match"], e["case"]) for e in page.session.value("lorebook")] == [
        ("dragon, wyrm", "Dragons here breathe frost.", "words", False),
        ("castle", "The castle is ruined.", "words", False),
        ("Stir", "Stirring is loud.", "words", True),
        (r"far\s+away", "Far away is the north.", "regex", False),
    ]
    type_story(qtbot, page, "Far away a wyrm stirred in the castles.")  # "castles" is not the word "castle"
    got = []
    page.session.contextReady.connect(got.append)
    page.show_context()
    qtbot.waitUntil(lambda: bool(got), timeout=30_000)
    assert "Dragons here breathe frost." in got[0].prompt and "castle is ruined" not in got[0].prompt
    assert "Far away is the north." in got[0].prompt and "Stirring" not in got[0].prompt
    assert [p.label for p in got[0].parts] == [
        "Memory",
        "Lorebook: dragon, wyrm",
        r"Lorebook: far\s+away",
        "Story",
    ]
    shown = page.context_box.summary.text()  # What the model sees says why each entry is in or out
    assert "included: “wyrm” found" in shown and "castle: left out: no key appears" in shown
    max_new = page.session.value("max_new_tokens")
    assert f"less the {max_new} kept for what it writes" in shown  # what the total is measured against
    parts = page.context_box.parts.toPlainText()  # each part apart, with its text
    assert "Memory · " in parts and "Story · " in parts and "Far away a wyrm stirred" in parts


def test_rewrite_selection_replaces_it_keeps_the_original_and_undoes_in_one_step(qtbot, studio, tiny_lm):
    page = writer(studio, tiny_lm, max_new_tokens=8)
    type_story(qtbot, page, "Before. The night was dark. After.")
    cursor = page.editor.textCursor()
    cursor.setPosition(8)
    cursor.setPosition(27, QTextCursor.MoveMode.KeepAnchor)
    page.editor.setTextCursor(cursor)
    page.instruction.setText("more menace")
    ended, notes = [], []
    page.session.generationEnded.connect(lambda how, r: ended.append(r))
    page.session.status.connect(notes.append)
    qtbot.mouseClick(page.rewrite_btn, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: bool(ended), timeout=60_000)
    new = ended[0].text
    assert page.editor.toPlainText() == plain("Before. " + new + " After.")
    assert any("no chat template" in n for n in notes)  # the tiny model is a base model: said so
    assert page.alt_label.text() == "2/2"
    qtbot.mouseClick(page.prev_btn, Qt.MouseButton.LeftButton)  # the original is the first alternative
    assert page.editor.toPlainText() == "Before. The night was dark. After."
    qtbot.mouseClick(page.next_btn, Qt.MouseButton.LeftButton)
    page.accept()
    page.editor.undo()  # accept
    page.editor.undo()  # flip back
    page.editor.undo()  # flip
    page.editor.undo()  # the rewrite with the removal of the passage: one step
    assert page.editor.toPlainText() == "Before. The night was dark. After."


def test_chat_pane_brainstorms_with_the_same_model(qtbot, studio, tiny_lm):
    page = writer(studio, tiny_lm, max_new_tokens=10)
    type_story(qtbot, page, "The manuscript stays as it is.")
    ended = []
    page.session.generationEnded.connect(lambda how, r: ended.append((how, r)))
    page.chat_input.setText("Name three ships")
    qtbot.keyClick(page.chat_input, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: bool(ended), timeout=60_000)
    assert ended[0][0] == "finished"
    assert [role for role, _ in page.chat_messages] == ["user", "assistant"]
    assert (
        "You: Name three ships" in page.chat_view.toPlainText() and "Model: " in page.chat_view.toPlainText()
    )
    assert page.editor.toPlainText() == "The manuscript stays as it is."  # the reply went to the chat only


def test_a_document_changed_by_another_program_is_never_overwritten_silently(
    qtbot, studio, tiny_lm, monkeypatch
):
    import os
    import time as _time

    from PySide6.QtWidgets import QMessageBox

    page = writer(studio, tiny_lm)
    type_story(qtbot, page, "Mine.")
    page.save()
    _time.sleep(0.01)
    page.path.write_text("Theirs.")
    os.utime(page.path, ns=(_time.time_ns(), _time.time_ns()))
    type_story(qtbot, page, "Mine, edited.")
    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: QMessageBox.StandardButton.No)
    original = page.path
    assert page.save()
    assert original.read_text() == "Theirs."  # theirs kept
    copies = [p for p in page.store.documents() if "(mine)" in p.name]
    assert copies and copies[0].read_text() == "Mine, edited."


def test_a_text_job_behind_an_image_batch_shows_as_queued(qtbot, studio, tiny_lm):
    from studio.viewmodels.job_queue import JobState

    page = writer(studio, tiny_lm)
    studio.session.set("batch_count", 3)
    studio.session.set("prompt", "a long batch")
    image_job = studio.session.generate()
    type_story(qtbot, page, "Meanwhile")
    page.continue_at_cursor()
    text_job = page.session.job_id
    rows = {r.id: r for r in studio.queue.rows()}
    assert rows[text_job].state is JobState.QUEUED and "text" in studio.queue.data(
        studio.queue.index(list(rows).index(text_job))
    )
    qtbot.waitUntil(lambda: studio.queue.row_of(text_job).state is JobState.DONE, timeout=120_000)
    assert studio.queue.row_of(image_job).state is JobState.DONE


def test_export_proposes_a_name_and_type_that_agree(qtbot, studio, tiny_lm, monkeypatch, tmp_path):
    from PySide6.QtWidgets import QFileDialog

    page = writer(studio, tiny_lm)
    asked = []
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a: asked.append(a) or ("", ""))
    page.export_to()
    _parent, _caption, proposed, _filters, chosen = asked[0]
    assert proposed.endswith(".docx") and chosen == "Word document (*.docx)"


def test_token_counts_come_with_the_text(qtbot, studio, tiny_lm):
    from studio.core.jobs.events import Token

    page = writer(studio, tiny_lm, max_new_tokens=20)
    type_story(qtbot, page, "Once upon a time")
    counts, results = [], []
    studio.bridge.arrived.connect(lambda ui: isinstance(ui.event, Token) and counts.append(ui.event.tokens))
    page.session.generationEnded.connect(lambda how, r: results.append(r))
    page.continue_at_cursor()
    qtbot.waitUntil(lambda: bool(results), timeout=60_000)
    assert counts == sorted(counts) and counts[-1] <= results[0].tokens and counts[-1] > len(counts) / 2


def test_one_undo_after_accept_takes_back_the_generation(qtbot, studio, tiny_lm):
    page = writer(studio, tiny_lm)
    type_story(qtbot, page, "Once upon a time")
    results = []
    page.session.generationEnded.connect(lambda how, r: results.append(r))
    page.continue_at_cursor()
    qtbot.waitUntil(lambda: bool(results), timeout=60_000)
    page.accept()
    page.editor.undo()
    assert page.editor.toPlainText() == "Once upon a time"


def test_a_lorebook_entry_can_be_read(qtbot, studio, tiny_lm):
    page = writer(studio, tiny_lm)
    page.side_tabs.setCurrentIndex(0)
    page._add_lore_row(
        "dragon", "Dragons here breathe frost and sleep under the northern glaciers for a century."
    )
    qtbot.wait(50)
    lore = page.settings_panel.lore
    widths = [lore.columnWidth(c) for c in range(lore.columnCount())]
    assert widths[1] == max(widths) and widths[1] >= lore.viewport().width() / 3  # the entry gets the room
    assert lore.rowHeight(0) > lore.fontMetrics().height() * 1.5  # wrapped: read in full


def test_documents_are_titled_renamed_duplicated_deleted_and_brought_back(qtbot, studio, tiny_lm):

    page = writer(studio, tiny_lm)
    path = page.new_document()
    page.editor.setPlainText("# The Lighthouse\n\nIt was dark.")
    page.save()
    page._load_documents()
    labels = [page.docs.item(i).text() for i in range(page.docs.count())]
    assert "The Lighthouse" in labels  # a new document shows its first heading
    page.doc.set_learning(True)  # something that lives beside it
    renamed = page.documents.rename(path, "Lighthouse keeper")
    assert renamed is not None and renamed.name == "Lighthouse keeper.md" and not path.exists()
    assert page.path == renamed and page.editor.toPlainText().startswith("# The Lighthouse")
    assert (renamed.parent / ".Lighthouse keeper.md.studio.json").is_file()  # its state followed it
    copy = page.documents.duplicate(renamed)
    assert copy.read_text() == renamed.read_text() and copy.stem == "Lighthouse keeper copy"
    page.documents.delete(renamed)
    assert not renamed.exists() and not page.undo_delete_btn.isHidden()
    assert "Lighthouse keeper" not in [page.docs.item(i).text() for i in range(page.docs.count())]
    back = page.documents.undo_delete()
    assert back == renamed and renamed.read_text().startswith("# The Lighthouse")
    assert (
        renamed.parent / ".Lighthouse keeper.md.studio.json"
    ).is_file() and page.undo_delete_btn.isHidden()
    assert page.documents.rename(renamed, "Lighthouse keeper copy") is None  # taken: said
    assert "already called" in page.status.text()


def test_the_writer_folds_its_documents_when_small_and_unfolds_them_when_large(qtbot, studio):
    window, page = studio.window, studio.window.writer_page
    window.tabs.setCurrentWidget(page)
    window.show()
    window.resize(1600, 1000)
    qtbot.waitUntil(lambda: page.split.sizes()[0] > 0)
    docs, _editor, side = page.split.sizes()
    assert docs >= 150 and side >= 380  # the documents listed, the settings' fields whole
    for _ in range(4):
        window.resize(800, 560)
        qtbot.wait(20)
    docs, editor, side = page.split.sizes()
    assert docs == 0 and editor > side  # the text comes first on a small window
    window.resize(1600, 1000)
    qtbot.waitUntil(lambda: page.split.sizes()[0] > 0)  # back when the room is there again
    page.split.setSizes([0, 1100, 420])  # folded by the user: stays folded
    window.resize(1500, 950)
    qtbot.wait(20)
    assert page.split.sizes()[0] == 0
