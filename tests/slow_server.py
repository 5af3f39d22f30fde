"""A STAND-IN for a slow OpenAI-compatible server (llama.cpp's server or vLLM with a 7B model on a CPU), not a real
one: ``transformers serve`` on a tiny model is too fast to show what a slow server does to a client. It answers
``GET /v1/models`` and streams ``POST /v1/completions`` and ``/v1/chat/completions`` the way those servers do:
HTTP/1.1 chunked transfer, ``data: {json}`` events, a last event with ``finish_reason`` and then ``data: [DONE]``.

Its timing is the point: ``prefill`` seconds before the answer's head and first token (a long prompt's prefill),
``gap`` seconds between tokens, ``": keep-alive"`` comments while it thinks (as some proxies and servers send), and
events split across chunks at arbitrary places. ``endless`` never finishes (a server that ignores ``max_tokens``)."""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

WORDS = ["The", " old", " lighthouse", " keeper", " climbed", " the", " stairs", " again", ",", " counting"]


@dataclass
class SlowServer:
    prefill: float = 5.0
    gap: float = 0.6
    tokens: int = 6
    keep_alive: float = 0.0  # seconds between keep-alive comments while thinking (0: none)
    head_first: bool = (
        False  # send the answer's head at once, then think (most servers); else after the prefill
    )
    endless: bool = False
    drip: float = 0.0  # GET /v1/models sends its answer a byte every ``drip`` seconds (a slow-drip server)
    url: str = ""
    requests: list[dict[str, Any]] = field(default_factory=list)
    disconnected: threading.Event = field(default_factory=threading.Event)
    _server: ThreadingHTTPServer | None = None

    def start(self) -> SlowServer:
        state = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:  # noqa: N802
                body = json.dumps({"object": "list", "data": [{"id": "slow-7b", "object": "model",
                                                               "max_model_len": 4096}]}).encode()  # fmt: skip
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if not state.drip:
                    self.wfile.write(body)
                    return
                for byte in body:
                    self.wfile.write(bytes([byte]))
                    self.wfile.flush()
                    time.sleep(state.drip)

            def do_POST(self) -> None:  # noqa: N802
                length = int(self.headers.get("Content-Length", "0"))
                request = json.loads(self.rfile.read(length))
                state.requests.append(request)
                try:
                    state._stream(self, request)
                except (BrokenPipeError, ConnectionResetError):
                    state.disconnected.set()

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/v1"
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    # -- one answer ------------------------------------------------------------------------------------------------
    def _stream(self, h: BaseHTTPRequestHandler, request: dict[str, Any]) -> None:
        def head() -> None:
            h.send_response(200)
            h.send_header("Content-Type", "text/event-stream")
            h.send_header("Transfer-Encoding", "chunked")
            h.end_headers()

        def chunk(data: bytes) -> None:
            h.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
            h.wfile.flush()

        def think(seconds: float) -> None:
            end = time.monotonic() + seconds
            while (left := end - time.monotonic()) > 0:
                time.sleep(min(left, self.keep_alive or left, 0.1) if self.keep_alive else min(left, 0.1))
                if self.keep_alive and head_sent:
                    chunk(b": keep-alive\n\n")

        chat = "messages" in request
        head_sent = self.head_first
        if head_sent:
            head()
        think(self.prefill)
        if not head_sent:
            head()
            head_sent = True
        n = 10**9 if self.endless else min(self.tokens, int(request.get("max_tokens") or self.tokens))
        for i in range(n):
            if i:
                think(self.gap)
            word = WORDS[i % len(WORDS)]
            piece = {"delta": {"content": word}} if chat else {"text": word}
            last = i == n - 1
            event = {"id": "cmpl-slow", "object": "text_completion", "model": "slow-7b",
                     "choices": [{"index": 0, **piece, "finish_reason": "length" if last else None}]}  # fmt: skip
            data = b"data: " + json.dumps(event).encode() + b"\n\n"
            cut = (i * 7) % max(1, len(data) - 1) + 1  # split each event somewhere inside
            chunk(data[:cut])
            chunk(data[cut:])
        chunk(b"data: [DONE]\n\n")
        h.wfile.write(b"0\r\n\r\n")
        h.wfile.flush()
