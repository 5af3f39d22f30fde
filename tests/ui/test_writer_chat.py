"""The Writer's Chat as a chat app: send, regenerate (the old reply kept: ◀ ▶ flip), edit a turn, go on from an
earlier turn, and a character card loaded as the model's persona (its greeting the first turn) and saved again."""

from __future__ import annotations

import json

from PySide6.QtCore import Qt

from tests.ui.test_writer_page import writer


def reply(qtbot, page):
    qtbot.waitUntil(lambda: not page.chat.active and not page.session.busy, timeout=60_000)


def test_regenerate_flip_edit_and_branch(qtbot, studio, tiny_lm):
    page = writer(studio, tiny_lm, max_new_tokens=6)
    chat = page.chat
    page.chat_input.setText("Name a ship")
    qtbot.keyClick(page.chat_input, Qt.Key.Key_Return)
    reply(qtbot, page)
    assert [r for r, _ in page.chat_messages] == ["user", "assistant"]
    first = page.chat_messages[1][1]
    page.session.set("seed", 6)  # another seed: another reply
    chat.regenerate()
    reply(qtbot, page)
    turn = chat.chat.log.turns[1]
    assert len(turn.texts) == 2 and turn.shown == 1 and turn.texts[0] == first
    assert "[2/2]" in chat.toPlainText()
    chat.view.setCurrentRow(1)
    chat.flip(-1)
    assert page.chat_messages[1][1] == first and "[1/2]" in chat.toPlainText()
    chat.edit(0, "Name a lighthouse")
    assert page.chat_messages[0] == ("user", "Name a lighthouse")
    chat.view.setCurrentRow(0)
    chat.branch()
    assert page.chat_messages == [("user", "Name a lighthouse")]


def test_a_character_card_is_the_models_persona_and_can_be_saved(qtbot, studio, tiny_lm, tmp_path):
    page = writer(studio, tiny_lm, max_new_tokens=4)
    card = tmp_path / "ilse.json"
    card.write_text(json.dumps({"spec": "chara_card_v2", "data": {
        "name": "Ilse", "description": "{{char}} fears the sea.", "first_mes": "Who's there, {{user}}?",
        "alternate_greetings": ["You came by boat?"]}}))  # fmt: skip
    with qtbot.waitSignal(page.chat.chat.changed, timeout=10_000):
        page.chat.load_card(str(card))
    assert page.session.value("system").startswith("You are Ilse.") and page.session.value("instruct")
    assert page.chat_messages == [("assistant", "Who's there, User?")]
    assert len(page.chat.chat.log.turns[0].texts) == 2  # the other greeting, one flip away
    assert page.chat.toPlainText().startswith("Ilse: Who's there")
    saved = tmp_path / "again.png"
    with qtbot.waitSignal(page.chat.chat.said, timeout=10_000):
        page.chat.save_card(str(saved))
    from studio.core.text.character_card import read_card

    assert read_card(saved).name == "Ilse"
    bad = tmp_path / "bad.json"
    bad.write_text("[1, 2]")
    with qtbot.waitSignal(page.chat.chat.said, timeout=10_000) as told:
        page.chat.load_card(str(bad))
    assert "Could not load the character card" in told.args[0]
