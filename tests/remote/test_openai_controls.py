"""The Writer's samplers and constrained output on a server: sent under the names llama.cpp, KoboldCpp and
text-generation-webui take, what cannot be sent said in a sentence, and a server's answer to a schema checked before
it is accepted (a server may ignore the schema)."""

import json

import pytest

from studio.core.jobs.errors import StudioError
from studio.core.text.text_specs import TextResult, WriteSpec
from studio.remote.openai_text import EXTENSIONS, _sampling, checked


def test_dry_xtc_bias_schema_and_grammar_go_under_the_servers_names():
    schema = {"type": "object", "properties": {"n": {"type": "integer"}}}
    spec = WriteSpec(model="m", prompt="x", dry_multiplier=0.8, xtc_probability=0.5, bias=("sea:5", "slop:-100"),
                     banned=("a tapestry",), json_schema=json.dumps(schema))  # fmt: skip
    body, sent, not_applied = _sampling(spec)
    assert body["dry_multiplier"] == 0.8 and body["dry_base"] == 1.75 and body["dry_allowed_length"] == 2
    assert body["dry_sequence_breakers"] == ["\n", ":", '"', "*"]
    assert body["xtc_probability"] == 0.5 and body["xtc_threshold"] == 0.1
    assert body["logit_bias"] == [["sea", 5.0], ["slop", False]]  # llama.cpp: false bans the text's tokens
    assert body["json_schema"] == schema and body["response_format"]["json_schema"]["schema"] == schema
    assert {"DRY", "XTC", "json-schema"} <= set(sent)
    assert any("banned phrases" in n for n in not_applied)
    assert {k for k in body if k not in ("max_tokens", "temperature", "seed", "top_p")} <= set(EXTENSIONS)


def test_a_servers_answer_to_a_schema_is_checked():
    spec = WriteSpec(model="m", prompt="x", json_schema=json.dumps({"type": "object", "required": ["n"]}))
    good = TextResult('{"n": 1}', 5, 0.1, "eos", 3)
    assert checked(spec, [good], None)[0].text == '{"n": 1}'
    with pytest.raises(StudioError, match="The server's answer was not accepted: the answer does not follow"):
        checked(spec, [TextResult('{"m": 1}', 5, 0.1, "eos", 3)], None)
    with pytest.raises(StudioError, match="the answer is not JSON"):
        checked(spec, [TextResult("Sure! Here is", 5, 0.1, "eos", 3)], None)
