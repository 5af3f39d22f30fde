"""A story keeps what belongs to it: Memory, Note, Lorebook and sampling follow the document; its branches survive
switching documents and restarting; token probabilities show and branch."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from PySide6.QtCore import QPoint, Qt

from studio.core.text.story_state import state_path
from tests.ui.test_writer_page import type_story, writer


def generate(qtbot, page, how="continue"):
    ended = []
    page.session.generationEnded.connect(lambda h, r: ended.append(r))
    {"continue": page.continue_at_cursor, "retry": page.retry}[how]()
    qtbot.waitUntil(lambda: bool(ended), timeout=60_000)
    return ended[0]


def reopen(qtbot, studio, home):
    from studio.app import create_window
    from studio.runtime import build_runtime

    studio.window.close()
    again = create_window(build_runtime(home))
    qtbot.addWidget(again.window)
    return again


def test_settings_follow_the_document_and_branches_survive_a_restart(qtbot, studio, tiny_lm, home):
    page = writer(studio, tiny_lm, max_new_tokens=6)
    first = page.path
    page.memory_edit.setPlainText("A fox who lies.")
    page._add_lore_row("fox", "Foxes lie.")
    page.session.set("temperature", 1.4)
    type_story(qtbot, page, "Once upon a time")
    one = generate(qtbot, page)
    two = generate(qtbot, page, "retry")
    assert page.alt_label.text() == "2/2"
    assert [label.split(": ", 1)[0] for _, label in page.branches.items()] == ["Continued", "Retry"]

    second = page.new_document("Other")  # a new story starts without the last one's Memory and Lorebook
    assert page.memory_edit.toPlainText() == "" and page.lore.rowCount() == 0
    assert page.session.value("temperature") == 1.4  # sampling carries over to a new story
    page.memory_edit.setPlainText("A second story.")
    page.session.set("temperature", 0.3)
    page.open(first)
    assert page.memory_edit.toPlainText() == "A fox who lies." and page.lore.item(0, 1).text() == "Foxes lie."
    assert page.session.value("temperature") == 1.4
    assert page.alt_label.text() == "2/2" and page.editor.toPlainText().endswith(two.text.replace("\r", "\n"))
    page.open(second)
    assert page.memory_edit.toPlainText() == "A second story." and page.session.value("temperature") == 0.3
    page.open(first)

    saved = json.loads(state_path(first).read_text())
    assert saved["settings"]["memory"] == "A fox who lies." and len(saved["tree"]["nodes"]) == 2

    again = reopen(qtbot, studio, home)
    try:
        page2 = again.window.writer_page
        page2.open(first)
        assert page2.memory_edit.toPlainText() == "A fox who lies."
        assert page2.session.value("temperature") == 1.4
        assert len(page2.branches.items()) == 2 and page2.alt_label.text() == "2/2"
        qtbot.mouseClick(page2.prev_btn, Qt.MouseButton.LeftButton)  # the first generation is back in place
        assert page2.editor.toPlainText() == "Once upon a time" + one.text.replace("\r", "\n")
        first_id = page2.branches.items()[0][0]
        assert page2.doc.tree.active == first_id
        page2.editor.undo()  # choosing a branch is one undo step
        assert page2.editor.toPlainText().endswith(two.text.replace("\r", "\n"))
    finally:
        again.runtime.close(5)
        again.runtime.unsubscribe(again.bridge.post)


def test_token_probabilities_colour_the_text_and_an_alternative_starts_a_branch(qtbot, studio, tiny_lm):
    page = writer(studio, tiny_lm, max_new_tokens=8, logprobs=4)
    type_story(qtbot, page, "The sea")
    result = generate(qtbot, page)
    assert len(result.probs) == result.tokens and all(len(p.alternatives) == 4 for p in result.probs)
    page.probs_btn.setChecked(True)
    spans = page.doc.token_spans()
    assert len(spans) >= 2 and len(page.editor.extraSelections()) == len(spans)
    start, end, prob, index = spans[1]
    menu = page.alternatives_menu(index, prob)
    choices = [a.text() for a in menu.actions() if a.isEnabled() and not a.isSeparator()]
    other = next(t for t, _ in prob.alternatives if t != prob.text)
    assert any(f"“{other}”" in c and "%" in c for c in choices)

    rect = page.editor.cursorRect(page.editor.textCursor())  # a click on the token opens the same menu
    cursor = page.editor.textCursor()
    cursor.setPosition(start + 1 if end - start > 1 else start)
    rect = page.editor.cursorRect(cursor)
    qtbot.mouseClick(
        page.editor.viewport(), Qt.MouseButton.LeftButton, pos=QPoint(rect.x() + 1, rect.center().y())
    )
    assert page.alternatives_popup.isVisible()
    page.alternatives_popup.close()

    ended = []
    page.session.generationEnded.connect(lambda h, r: ended.append(r))
    page.branch_from_token(index, other, -1.0)
    qtbot.waitUntil(lambda: bool(ended), timeout=60_000)
    kept = page.doc.text[len("The sea") :]
    written_before = result.text[: spans[1][0] - len("The sea")]
    assert kept.startswith(written_before + other)
    node = page.doc.current
    assert node.kind == "token" and node.text == kept and len(page.doc.alternatives) == 2
    assert node.probs[index].text == other and node.probs[0] == result.probs[0]


def test_export_with_the_story_state_carries_it_to_another_studio(qtbot, studio, tiny_lm, tmp_path):
    from studio.core.text.story_state import read_state

    page = writer(studio, tiny_lm, max_new_tokens=4)
    page.memory_edit.setPlainText("Exported memory.")
    type_story(qtbot, page, "A tale")
    generate(qtbot, page)
    with qtbot.waitSignal(page.exported, timeout=10_000):
        plain_copy = page.export_to(tmp_path / "plain.md")
    assert plain_copy.exists() and not (tmp_path / "plain.md.studio.json").exists()
    with qtbot.waitSignal(page.exported, timeout=10_000):
        out = page.export_to(tmp_path / "tale.md", with_state=True)
    assert "with its settings and branches in tale.md.studio.json" in page.status.text()
    state, problem = read_state(out)  # a Studio opening tale.md finds its state beside it
    assert problem == "" and state.settings["memory"] == "Exported memory." and len(state.tree.nodes) == 1


def test_the_models_room_tells_a_text_models_memory_and_lists_gguf_files(qtbot, studio, tmp_path):
    import shutil

    from studio.core.models.memory_plan import GB, DeviceInfo
    from studio.ui.models.models_page import text_memory_text
    from tests.tiny_models import save_tiny_gguf, save_tiny_lm

    models = studio.runtime.paths.models_dir
    folder = save_tiny_lm(models / "lm", context=1024)
    pytest.importorskip("gguf")
    save_tiny_gguf(folder, models / "tiny.gguf")
    shutil.rmtree(folder)
    library = studio.window.models_page.model
    library.rescan()
    qtbot.waitUntil(lambda: any(e.path.name == "tiny.gguf" for e in library.entries), timeout=30_000)
    entry = next(e for e in library.entries if e.path.name == "tiny.gguf")
    assert entry.kind == "text" and "GGUF language model (gpt2, F32)" in entry.label

    from studio.core.models.model_library import LibraryEntry

    storyteller = LibraryEntry(Path("resources/models/storyteller"), "storyteller", "x", "text")
    roomy = DeviceInfo("cpu", "CPU", 16 * GB, 8 * GB, "float32")
    assert text_memory_text(storyteller, roomy) == (
        "Memory: 4.3 M parameters, 16 MB of weights — fits in this machine's memory."
    )
    tight = DeviceInfo("cpu", "CPU", 16 * GB, int((0.5 * GB + 10 * 2**20) / 0.85), "float32")
    assert "would not fit" in text_memory_text(storyteller, tight) and "int8 weight-only" in text_memory_text(
        storyteller, tight
    )
