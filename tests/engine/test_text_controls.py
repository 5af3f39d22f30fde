"""The Writer's samplers and constrained output on the built-in Storyteller and a tiny Qwen built in the tests: a
banned phrase never appears where it appeared before (and nothing shown is taken back), a JSON schema's answer
parses and validates every time, a grammar holds, DRY penalises a repeat, XTC sets the top choices aside, a bias of
−100 bans a word."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest
import torch

from studio.core.jobs.cancel import CancelToken
from studio.core.jobs.events import Token
from studio.core.models.builtin_models import BUILTIN_TEXT_DIRS
from studio.core.text.recipe import freeze_text, schema_problem
from studio.core.text.text_specs import WriteSpec
from studio.engine.text import TextEngine
from studio.engine.text_controls import DryProcessor, XtcProcessor

SCHEMA = {"type": "object", "additionalProperties": False, "required": ["name", "age", "fears"],
          "properties": {"name": {"type": "string", "maxLength": 20}, "age": {"type": "integer", "minimum": 0,
                         "maximum": 120}, "fears": {"type": "array", "maxItems": 3,
                                                    "items": {"type": "string", "maxLength": 15}}}}  # fmt: skip


@pytest.fixture(scope="module")
def engine():
    return TextEngine()


def storyteller(**kw) -> WriteSpec:
    return WriteSpec(**{"model": str(BUILTIN_TEXT_DIRS[0]), "prompt": "And God said unto Moses,",
                        "max_new_tokens": 60, "cpu_engine": "torch", **kw})  # fmt: skip


def write(engine, spec):
    shown: list[str] = []
    (result,) = engine.write(
        spec, CancelToken(), lambda e: shown.append(e.text) if isinstance(e, Token) else None
    )
    return result, "".join(shown)


def test_a_banned_phrase_never_appears_where_it_did_and_nothing_shown_is_taken_back(engine):
    before = [write(engine, storyteller(seed=s))[0].text for s in range(20)]
    assert sum("the lord" in t.lower() for t in before) >= 5  # it writes it often unbanned
    for seed in range(20):
        result, shown = write(engine, storyteller(seed=seed, banned=("the LORD",)))
        assert "the lord" not in result.text.lower()
        assert shown == result.text  # streamed as final: the held-back tail came at the end
        assert result.tokens > 0


def test_a_json_schema_answer_parses_and_validates_every_time_on_the_storyteller(engine):
    spec = storyteller(json_schema=json.dumps(SCHEMA), max_new_tokens=150)
    for seed in range(10):
        result, _ = write(engine, replace(spec, seed=seed))
        assert schema_problem(SCHEMA, result.text) == "", result.text


def test_a_json_schema_on_a_tiny_instruct_qwen(engine, tiny_qwen, tmp_path):
    import shutil

    from tests.engine.test_instruct import TEMPLATE

    instruct = tmp_path / "qwen-instruct"  # the tiny Qwen with a chat template: an instruct model
    shutil.copytree(tiny_qwen, instruct)
    config = json.loads((instruct / "tokenizer_config.json").read_text())
    (instruct / "tokenizer_config.json").write_text(json.dumps({**config, "chat_template": TEMPLATE}))
    small = {"type": "object", "additionalProperties": False, "required": ["name", "age"],
             "properties": {"name": {"type": "string", "maxLength": 6}, "age": {"type": "integer", "minimum": 0,
                                                                                "maximum": 99}}}  # fmt: skip
    spec = WriteSpec(model=str(instruct), prompt="", max_new_tokens=80, json_schema=json.dumps(small),
                     cpu_engine="torch", temperature=0.7, messages=(("user", "A keeper, as JSON"),))  # fmt: skip
    for seed in range(3):
        result, _ = write(engine, replace(spec, seed=seed))
        assert schema_problem(small, result.text) == "", result.text


def test_a_gbnf_grammar_holds_and_a_bias_of_minus_100_bans_a_word(engine):
    grammar = 'root ::= answer "."\nanswer ::= "yes" | "no" | "maybe"'
    for seed in range(5):
        result, _ = write(engine, storyteller(seed=seed, grammar=grammar, max_new_tokens=10))
        assert result.text in ("yes.", "no.", "maybe.")
    for seed in range(5):
        result, _ = write(engine, storyteller(seed=seed, bias=("LORD:-100",)))
        assert "LORD" not in result.text


def test_an_answer_cut_short_is_not_accepted(engine):
    from studio.core.jobs.errors import StudioError

    with pytest.raises(StudioError, match="not accepted: the output stopped before the grammar was complete"):
        engine.write(
            storyteller(json_schema=json.dumps(SCHEMA), max_new_tokens=3), CancelToken(), lambda e: None
        )


def test_dry_penalises_the_token_that_would_extend_a_repeat():
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(BUILTIN_TEXT_DIRS[0])
    spec = storyteller(dry_multiplier=0.8, dry_base=2.0, dry_allowed_length=2)
    a, b, c, d = tok(" keeper lamp stairs sea", add_special_tokens=False)["input_ids"][:4]
    seq = torch.tensor([[a, b, c, d, a, b, c]])  # "a b c" again: d would make it four
    scores = DryProcessor(spec, tok)(seq, torch.zeros(1, len(tok)))
    assert scores[0, d] == pytest.approx(-0.8 * 2.0 ** (3 - 2))
    assert (scores[0, :d] == 0).all() and (scores[0, d + 1 :] == 0).all()


def test_xtc_sets_aside_every_top_choice_but_the_least_likely():
    spec = storyteller(xtc_probability=1.0, xtc_threshold=0.2)
    scores = torch.log(torch.tensor([[0.5, 0.3, 0.15, 0.05]]))
    out = XtcProcessor(spec, torch.Generator().manual_seed(0))(torch.tensor([[1]]), scores.clone())
    assert torch.isinf(out[0, 0]) and torch.isfinite(out[0, 1:]).all()


def test_the_recipe_refuses_bad_controls():
    problems = freeze_text({"model": "m", "bias": ["no value"], "json_schema": '{"type": 5}'}, "x")
    assert "TEXT:VALUE" in problems["bias"] and "not valid" in problems["json_schema"]
    assert (
        "not both"
        in freeze_text({"model": "m", "json_schema": "{}", "grammar": 'root ::= "a"'}, "x")["grammar"]
    )


def test_the_probability_view_shows_what_the_settings_did(engine):
    plain, _ = write(engine, storyteller(temperature=0.0, max_new_tokens=3, logprobs=5))
    top = plain.probs[0].text.strip()
    banned, _ = write(
        engine, storyteller(temperature=0.0, max_new_tokens=3, logprobs=5, bias=(f"{top}:-100",))
    )
    first = banned.probs[0]
    assert first.text.strip() != top  # the model's favourite was set aside …
    assert first.p < plain.probs[0].p  # … so the token written was less likely to the model,
    assert first.sampled is not None and first.sampled > first.p  # and likelier with the settings
    assert plain.probs[0].sampled is None  # (generate(): the settings' view is the Inside tab's)
