"""Instruct formats for models without a chat template, the Continue request, and character cards (SillyTavern's
V1, V2 and V3, JSON and PNG) read as untrusted and written back."""

import base64
import json

import pytest
from PIL import Image
from PIL.PngImagePlugin import PngInfo

from studio.core.io.untrusted import Unreadable
from studio.core.text.character_card import CharacterCard, card_from, read_card, write_card
from studio.core.text.instruct import FORMATS, continue_messages, lay_out

V2 = {"spec": "chara_card_v2", "spec_version": "2.0", "data": {
    "name": "Ilse", "description": "{{char}} is the keeper's daughter; she fears the sea.",
    "personality": "wary, kind", "scenario": "A lighthouse in winter; {{user}} has come by boat.",
    "first_mes": "Who's there?", "mes_example": "<START>\n{{char}}: The lamp needs trimming.",
    "system_prompt": "", "tags": ["lighthouse", 7], "alternate_greetings": ["You came by boat?"],
    "extensions": {"anything": True}}}  # fmt: skip


def test_chatml_lays_out_the_turns_and_leaves_the_answer_open():
    text = lay_out([("system", "Be brief."), ("user", "Hello")], "chatml")
    assert text == ("<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHello<|im_end|>\n"
                    "<|im_start|>assistant\n")  # fmt: skip
    assert lay_out([("user", "Go on")], "alpaca") == "### Instruction:\nGo on\n\n### Response:\n"
    assert all("{}" in f.assistant for f in FORMATS.values())
    turns = continue_messages("The keeper climbed.", "You write gothic fiction.")
    assert turns[0] == ("system", "You write gothic fiction.") and turns[1][1].endswith("The keeper climbed.")
    assert continue_messages("x", "  ")[0][0] == "user"


def test_a_v2_card_becomes_a_system_prompt_with_its_macros_filled():
    card = card_from(V2)
    assert isinstance(card, CharacterCard) and card.tags == ("lighthouse",)
    system = card.system(user="Marten")
    assert system.startswith("You are Ilse.") and "Ilse is the keeper's daughter" in system
    assert "Marten has come by boat" in system and "{{" not in system
    own = CharacterCard(name="Ilse", system_prompt="Stay in character. {{original}}", description="A keeper.")
    assert own.system().startswith("Stay in character. You are Ilse.")
    v1 = card_from({"name": "Old", "description": "A v1 card", "first_mes": "Hi"})
    assert isinstance(v1, CharacterCard) and v1.description == "A v1 card"


@pytest.mark.parametrize("raw, why", [
    ([1, 2], "a JSON object"), ({"data": {"name": ""}}, "no name"), ({"name": "x", "description": 5}, "not text"),
])  # fmt: skip
def test_bad_cards_say_why(raw, why):
    found = card_from(raw)
    assert isinstance(found, Unreadable) and why in found.why


def test_png_cards_read_v3_before_v2_and_write_back_both(tmp_path):
    meta = PngInfo()
    meta.add_text("chara", base64.b64encode(json.dumps(V2).encode()).decode())
    v3 = {**V2, "spec": "chara_card_v3", "data": {**V2["data"], "name": "Ilse (v3)"}}
    meta.add_text("ccv3", base64.b64encode(json.dumps(v3).encode()).decode())
    png = tmp_path / "ilse.png"
    Image.new("RGB", (8, 8)).save(png, pnginfo=meta)
    assert read_card(png).name == "Ilse (v3)"
    out = write_card(card_from(V2), tmp_path / "again.png")
    with Image.open(out) as im:
        assert {"chara", "ccv3"} <= set(im.info)
    assert read_card(out).first_mes == "Who's there?"
    assert read_card(write_card(card_from(V2), tmp_path / "again.json")).scenario.startswith("A lighthouse")
    plain = tmp_path / "plain.png"
    Image.new("RGB", (8, 8)).save(plain)
    assert "without a character card" in read_card(plain).why
    broken = tmp_path / "broken.png"
    meta = PngInfo()
    meta.add_text("chara", "%%% not base64 %%%")
    Image.new("RGB", (8, 8)).save(broken, pnginfo=meta)
    assert isinstance(read_card(broken), Unreadable)
