"""The writer's choices as preference pairs, kept beside the document and read as untrusted."""

from __future__ import annotations

from studio.core.io.choices import (
    choices_path,
    make_choice,
    preference_pairs,
    read_choices,
    record,
    write_choices,
)


def test_a_choice_needs_something_kept_and_something_thrown_away():
    assert make_choice("ctx", "kept", [], "accept") is None
    assert make_choice("ctx", "kept", ["kept", "  "], "accept") is None
    c = make_choice("x" * 5000, "the sea", ["the sky", "the sky", "the land"], "accept", "storyteller")
    assert c is not None and c.discarded == ("the sky", "the land") and len(c.context) == 2000


def test_recorded_once_read_back_damage_costs_one_line_and_deleted(tmp_path):
    doc = tmp_path / "story.md"
    doc.write_text("text")
    a = make_choice("Once", " upon", [" there"], "accept")
    b = make_choice("Twice", " more", [" less", " none"], "continue")
    assert record(doc, a) and not record(doc, a) and record(doc, b)
    path = choices_path(doc)
    assert path.name == ".story.md.choices.jsonl"
    with path.open("a") as f:
        f.write('{"kept": 3}\nnot json\n')
    found, problems = read_choices(doc)
    assert [c.kept for c in found] == [" upon", " more"] and len(problems) == 2
    assert preference_pairs(found) == [("Once", " upon", " there"), ("Twice", " more", " less"),
                                       ("Twice", " more", " none")]  # fmt: skip
    write_choices(doc, found[1:])
    assert [c.kept for c in read_choices(doc)[0]] == [" more"]
    write_choices(doc, [])
    assert not path.exists() and read_choices(doc) == ([], [])


def test_the_time_estimate_reads_as_words(monkeypatch):
    from studio.core.train import text_train_plan

    monkeypatch.setattr(text_train_plan.os, "cpu_count", lambda: 1)  # 2.5e10 FLOP/s: 1.5e12 FLOP is 60 s
    words = text_train_plan.plan(100_000_000, 1, 10, 250, free_bytes=8 * 1024**3)[0]
    assert words.startswith("About a minute and 0.6 GB of memory")
    words = text_train_plan.plan(100_000_000, 10, 10, 250, free_bytes=8 * 1024**3)[0]
    assert words.startswith("About 10 minutes")


def test_a_base_model_too_large_for_the_machine_is_said_before_training():
    from studio.core.train.text_train_plan import plan, preset_for

    words, refusal = plan(3_000_000_000, 300, 4, 256, free_bytes=8 * 1024**3)
    assert (
        words == ""
        and refusal.startswith("This base model has 3.0 B parameters")
        and "up to about 1.3 B" in refusal
    )
    words, refusal = plan(100_000_000, 300, 4, 256, free_bytes=8 * 1024**3)
    assert refusal == "" and "0.6 GB of memory" in words
    assert plan(30_000_000, 10, 1, 64, free_bytes=8 * 1024**3)[0].startswith("About a few seconds and 172 MB")
    for params, steps in ((100_000_000, 300), (50_000_000, 20), (1_000_000, 1)):  # never "About about …"
        words = plan(params, steps, 4, 256, free_bytes=8 * 1024**3)[0]
        assert (
            words.startswith("About ")
            and not words.startswith("About about")
            and "About seconds" not in words
        )
    assert plan(0, 300, 4, 256, free_bytes=8 * 1024**3)[0].startswith("Time and memory: not known")
    assert preset_for(3_000_000_000) == "large" and preset_for(100_000_000) == "small"
