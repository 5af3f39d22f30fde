"""The built-in Tones' evaluator reads rendered ground truth (carried through the model's own spectrogram and
Griffin-Lim) right: the scores in the README measure the model, not the evaluator. The model itself is held to its
Done-when in tests/cli/test_sound_cli.py."""

from __future__ import annotations


def test_the_evaluator_reads_rendered_sounds_right():
    from workshop.sound_eval import check

    scores = check(seeds=1, per_class=3)
    assert scores["pitch"].startswith("100.0 %") and scores["tempo"].startswith("100.0 %"), scores
    assert float(scores["kind"].split(" %")[0]) >= 75.0, scores
