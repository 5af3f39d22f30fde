"""The shipped Storyteller: small, labelled, and it has learned English word order."""

import math

import pytest

from studio.core.models.builtin_models import BUILTIN_TEXT_DIRS, builtin_text_models, model_card

STORY = BUILTIN_TEXT_DIRS[0]
pytestmark = pytest.mark.skipif(
    not (STORY / "config.json").is_file(), reason="the Storyteller is not shipped"
)


def test_shipped_model_is_small_and_labelled():
    size = sum(p.stat().st_size for p in STORY.rglob("*") if p.is_file())
    assert size <= 25 * 1024 * 1024
    assert [m.label for m in builtin_text_models()] == ["Storyteller (built-in demo)"]
    assert model_card(STORY)["recommended"]["temperature"] == 0.8


def test_it_prefers_english_to_the_same_words_shuffled():
    import random

    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(STORY)
    lm = AutoModelForCausalLM.from_pretrained(STORY).eval()

    def perplexity(text: str) -> float:
        ids = tok(text, return_tensors="pt")["input_ids"]
        with torch.no_grad():
            return math.exp(lm(input_ids=ids, labels=ids).loss.item())

    sentences = [
        "And the king said unto his servants, Go ye into the city and bring me word again.",
        "A friend in need is a friend indeed, but a friend with a boat is better.",
    ]
    rng = random.Random(0)
    for s in sentences:
        words = s.split()
        rng.shuffle(words)
        assert perplexity(" ".join(words)) > 3 * perplexity(s)
