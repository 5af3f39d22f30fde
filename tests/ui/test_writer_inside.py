"""The Writer's Inside tab driven like a curious writer: the next token at the cursor and what the sampler makes of
it, the same start at three temperatures, and which earlier words a token looked at."""

from __future__ import annotations

import math

from PySide6.QtCore import Qt

from studio.core.text.next_token import after_sampling
from tests.ui.test_writer_page import type_story, writer


def test_next_token_list_follows_the_sampler_settings(qtbot, studio, tiny_lm):
    page = writer(studio, tiny_lm, temperature=1.0, top_k=0, top_p=1.0, min_p=0.0)
    inside = page.inside
    page.side_tabs.setCurrentWidget(inside)
    type_story(qtbot, page, "Once upon a time there was a small")
    qtbot.mouseClick(inside.next_btn, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: inside.table.rowCount() == 20, timeout=60_000)
    rows = inside.rows()
    model = [float(r[1].rstrip("%")) for r in rows if r[1] != "<0.1%"]
    assert model == sorted(model, reverse=True)  # ranked
    assert rows[0][1] == rows[0][2]  # temperature 1 and no cut-off: what the model says is what is sampled
    candidates = inside._candidates
    assert len(candidates) == 200 and math.isclose(
        sum(math.exp(lp) for _, lp in candidates), 1.0, abs_tol=0.05
    )

    page.session.set("top_k", 3)  # a setting moves: the last column follows, without asking the model again
    rows = inside.rows()
    assert all(r[2] == "0.0%" for r in rows[3:]) and all(r[2] != "0.0%" for r in rows[:3])
    assert "top-k 3" in inside.settings_line.text()
    expected = after_sampling([lp for _, lp in candidates], 1.0, 3, 1.0, 0.0)
    assert rows[0][2] == f"{expected[0]:.1%}"

    page.session.set("temperature", 0.0)  # greedy: the likeliest gets everything
    assert inside.rows()[0][2] == "100.0%"
    before = page.editor.toPlainText()
    inside.table.cellDoubleClicked.emit(0, 0)  # write it at the cursor
    assert page.editor.toPlainText() == before + candidates[0][0]


def test_same_start_at_three_temperatures_side_by_side(qtbot, studio, tiny_lm):
    page = writer(studio, tiny_lm, max_new_tokens=10)
    inside = page.inside
    type_story(qtbot, page, "The night was dark and")
    inside.values_edit.setText("0, 0, 1.5")
    qtbot.mouseClick(inside.compare_btn, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: inside.compare_btn.isEnabled() and len(inside.compared()) == 3, timeout=90_000)
    first, second, third = inside.compared()
    assert first and first == second  # the same start, seed and setting write the same text
    assert third != first  # only the temperature differs
    assert [w.text() for w in inside.compare_dialog.findChildren(type(inside.status))
            if w.text().startswith("<b>")] == ["<b>temperature 0</b>", "<b>temperature 0</b>",
                                                "<b>temperature 1.5</b>"]  # fmt: skip
    assert page.editor.toPlainText() == "The night was dark and"  # the story is not touched

    inside.values_edit.setText("0.5, 9")
    qtbot.mouseClick(inside.compare_btn, Qt.MouseButton.LeftButton)
    assert "Temperature must be between 0 and 5" in inside.status.text()


def test_what_a_token_looked_at_is_highlighted_in_the_text(qtbot, studio, tiny_lm):
    page = writer(studio, tiny_lm)
    inside = page.inside
    text = "Once upon a time there was a small dragon who lived by the sea."
    type_story(qtbot, page, text)
    cursor = page.editor.textCursor()
    cursor.setPosition(text.index("dragon") + 2)
    page.editor.setTextCursor(cursor)
    qtbot.mouseClick(inside.attention_btn, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: "looked most at" in inside.attention_label.text(), timeout=60_000)
    marked = page.editor.extraSelections()
    assert marked and all(
        s.cursor.selectionEnd() <= text.index("dragon") + 6 for s in marked
    )  # earlier tokens only
    assert "2 layers × 2 heads" in inside.attention_label.text()
    shades = {s.format.background().color().alpha() for s in marked}
    assert len(shades) > 1  # stronger attention, deeper shade

    page.session.set("engine", "http://127.0.0.1:9/v1")  # a server sends no attention weights: said so
    qtbot.mouseClick(inside.attention_btn, Qt.MouseButton.LeftButton)
    assert "does not send its attention weights" in inside.status.text()
