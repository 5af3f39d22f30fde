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


def test_a_chat_gets_what_the_story_calls_up_in_its_system_prompt():
    from types import SimpleNamespace

    from studio.core.text.story_notes import Note
    from studio.core.text.writer_context import StoryContext
    from studio.engine.text_prompt import prompt_ids

    tok = AutoTokenizer.from_pretrained(BUILTIN_TEXT_DIRS[0])
    context = StoryContext(memory="The lighthouse is on Vlieland.",
                           notes=(Note("Ilse", "Ilse is the keeper's daughter; she fears the sea."),
                                  Note("tax", "Tax law changed in 1901.")))  # fmt: skip
    spec = WriteSpec(model="m", prompt="", messages=(("user", "What does Ilse fear?"),), system="Be brief.",
                     instruct_format="chatml", context=context)  # fmt: skip
    loaded = SimpleNamespace(tokenizer=tok, context_length=256)
    from studio.engine.note_vectors import NoteVectors
    from studio.engine.sentence_embedding import make_embed

    meaning = NoteVectors(make_embed).similar  # the packaged model, as the runtime hands it over
    ids, _, assembled = prompt_ids(loaded, replace(spec, max_new_tokens=20), lambda e: None, meaning)
    text = tok.decode(ids)
    assert text.startswith(
        "<|im_start|>system\nBe brief.\n\nWhat you know of the story:\nThe lighthouse is on"
    )
    assert "she fears the sea" in text and "Tax law" not in text  # the note the question calls up, alone
    assert text.endswith("<|im_start|>user\nWhat does Ilse fear?<|im_end|>\n<|im_start|>assistant\n")
    remote = chat_messages(spec, "", "The lighthouse is on Vlieland.")
    assert remote[0]["content"] == "Be brief.\n\nWhat you know of the story:\nThe lighthouse is on Vlieland."


def test_a_sentence_embedding_model_in_the_models_folder_is_preferred_for_notes(tmp_path):
    from transformers import BertConfig, BertModel

    from studio.core.gallery.semantic import model_folder
    from studio.runtime import build_runtime

    home = tmp_path / "home"
    folder = home / "models" / "tiny-st"
    folder.mkdir(parents=True)
    packaged = model_folder()
    for name in ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "vocab.txt"):
        shutil.copy(packaged / name, folder / name)
    BertModel(BertConfig(vocab_size=30522, hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
                         intermediate_size=37), add_pooling_layer=False).save_pretrained(folder)  # fmt: skip
    (folder / "modules.json").write_text(json.dumps([{"idx": 0, "name": "0", "path": "", "type": "Transformer"},
                                                     {"idx": 1, "name": "1", "path": "1_Pooling", "type": "Pooling"}]))  # fmt: skip
    (folder / "1_Pooling").mkdir()
    (folder / "1_Pooling" / "config.json").write_text(json.dumps({"pooling_mode_cls_token": True}))
    rt = build_runtime(home)
    try:
        meanings = rt.text_engine.similar.__self__
        scores = rt.text_engine.similar("The keeper's daughter", ["Ilse fears the sea.", "Tax law"])
        assert len(scores) == 2 and all(-1.0 <= s <= 1.0 for s in scores)
        assert meanings.model_name == "tiny-st"
    finally:
        rt.close(5)
