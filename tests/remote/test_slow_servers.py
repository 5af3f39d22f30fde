"""Servers that are slow the way real ones are (a 7B model on a CPU: seconds of prefill, 0.6 s between tokens,
keep-alive comments, events split anywhere), served by the stand-in in ``tests/slow_server.py``: the stream
survives every pause, and Stop still ends it within a second."""

from __future__ import annotations

import json
import threading
import time

import pytest

from studio.core.jobs.cancel import CancelToken
from studio.core.jobs.errors import JobCancelled, StudioError
from studio.core.jobs.events import Token
from studio.core.jobs.servers import Endpoint
from studio.core.text.text_specs import WriteSpec
from studio.remote.http import stream_events
from studio.remote.openai_text import OpenAIText
from tests.slow_server import WORDS, SlowServer


@pytest.fixture()
def slow():
    servers: list[SlowServer] = []

    def make(**kw) -> SlowServer:
        servers.append(SlowServer(**kw).start())
        return servers[-1]

    yield make
    for s in servers:
        s.stop()


def write(server: SlowServer, cancel: CancelToken, on=lambda e: None, **kw):
    spec = WriteSpec(model="slow-7b", prompt="Once", engine=server.url, logprobs=0, **kw)
    return OpenAIText(lambda b: Endpoint(b)).write(spec, cancel, on)


def test_studio_write_completes_on_a_server_that_thinks_5_s_then_pauses_between_tokens(
    slow, tmp_path, capsys
):
    from studio import cli

    server = slow(prefill=5.0, gap=0.6, tokens=5)  # the answer's head only comes with the first token
    home = str(tmp_path / "h")
    assert cli.main(["backends", "add", "cpu-box", server.url, "--kind", "openai", "--home", home]) == 0
    capsys.readouterr()
    started = time.monotonic()
    code = cli.main(["write", "Once upon a time", "--engine", "cpu-box", "--max-new-tokens", "5", "--json",
                     "--home", home])  # fmt: skip
    out, err = capsys.readouterr()
    assert code == 0, err
    summary = json.loads(out.splitlines()[-1])
    assert summary["text"] == "".join(WORDS[:5])  # every word, none lost at a pause or a split event
    assert time.monotonic() - started >= 5.0 + 4 * 0.6 - 0.5  # it really waited for the slow server


@pytest.mark.parametrize("when", ["while the server thinks", "between two tokens"])
def test_stop_ends_a_slow_stream_within_a_second(slow, when):
    server = slow(prefill=30.0 if when == "while the server thinks" else 0.2, gap=30.0, tokens=3,
                  head_first=True, keep_alive=2.0)  # fmt: skip
    cancel = CancelToken()
    got: list[str] = []

    def on(e):
        if isinstance(e, Token):
            got.append(e.text)

    stopped_at: list[float] = []

    def stop_soon():
        time.sleep(1.5)
        stopped_at.append(time.monotonic())
        cancel.cancel()

    threading.Thread(target=stop_soon, daemon=True).start()
    with pytest.raises(JobCancelled):
        write(server, cancel, on, max_new_tokens=3)
    assert time.monotonic() - stopped_at[0] < 1.0
    assert got == ([] if when == "while the server thinks" else [WORDS[0]])
    assert server.disconnected.wait(5)  # the connection was closed: the server stops working for nobody


def test_a_server_that_ignores_max_tokens_is_cut_off_after_them(slow):
    server = slow(prefill=0.0, gap=0.0, endless=True)
    results = write(server, CancelToken(), max_new_tokens=20)
    assert results[0].stop_reason == "length" and results[0].text.count("lighthouse") <= 4


def test_keep_alive_comments_alone_do_not_keep_a_stream_open_forever(slow):
    server = slow(prefill=60.0, head_first=True, keep_alive=0.2)
    started = time.monotonic()
    with pytest.raises(StudioError, match="only keep-alive"):
        list(
            stream_events(
                Endpoint(server.url), "/completions", {"prompt": "x"}, CancelToken(), idle_timeout=2.0
            )
        )
    assert time.monotonic() - started < 6
