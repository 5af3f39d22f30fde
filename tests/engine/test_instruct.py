"""Instruct mode: a Continue asked of an instruct model through its own chat template, or through the instruct
format chosen for a model without one (whose turn-end becomes a stop string); servers get the turns as messages."""

from __future__ import annotations

import json
import shutil
from dataclasses import replace

from transformers import AutoTokenizer

from studio.core.jobs.cancel import CancelToken
from studio.core.jobs.events import Note
from studio.core.models.builtin_models import BUILTIN_TEXT_DIRS
from studio.core.text.instruct import continue_messages, lay_out
from studio.core.text.text_specs import WriteSpec
from studio.engine.text import TextEngine, with_turn_end
from studio.remote.openai_text import chat_messages

TEMPLATE = ("{% for m in messages %}<|{{ m['role'] }}|>{{ m['content'] }}\n{% endfor %}"
            "{% if add_generation_prompt %}<|assistant|>{% endif %}")  # fmt: skip


def run(spec):
    notes = []
    (result,) = TextEngine().write(
        spec, CancelToken(), lambda e: notes.append(e.text) if isinstance(e, Note) else 0
    )
    return result, notes


def test_a_named_format_lays_the_request_out_and_ends_the_turn_where_it_says():
    story = "The keeper climbed the stairs."
    spec = WriteSpec(model=str(BUILTIN_TEXT_DIRS[0]), prompt=story, instruct=True, instruct_format="chatml",
                     system="You write gothic fiction.", max_new_tokens=8, seed=1, cpu_engine="torch")  # fmt: skip
    result, _ = run(spec)
    tok = AutoTokenizer.from_pretrained(BUILTIN_TEXT_DIRS[0])
    expected = lay_out(continue_messages(story, "You write gothic fiction."), "chatml")
    assert result.prompt_tokens == len(tok(expected, add_special_tokens=False)["input_ids"])
    assert "<|im_end|>" in with_turn_end(spec).stop


def test_the_models_own_template_is_used_and_a_model_without_one_is_told(tiny_qwen, tmp_path):
    templated = tmp_path / "qwen-instruct"
    shutil.copytree(tiny_qwen, templated)
    config = json.loads((templated / "tokenizer_config.json").read_text())
    (templated / "tokenizer_config.json").write_text(json.dumps({**config, "chat_template": TEMPLATE}))
    spec = WriteSpec(model=str(templated), prompt="Once upon a time", instruct=True, system="Be brief.",
                     max_new_tokens=4, seed=1, cpu_engine="torch")  # fmt: skip
    result, notes = run(spec)
    tok = AutoTokenizer.from_pretrained(templated)
    messages = [{"role": r, "content": t} for r, t in continue_messages("Once upon a time", "Be brief.")]
    expected = tok.apply_chat_template(messages, add_generation_prompt=True, tokenize=True)
    expected = expected["input_ids"] if hasattr(expected, "keys") else expected
    assert result.prompt_tokens + result.trimmed_tokens == len(
        expected
    )  # (a 128-token context: its start cut)
    assert not any("no chat template" in n for n in notes)
    _, notes = run(replace(spec, model=str(tiny_qwen)))
    assert any("no chat template" in n for n in notes)


def test_servers_get_the_turns_as_messages_with_the_system_prompt_first():
    spec = WriteSpec(model="m", prompt="ignored", instruct=True, system="You are Ilse.")
    messages = chat_messages(spec, "The keeper climbed.")
    assert messages[0] == {"role": "system", "content": "You are Ilse."}
    assert messages[1]["role"] == "user" and messages[1]["content"].endswith("The keeper climbed.")
    chat = chat_messages(replace(spec, messages=(("user", "Hi"),)), "")
    assert [m["role"] for m in chat] == ["system", "user"]
