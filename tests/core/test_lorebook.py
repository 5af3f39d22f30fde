"""Lorebook entries: whole words or regular expressions, case, priority and a token budget — each decision with
the sentence What the model sees shows; a hostile entry costs itself, never the assembly."""

import time

from studio.core.text.lorebook import LoreEntry, decide, entries_from
from studio.core.text.writer_context import StoryContext, assemble


def count(text: str) -> int:
    return len(text.split())


def reasons(entries, recent, budget=0):
    return {
        ", ".join(d.entry.keys): (d.included, d.reason)
        for d in decide(tuple(entries), recent, count, budget, 2000)
    }


def test_keys_match_whole_words_unless_a_regular_expression_says_otherwise():
    got = reasons(
        [
            LoreEntry(("ring",), "The One Ring."),
            LoreEntry(("sword",), "A sword."),
            LoreEntry((r"drag(on|ons)\b",), "Dragons.", match="regex"),
        ],
        "She brings the swords; dragons circle.",
    )
    assert got["ring"] == (False, "left out: no key appears in the last 2000 characters")  # not in "brings"
    assert got["sword"][0] is False  # "swords" is another word
    assert got[r"drag(on|ons)\b"] == (True, "included: “drag(on|ons)\\b” found (priority 0)")


def test_case_option():
    text = "The Ring glowed. the ring"
    assert reasons([LoreEntry(("Ring",), "x", case=True)], "the ring")["Ring"][0] is False
    assert reasons([LoreEntry(("Ring",), "x", case=True)], text)["Ring"][0] is True
    assert reasons([LoreEntry(("RING",), "x")], text)["RING"][0] is True


def test_priority_orders_entries_and_the_budget_leaves_the_lowest_out_with_a_reason():
    entries = [
        LoreEntry(("a",), "one two three", priority=0),
        LoreEntry(("b",), "four five", priority=5),
        LoreEntry(("c",), "six seven eight nine", priority=1),
    ]
    decisions = decide(tuple(entries), "a b c", count, 6, 2000)
    assert [(d.entry.keys, d.included) for d in decisions] == [
        (("b",), True),
        (("c",), True),
        (("a",), False),
    ]
    assert "budget (6 tokens) is spent (6 used, this entry needs 3)" in decisions[2].reason
    ctx = StoryContext(lorebook=tuple(entries), lore_budget=6)
    out = assemble("a b c", ctx, count, 1000)
    assert out.prompt.index("four five") < out.prompt.index("six seven") and "one two three" not in out.prompt
    assert len(out.lore) == 3


def test_bad_and_runaway_regular_expressions_cost_their_entry_only():
    entries = [
        LoreEntry(("(unclosed",), "x", match="regex"),
        LoreEntry((r"(a+)+$",), "y", match="regex"),
        LoreEntry(("b",), "z"),
    ]
    started = time.monotonic()
    got = reasons(entries, "a" * 2000 + "!b")
    assert time.monotonic() - started < 5
    assert "not a valid regular expression" in got["(unclosed"][1]
    assert "took too long" in got["(a+)+$"][1]
    assert got["b"][0] is True


def test_saved_entries_are_read_as_untrusted_and_the_old_pairs_still_load():
    raw = [
        ["dragon, wyrm", "old style"],
        {"keys": "x", "text": "new", "match": "regex", "case": True, "priority": 3},
        {"keys": "y", "text": "bad match", "match": "glob"},
        {"keys": 5, "text": "bad keys"},
        {"keys": "z", "text": "bad priority", "priority": 1e9},
        "nonsense",
        None,
    ]
    got = entries_from(raw)
    assert [e.text for e in got] == ["old style", "new"]
    assert got[0].keys == ("dragon", "wyrm") and got[1] == LoreEntry(("x",), "new", "regex", True, 3)
    assert entries_from({"not": "a list"}) == []
