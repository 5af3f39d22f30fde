"""Prompt syntax against its AUTOMATIC1111 / Dynamic Prompts meaning: prompt editing schedules, alternation,
choices, several choices, weighted choices, wildcards from nested files, combinations; styles from A1111's
styles.csv and Fooocus's JSON; what cannot be read said where."""

from __future__ import annotations

import random

import pytest

from studio.core.image.dynamic_prompts import Wildcards, combinations, prompts_for, resolve, template_warnings
from studio.core.image.prompt_schedule import schedule, schedule_warnings
from studio.core.image.styles import Style, StyleBook, apply_styles


@pytest.mark.parametrize(("prompt", "steps", "expected"), [
    ("a [cat:dog:10] hat", 20, [(10, "a cat hat"), (20, "a dog hat")]),
    ("a [cat:dog:0.25] hat", 20, [(5, "a cat hat"), (20, "a dog hat")]),  # a fraction of the steps
    ("a [cat:dog:1.0] hat", 20, [(20, "a cat hat")]),  # "1.0" is a fraction: never switches
    ("a [dog:5] x", 10, [(5, "a  x"), (10, "a dog x")]),  # [to:when]: added after step 5
    ("a [dog::5] x", 10, [(5, "a dog x"), (10, "a  x")]),  # [from::when]: removed after step 5
    ("[cat|dog|fox]", 4, [(1, "cat"), (2, "dog"), (3, "fox"), (4, "cat")]),
    ("[[cat|dog]:tiger:2]", 4, [(1, "cat"), (2, "dog"), (4, "tiger")]),
    ("a [(red:1.3) cat:blue dog:3]", 6, [(3, "a (red:1.3) cat"), (6, "a blue dog")]),
    ("[word] (x:1.2) plain", 20, [(20, "[word] (x:1.2) plain")]),  # de-emphasis and weights pass through
    (r"a \[cat:dog:3\]", 6, [(6, r"a \[cat:dog:3\]")]),  # escaped
])  # fmt: skip
def test_prompt_editing_as_automatic1111_reads_it(prompt, steps, expected):
    assert schedule(prompt, steps) == expected


def test_an_unclosed_bracket_is_text_with_a_warning_saying_where():
    assert schedule("a [cat:dog:10 x", 20) == [(20, "a [cat:dog:10 x")]
    assert schedule_warnings("a [cat:dog:10 x") == [
        "The [ at character 3 is never closed; it is read as text."
    ]
    assert template_warnings("x {a|b") == ["The { at character 3 is never closed; it is read as text."]


@pytest.fixture()
def wildcards(tmp_path):
    (tmp_path / "animals").mkdir()
    (tmp_path / "animals" / "pets.txt").write_text("cat\ndog\n# a comment\n\n{red|blue} fox\n")
    (tmp_path / "animals" / "wild.txt").write_text("wolf\n")
    (tmp_path / "hat.txt").write_text("__animals/pets__ in a hat\n")
    (tmp_path / "loop.txt").write_text("__loop__\n")
    return Wildcards(tmp_path)


def test_choices_and_wildcards_as_dynamic_prompts_reads_them(wildcards):
    assert list(combinations("a {b|c} __hat__", wildcards)) == [
        "a b cat in a hat", "a b dog in a hat", "a b red fox in a hat", "a b blue fox in a hat",
        "a c cat in a hat", "a c dog in a hat", "a c red fox in a hat", "a c blue fox in a hat"]  # fmt: skip
    assert list(combinations("{2$$a|b|c}", wildcards)) == ["a, b", "a, c", "b, c"]
    assert list(combinations("{2$$ and $$a|b|c}", wildcards)) == ["a and b", "a and c", "b and c"]
    assert list(combinations("{1-2$$a|b}", wildcards)) == ["a", "b", "a, b"]
    assert list(combinations("__animals/*__", wildcards)) == ["cat", "dog", "red fox", "blue fox", "wolf"]
    assert {resolve("{0::never|1::always}", wildcards, random.Random(s)) for s in range(20)} == {"always"}
    assert (
        resolve(r"\{literal\} (x:1.2) [a:b:3] [p|q]", wildcards, random.Random(0))
        == "{literal} (x:1.2) [a:b:3] [p|q]"
    )
    drawn = {resolve("{a|b|c}", wildcards, random.Random(s)) for s in range(40)}
    assert drawn == {"a", "b", "c"}  # random mode reaches every option
    assert prompts_for("x {a|b}", wildcards, [1, 2, 3], combinatorial=True) == ["x a", "x b", "x a"]
    assert prompts_for("x {a|b}", wildcards, [7, 7]) == [resolve("x {a|b}", wildcards, random.Random(7))] * 2


def test_unknown_and_circular_wildcards_are_named(wildcards):
    from studio.core.image.dynamic_prompts import TemplateError, unknown_wildcards

    assert "No wildcard __nope__" in unknown_wildcards("a __nope__", wildcards)
    assert "circle" in unknown_wildcards("__loop__", wildcards)
    with pytest.raises(TemplateError, match="__../secret__"):
        wildcards.lines("../secret")
    assert wildcards.names() == ["animals/pets", "animals/wild", "hat", "loop"]


A1111_STYLES = """name,prompt,negative_prompt
None,,
Cinematic,"cinematic still of {prompt}, film grain","cartoon, flat"
Sharp,"sharp focus, 8k",
"Comma, style","{prompt}, with commas, inside","ugly"
"""


def test_styles_from_a1111_and_fooocus(tmp_path):
    (tmp_path / "styles.csv").write_text(A1111_STYLES)
    book = StyleBook(tmp_path / "mine.csv")
    count, problems = book.import_file(tmp_path / "styles.csv")
    assert count == 4 and not problems
    (tmp_path / "fooocus.json").write_text('[{"name": "Fooocus Enhance", "prompt": "{prompt}, intricate", '
                                           '"negative_prompt": "lowres"}, {"prompt": "no name"}]')  # fmt: skip
    count, problems = book.import_file(tmp_path / "fooocus.json")
    assert count == 1 and problems == ["entry 2 has no name"]
    styles = book.all()
    assert {"Cinematic", "Sharp", "Comma, style", "Fooocus Enhance", "Photograph"} <= set(
        styles
    )  # shipped too
    chosen, why = book.find(["Cinematic", "Sharp"])
    assert apply_styles("a lighthouse", "blurry", chosen) == (
        "cinematic still of a lighthouse, film grain, sharp focus, 8k",
        "blurry, cartoon, flat",
    )
    assert "No style “Nope”" in book.find(["Nope"])[1]
    assert apply_styles("", "", [Style("x", "only style", "")]) == ("only style", "")
    (tmp_path / "broken.csv").write_text("just,some\nwords,here\n")
    assert book.import_file(tmp_path / "broken.csv")[0] == 0


def test_one_grammar_reads_a_prompt_the_same_everywhere():
    """The weights, the LoRA tags, Dynamic Prompts, the ComfyUI translation and the highlighter take their tokens from
    one grammar: a LyCORIS tag is a tag to all of them."""
    from studio.core.image.comfy_workflow import comfy_prompt
    from studio.core.image.prompt_grammar import HIGHLIGHTS
    from studio.core.image.prompts import extract_loras

    prompt = "a fox <lyco:ink:0.6> BREAK [misty] __colours__ {dawn|dusk}"
    assert [(t.name, t.weight) for t in extract_loras(prompt)[1]] == [("ink", 0.6)]
    painted = {role: [m.group(0) for m in rx.finditer(prompt)] for role, rx in HIGHLIGHTS}
    assert painted["tag"] == ["<lyco:ink:0.6>"] and painted["break"] == ["BREAK"]
    assert painted["wildcard"] == ["__colours__"] and painted["choice"] == ["{dawn|dusk}"]
    assert comfy_prompt("[misty] lake BREAK fog") == ["(misty:0.91) lake", "fog"]
    assert not [
        m for _, rx in HIGHLIGHTS for m in rx.finditer(r"\{not a choice\}") if m.group(0).startswith("{")
    ]
