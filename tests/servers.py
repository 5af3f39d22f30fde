"""Fixtures with servers for the tests: ``transformers serve`` (transformers' "serving" extra) on
127.0.0.1, pinned to a tiny language model the tests write. And a stand-in written from OpenAI's documented error
format, for what that server cannot be made to do (refuse a key, fail with HTTP 500) — named as such."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_server(model: Path) -> tuple[subprocess.Popen, str]:
    exe = Path(sys.executable).with_name("transformers")
    if not exe.exists():
        pytest.skip("transformers serve is not installed (pip install 'transformers[serving]')")
    port = free_port()
    proc = subprocess.Popen([str(exe), "serve", "--host", "127.0.0.1", "--port", str(port), "--device", "cpu",
                             str(model)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            env={**os.environ, "HF_HUB_OFFLINE": "1"})  # fmt: skip
    base = f"http://127.0.0.1:{port}/v1"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(
                f"transformers serve exited: {proc.stderr.read().decode()[-2000:] if proc.stderr else ''}"
            )
        try:
            with urllib.request.urlopen(base + "/models", timeout=2) as r:  # noqa: S310 - 127.0.0.1
                if json.loads(r.read())["data"]:
                    return proc, base
        except OSError:
            time.sleep(0.5)
    proc.kill()
    raise RuntimeError("transformers serve did not start in 120 s")


@pytest.fixture(scope="session")
def served_lm(tmp_path_factory, tiny_lm):
    """(base URL, model id) of a running `transformers serve` with the tiny LM."""
    model = tmp_path_factory.mktemp("served") / "tiny-lm"
    shutil.copytree(tiny_lm, model)
    proc, base = start_server(model)
    yield base, str(model)
    proc.kill()
    proc.wait()


@pytest.fixture()
def stand_in():
    """A stand-in for an OpenAI-compatible server (not a real one): answers every request with the status and
    body the test sets, in OpenAI's documented error format."""
    state = {"status": 401, "body": {"error": {"message": "Incorrect API key provided", "type": "invalid_request_error"}},
             "auth": []}  # fmt: skip

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):  # quiet
            pass

        def _answer(self):
            state["auth"].append(self.headers.get("Authorization"))
            body = json.dumps(state["body"]).encode()
            self.send_response(state["status"])
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_GET = do_POST = _answer  # noqa: N815

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/v1", state
    server.shutdown()
