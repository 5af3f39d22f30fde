"""The story's notes, chosen by meaning: `studio write --notes DIR --show-context --json` on the built-in
Storyteller shows which notes went into the context and why — the note about the keeper's daughter for a passage
about her walking to the water (no key word needed), not for an unrelated passage."""

import json
from pathlib import Path

import pytest

from .helpers import studio_here as studio

NOTES = {
    "Ilse.md": "The keeper's daughter is named Ilse and she fears the sea.",
    "lamp.md": "The lighthouse lamp runs on paraffin and must be trimmed every night.",
    "places/harbour town.txt": "Tax law in the republic changed in 1901, and the merchants of the town protested.",
}


@pytest.fixture()
def notes(tmp_path) -> Path:
    folder = tmp_path / "notes"
    for name, text in NOTES.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(text + "\n")
    return folder


def context_of(story: str, notes: Path, home: Path) -> dict:
    r = studio("write", story, "--notes", notes, "--show-context", "--json", "--max-new-tokens", "2", "--seed",
               "1", home=home)  # fmt: skip
    assert r.returncode == 0, r.stderr
    (line,) = [json.loads(x) for x in r.stdout.splitlines() if x.startswith('{"context"')]
    return line["context"]


def test_a_note_goes_in_by_meaning_and_stays_out_of_an_unrelated_passage(notes, tmp_path):
    home = tmp_path / "home"
    near = context_of("The keeper's daughter walked down to the water", notes, home)
    assert [p["label"].split(" (")[0] for p in near["parts"]] == ["Note: Ilse", "Story"]
    assert near["parts"][0]["text"] == NOTES["Ilse.md"] and near["parts"][0]["tokens"] > 0
    ilse = next(n for n in near["notes"] if n["title"] == "Ilse")
    assert (
        ilse["included"]
        and ilse["reason"].startswith("included: similarity")
        and "by meaning" in ilse["reason"]
    )
    assert {n["title"] for n in near["notes"] if not n["included"]} == {"lamp", "harbour town"}
    # no word in common but what it means
    afraid = context_of("The girl was afraid of the waves.", notes, home)
    assert [p["label"].split(" (")[0] for p in afraid["parts"]] == ["Note: Ilse", "Story"]
    far = context_of("Interest rates rose again and the bank closed two branches.", notes, home)
    assert [p["label"] for p in far["parts"]] == ["Story"]
    assert all("below 0.35" in n["reason"] for n in far["notes"])
    # the meanings are kept for the next Continue
    assert (home / "cache" / "note-vectors.npz").is_file() or any(home.rglob("note-vectors.npz"))


def test_a_notes_folder_that_is_not_one_is_bad_input(tmp_path):
    r = studio("write", "x", "--notes", tmp_path / "nowhere", home=tmp_path / "home")
    assert r.returncode == 2 and "--notes:" in r.stderr and "is not a folder" in r.stderr
