"""`studio write` with the Writer's controls: --ban, --bias, --dry, --json-schema FILE, --grammar FILE."""

import json

from .helpers import studio_here as studio

SCHEMA = {"type": "object", "required": ["name"], "additionalProperties": False,
          "properties": {"name": {"type": "string", "maxLength": 12}}}  # fmt: skip


def summary(r) -> dict:
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout.splitlines()[-1])


def test_ban_and_schema_from_the_command_line(tmp_path):
    home = tmp_path / "home"
    for seed in ("1", "2", "3"):
        said = summary(studio("write", "And God said unto Moses,", "--ban", "the LORD", "--ban", "thou",
                              "--dry", "0.8", "--xtc", "0.5:0.1", "--seed", seed, "--max-new-tokens", "40", "--json", home=home))  # fmt: skip
        assert "the lord" not in said["text"].lower() and "thou" not in said["text"].lower()
    schema = tmp_path / "schema.json"
    schema.write_text(json.dumps(SCHEMA))
    said = summary(
        studio("write", "A name:", "--json-schema", schema, "--max-new-tokens", "60", "--json", home=home)
    )
    assert set(json.loads(said["text"])) == {"name"}
    grammar = tmp_path / "yes-no.gbnf"
    grammar.write_text('root ::= "yes" | "no"\n')
    said = summary(
        studio("write", "Well?", "--grammar", grammar, "--max-new-tokens", "5", "--json", home=home)
    )
    assert said["text"] in ("yes", "no")


def test_bad_controls_are_bad_input(tmp_path):
    home = tmp_path / "home"
    (tmp_path / "bad.json").write_text('{"type": 7}')
    r = studio("write", "x", "--json-schema", tmp_path / "bad.json", home=home)
    assert r.returncode == 2 and "The JSON schema is not valid" in r.stderr
    r = studio("write", "x", "--json-schema", tmp_path / "missing.json", home=home)
    assert r.returncode == 2 and "--json-schema:" in r.stderr and "cannot be read" in r.stderr
    r = studio("write", "x", "--xtc", "often", home=home)
    assert r.returncode == 2 and "is not P:T" in r.stderr
    r = studio("write", "x", "--bias", "sea", home=home)
    assert r.returncode == 2 and "TEXT:VALUE" in r.stderr


def test_character_cards_from_the_command_line(tmp_path):
    card = {"spec": "chara_card_v2", "spec_version": "2.0",
            "data": {"name": "Ilse", "description": "{{char}} fears the sea.", "first_mes": "Who's there?"}}  # fmt: skip
    source = tmp_path / "ilse.json"
    source.write_text(json.dumps(card))
    home = tmp_path / "home"
    shown = studio("card", source, "--json", home=home)
    assert shown.returncode == 0 and json.loads(shown.stdout)["system"].startswith(
        "You are Ilse.\n\nIlse fears"
    )
    png = tmp_path / "ilse.png"
    assert studio("card", source, "--to", png, home=home).returncode == 0
    assert json.loads(studio("card", png, "--json", home=home).stdout)["first_mes"] == "Who's there?"
    said = summary(studio("write", "The keeper climbed.", "--card", png, "--instruct-format", "chatml",
                          "--max-new-tokens", "4", "--json", home=home))  # fmt: skip
    assert said["tokens"] > 0
    bad = studio("write", "x", "--card", tmp_path / "missing.png", home=home)
    assert bad.returncode == 2 and "--card:" in bad.stderr
