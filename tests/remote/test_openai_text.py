"""The Writer on an OpenAI-compatible server — against a real `transformers serve` on 127.0.0.1: streaming,
Stop mid-stream, the server killed mid-stream, settings it does not take said so, no logprobs offered; a refused
key and an HTTP 500 from a stand-in written from OpenAI's error format."""

from __future__ import annotations

import json
import threading
import time

import pytest

from studio.core.jobs.cancel import CancelToken
from studio.core.jobs.errors import JobCancelled, StudioError
from studio.core.jobs.events import Note, Token
from studio.core.jobs.servers import Endpoint
from studio.core.text.text_specs import WriteSpec
from studio.core.text.writer_context import StoryContext
from studio.remote.openai_text import OpenAIText, list_models


def handler() -> OpenAIText:
    return OpenAIText(lambda base: Endpoint(base))


def test_the_server_lists_its_models_and_continues_a_story_streaming(served_lm):
    base, model = served_lm
    assert [m["id"] for m in list_models(Endpoint(base))] == [model]
    events: list = []
    spec = WriteSpec(model=model, prompt="Once upon a time", max_new_tokens=12, temperature=0.0, seed=1,
                     engine=base, logprobs=3, context=StoryContext(memory="A tale.", note="dark"))  # fmt: skip
    (result,) = handler().write(spec, CancelToken(), events.append)
    tokens = [e.text for e in events if isinstance(e, Token)]
    # what the server sent, as it sent it: `transformers serve` joins the pieces it fell behind on into one event
    # (its `read_queue_outputs`), so a busy machine may see one; tests/remote/test_slow_servers.py proves the
    # piece-by-piece stream on a server that is slow between tokens
    assert tokens and "".join(tokens) == result.text and result.text.strip()
    assert result.engine == base and result.tokens >= 1
    notes = " ".join(e.text for e in events if isinstance(e, Note))
    assert "does not return token probabilities" in notes  # transformers serve ignores logprobs: said so


def test_settings_a_server_may_not_take_are_said_not_silently_dropped(served_lm):
    base, model = served_lm
    events: list = []
    spec = WriteSpec(model=model, prompt="Hello", max_new_tokens=3, engine=base, top_k=20, min_p=0.05,
                     no_repeat_ngram_size=3, logprobs=0)  # fmt: skip
    handler().write(spec, CancelToken(), events.append)
    notes = [e.text for e in events if isinstance(e, Note)]
    assert any("top-k, min-p" in n and "extensions" in n for n in notes)
    assert any("Not applied" in n and "no-repeat" in n for n in notes)


def test_stop_closes_the_stream_at_once_and_keeps_what_was_written(served_lm):
    base, model = served_lm
    cancel = CancelToken()
    got: list[str] = []

    def on_event(e):
        if isinstance(e, Token):
            got.append(e.text)
            cancel.cancel()

    spec = WriteSpec(model=model, prompt="Once", max_new_tokens=2000, engine=base, logprobs=0)
    t = time.monotonic()
    with pytest.raises(JobCancelled):
        handler().write(spec, cancel, on_event)
    assert got and time.monotonic() - t < 10  # stopped right after the first piece, not after 2000 tokens


def test_a_server_killed_mid_stream_gives_one_sentence_and_the_text_stays(tmp_path, tiny_lm):
    import shutil

    from tests.servers import start_server

    model = tmp_path / "lm"
    shutil.copytree(tiny_lm, model)
    proc, base = start_server(model)
    got: list[str] = []

    def on_event(e):
        if isinstance(e, Token):
            got.append(e.text)
            if len(got) == 3:
                threading.Thread(target=proc.kill).start()

    spec = WriteSpec(model=str(model), prompt="Once", max_new_tokens=4000, engine=base, logprobs=0)
    try:
        with pytest.raises(StudioError) as info:
            handler().write(spec, CancelToken(), on_event)
    finally:
        proc.kill()
    assert "what it wrote so far is kept" in info.value.user_message or "broke off" in info.value.user_message
    assert len(got) >= 3


@pytest.mark.parametrize(("status", "words"), [(401, "refused the API key"), (500, "failed (HTTP 500)")])
def test_a_refused_key_and_a_server_error_are_one_sentence(stand_in, status, words):
    base, state = stand_in
    state["status"] = status
    if status == 500:
        state["body"] = {"error": {"message": "CUDA out of memory", "type": "server_error"}}
    ep = Endpoint(base, key="sk-wrong")
    with pytest.raises(StudioError) as info:
        OpenAIText(lambda b: ep).write(
            WriteSpec(model="m", prompt="x", engine=base), CancelToken(), lambda e: None
        )
    assert words in info.value.user_message and "Traceback" not in info.value.user_message
    assert state["auth"][-1] == "Bearer sk-wrong"  # the key is sent as OpenAI's bearer token
    if status == 500:
        assert "CUDA out of memory" in info.value.user_message


def test_a_server_that_is_down_is_one_sentence(tmp_path):
    from tests.servers import free_port

    base = f"http://127.0.0.1:{free_port()}/v1"
    with pytest.raises(StudioError, match="does not answer"):
        handler().write(WriteSpec(model="m", prompt="x", engine=base), CancelToken(), lambda e: None)


def test_studio_write_on_a_server_from_the_command_line(served_lm, tmp_path, capsys):
    from studio import cli

    base, model = served_lm
    code = cli.main(["write", "Once upon a time", "--engine", base.removesuffix("/v1"), "--max-new-tokens", "8",
                     "--temperature", "0", "--json", "--home", str(tmp_path / "h")])  # fmt: skip
    out, err = capsys.readouterr()
    assert code == 0, err
    lines = [json.loads(x) for x in out.splitlines()]
    summary = lines[-1]
    assert (
        summary["engine"] == base and summary["model"] == model.rsplit("/", 1)[-1]
    )  # its first (only) model
    assert summary["text"] == "".join(x["token"] for x in lines[:-1]) and summary["tokens"] >= 1
    assert summary["stop_reason"] in ("length", "eos")
