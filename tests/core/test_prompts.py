import pytest

from studio.core.image.prompts import LoraTag, WeightedPiece, extract_loras, parse_weights


@pytest.mark.parametrize(
    ("prompt", "expected"),
    [
        ("a cat", [("a cat", 1.0)]),
        ("a (red:1.3) cat", [("a ", 1.0), ("red", 1.3), (" cat", 1.0)]),
        ("(a)", [("a", 1.1)]),
        ("((a))", [("a", 1.21)]),
        ("[a]", [("a", 1 / 1.1)]),
        (r"\(not weighted\)", [("(not weighted)", 1.0)]),
        ("(a (b:2))", [("a ", 1.1), ("b", 2.2)]),
        ("(unclosed", [("unclosed", 1.1)]),
        ("ratio 1:2", [("ratio 1:2", 1.0)]),
        ("a BREAK b", [("a", 1.0), ("BREAK", -1.0), ("b", 1.0)]),
        ("", [("", 1.0)]),
    ],
)
def test_parse_weights_matches_a1111(prompt, expected):
    got = parse_weights(prompt)
    assert [p.text for p in got] == [t for t, _ in expected]
    assert [p.weight for p in got] == pytest.approx([w for _, w in expected])


def test_break_must_be_upper_case_word():
    assert parse_weights("breakfast") == [WeightedPiece("breakfast", 1.0)]
    assert parse_weights("a break b") == [WeightedPiece("a break b", 1.0)]


def test_extract_loras_removes_tags_and_keeps_order():
    cleaned, tags = extract_loras("a cat, <lora:film grain:0.8>, on a hat <lora:style> <LORA:x:-1>")
    assert cleaned == "a cat, on a hat"
    assert tags == [LoraTag("film grain", 0.8), LoraTag("style", 1.0), LoraTag("x", -1.0)]
