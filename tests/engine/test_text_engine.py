"""Text jobs: a causal LM streams tokens, honours seeds, stop strings, cancel and the context limit."""

from __future__ import annotations

import pytest

from studio.core.jobs.cancel import CancelToken
from studio.core.jobs.errors import ErrorKind, JobCancelled, StudioError
from studio.core.jobs.events import Loading, Note, Token
from studio.core.text.text_specs import WriteSpec


@pytest.fixture(scope="module")
def text_engine():
    import torch

    from studio.engine.devices import Placement
    from studio.engine.text import TextEngine

    return TextEngine(placement=lambda: Placement("cpu", torch.float32))


@pytest.fixture()
def write(text_engine, tiny_lm):
    def go(cancel=None, on_event=None, **kw):
        spec = WriteSpec(
            **{"model": str(tiny_lm), "prompt": "Once upon a time", "max_new_tokens": 12, "seed": 7, **kw}
        )
        events = []

        def emit(e):
            events.append(e)
            if on_event:
                on_event(e)

        result = text_engine.write(spec, cancel or CancelToken(), emit)[0]
        return result, events

    return go


def test_tokens_stream_and_add_up_to_the_result(write):
    result, events = write(max_new_tokens=16, repetition_penalty=1.0)
    streamed = "".join(e.text for e in events if isinstance(e, Token))
    assert streamed == result.text and result.text
    assert sum(isinstance(e, Token) for e in events) >= 2  # streamed piece by piece, not at the end
    assert result.tokens == 16 and result.stop_reason == "length"
    assert result.prompt_tokens > 0 and result.tokens_per_s > 0


def test_same_seed_same_text_other_seed_other_text(write):
    a, _ = write(seed=1, temperature=1.5, max_new_tokens=20)
    b, _ = write(seed=1, temperature=1.5, max_new_tokens=20)
    c, _ = write(seed=2, temperature=1.5, max_new_tokens=20)
    assert a.text == b.text
    assert a.text != c.text


def test_stop_string_ends_the_text(write):
    full, _ = write(temperature=0.0, max_new_tokens=30)
    stop = full.text[len(full.text) // 2 : len(full.text) // 2 + 3]
    assert len(stop.strip()) >= 2, full.text
    result, _ = write(temperature=0.0, max_new_tokens=30, stop=(stop,))
    assert stop in result.text
    assert len(result.text) < len(full.text)
    assert result.stop_reason == "stop"


def test_long_prompt_is_trimmed_oldest_first_and_said(write):
    prompt = "The night was dark and the wind was cold. " * 40  # far beyond the 128-token context
    result, events = write(prompt=prompt, max_new_tokens=20)
    notes = [e.text for e in events if isinstance(e, Note)]
    assert notes and "first" in notes[0] and "left out" in notes[0]
    assert result.trimmed_tokens > 0
    assert result.prompt_tokens + 20 <= 128


def test_cancel_stops_within_a_token(write):
    cancel = CancelToken()
    seen = []

    def on_event(e):
        if isinstance(e, Token):
            seen.append(e)
            if len(seen) == 3:
                cancel.cancel()

    with pytest.raises(JobCancelled):
        write(cancel=cancel, on_event=on_event, max_new_tokens=100, repetition_penalty=1.0)
    assert 3 <= len(seen) <= 6


def test_first_load_says_loading(text_engine, tiny_lm):
    text_engine.clear()
    events = []
    text_engine.write(
        WriteSpec(model=str(tiny_lm), prompt="", max_new_tokens=3), CancelToken(), events.append
    )
    assert any(isinstance(e, Loading) and "tiny-lm" in e.what for e in events)


def test_max_new_tokens_beyond_context_is_refused(write):
    with pytest.raises(StudioError) as e:
        write(max_new_tokens=128)
    assert e.value.field == "max_new_tokens" and "context length (128)" in e.value.user_message


@pytest.mark.parametrize("case", ["missing", "image", "pickle", "repo"])
def test_bad_text_models_are_explained(case, tmp_path, tiny_sd, write):
    if case == "missing":
        model, expect = str(tmp_path / "nope"), "does not exist"
    elif case == "image":
        model, expect = str(tiny_sd), "not a transformers model folder"
    elif case == "pickle":
        (tmp_path / "config.json").write_text('{"model_type": "gpt2"}')
        (tmp_path / "pytorch_model.bin").write_bytes(b"\x80\x04not really")
        model, expect = str(tmp_path), "pickled"
    else:
        model, expect = "someone/not-downloaded", "Hugging Face cache"
    with pytest.raises(StudioError) as e:
        write(model=model)
    assert expect in e.value.user_message
    assert e.value.kind in (ErrorKind.MODEL_NOT_FOUND, ErrorKind.MODEL_INVALID)


def test_rewrite_uses_the_chat_template_or_says_it_cannot(text_engine, tiny_lm, tmp_path):
    import shutil

    events = []
    spec = WriteSpec(
        model=str(tiny_lm), prompt="The night was dark.", instruction="more menace", max_new_tokens=5, seed=1
    )
    result = text_engine.write(spec, CancelToken(), events.append)[0]
    notes = [e.text for e in events if isinstance(e, Note)]
    assert result.tokens == 5 and notes and "no chat template" in notes[0]

    chat = tmp_path / "chat-lm"
    shutil.copytree(tiny_lm, chat)
    import json

    cfg = json.loads((chat / "tokenizer_config.json").read_text())
    cfg["chat_template"] = "{% for m in messages %}<|user|>{{ m['content'] }}{% endfor %}<|assistant|>"
    (chat / "tokenizer_config.json").write_text(json.dumps(cfg))
    events.clear()
    result = text_engine.write(
        spec.__class__(**{**spec.__dict__, "model": str(chat)}), CancelToken(), events.append
    )[0]
    assert not [e for e in events if isinstance(e, Note)]
    tok = text_engine._loaded.tokenizer
    expected = tok.apply_chat_template(
        [
            {
                "role": "user",
                "content": "Rewrite the following passage: more menace. "
                "Reply with the rewritten passage only.\n\nThe night was dark.",
            }
        ],
        add_generation_prompt=True,
        tokenize=True,
    )
    expected = expected["input_ids"] if hasattr(expected, "keys") else expected
    assert result.prompt_tokens == len(expected)


def test_kv_cache_is_reused_when_only_the_end_changes(text_engine, tiny_lm):
    from studio.core.text.writer_context import StoryContext

    story = "Once upon a time there was a small dragon who lived by the sea. " * 2
    ctx = StoryContext(memory="A sea tale.", note="calm", note_depth=0)
    base = {"model": str(tiny_lm), "max_new_tokens": 6, "temperature": 0.0, "repetition_penalty": 1.0}
    text_engine.clear()
    text_engine.load(str(tiny_lm), lambda e: None)
    first = text_engine.write(WriteSpec(prompt=story, context=ctx, **base), CancelToken(), lambda e: None)[0]
    assert first.reused_tokens == 0
    # the Author's Note changes: everything before it is reused, not re-encoded
    changed = StoryContext(memory="A sea tale.", note="stormy", note_depth=0)
    second = text_engine.write(
        WriteSpec(prompt=story, context=changed, **base), CancelToken(), lambda e: None
    )[0]
    assert second.reused_tokens >= second.prompt_tokens - 8
    # and the result is what a fresh encode gives
    text_engine.clear()
    text_engine.load(str(tiny_lm), lambda e: None)
    fresh = text_engine.write(
        WriteSpec(prompt=story, context=changed, **base), CancelToken(), lambda e: None
    )[0]
    assert fresh.reused_tokens == 0 and fresh.text == second.text
    # Memory comes first: changing it leaves nothing to reuse
    other = StoryContext(memory="A mountain tale.", note="stormy", note_depth=0)
    third = text_engine.write(WriteSpec(prompt=story, context=other, **base), CancelToken(), lambda e: None)[
        0
    ]
    assert third.reused_tokens <= 2
