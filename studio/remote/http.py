"""HTTP to the servers a user adds, and nothing else: JSON requests, server-sent event streams that a cancel token
can close at once, TLS verified (a self-signed certificate only with the user's explicit consent), bounded reads,
and every failure turned into one sentence. Studio opens no listening socket; this module only connects out."""

from __future__ import annotations

import contextlib
import http.client
import json
import socket
import ssl
import time
import urllib.parse
from collections.abc import Iterator
from typing import Any

from studio.core.io.untrusted import Unreadable, lst, parse_json, text
from studio.core.jobs.cancel import CancelToken
from studio.core.jobs.errors import ErrorKind, JobCancelled, StudioError
from studio.core.jobs.servers import Endpoint

MAX_BODY = 16 * 1024 * 1024  # an answer (a model list, an error) is kilobytes
MAX_LINE = 4 * 1024 * 1024  # one streamed event
MAX_STREAM_BYTES = 64 * 1024 * 1024  # one streamed answer (a long story with logprobs is a few MB)
IDLE_TIMEOUT = 300.0  # seconds a server may think without sending an event: a long prefill on a CPU
MAX_STREAM_SECONDS = 4 * 3600.0  # one answer at most


class ServerError(StudioError):
    """A server that does not answer, refuses, or fails — with ``status`` when it answered HTTP."""

    def __init__(self, message: str, details: str = "", status: int = 0):
        super().__init__(ErrorKind.IO, message, details, field="engine")
        self.status = status


class Connection:
    """One request to an endpoint. ``close()`` (from any thread) ends it at once."""

    def __init__(self, endpoint: Endpoint, timeout: float = 15.0):
        self.endpoint = endpoint
        parts = urllib.parse.urlsplit(endpoint.base)
        self._path_prefix = parts.path.rstrip("/")
        port = parts.port
        if parts.scheme == "https":
            ctx = ssl.create_default_context()
            if endpoint.insecure_tls:
                ctx.check_hostname = False
                ctx.verify_mode = ssl.CERT_NONE
            self.conn: http.client.HTTPConnection = http.client.HTTPSConnection(
                parts.hostname or "", port, timeout=timeout, context=ctx
            )
        else:
            self.conn = http.client.HTTPConnection(parts.hostname or "", port, timeout=timeout)

    def close(self) -> None:
        sock = self.conn.sock
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
        self.conn.close()

    def request(
        self, method: str, path: str, body: dict[str, Any] | None = None, read_timeout: float | None = None
    ) -> http.client.HTTPResponse:
        """Send and wait for the answer's head. ``read_timeout``: once connected, how long each read may wait
        (a streaming server may think a minute before it answers); the connect itself keeps the short timeout."""
        headers = {"Accept": "application/json, text/event-stream", "User-Agent": "Studio"}
        if self.endpoint.key:
            headers["Authorization"] = f"Bearer {self.endpoint.key}"
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        try:
            if read_timeout is not None:
                self.conn.connect()
                if self.conn.sock is not None:
                    self.conn.sock.settimeout(read_timeout)
            self.conn.request(method, self._path_prefix + path, body=data, headers=headers)
            resp = self.conn.getresponse()
        except ssl.SSLCertVerificationError as e:
            raise ServerError(
                f"The certificate of {self.endpoint.where()} could not be verified ({e.verify_message}). If you "
                "trust this server (a self-signed certificate), allow it in the server's settings.",
                repr(e),
            ) from e
        except ConnectionRefusedError as e:
            raise ServerError(
                f"The server at {self.endpoint.where()} does not answer (connection refused): is it running?",
                repr(e),
            ) from e
        except TimeoutError as e:
            raise ServerError(
                f"The server at {self.endpoint.where()} did not answer in time.", repr(e)
            ) from e
        except (OSError, http.client.HTTPException) as e:
            raise ServerError(f"Could not reach the server at {self.endpoint.where()}: {e}.", repr(e)) from e
        if resp.status >= 400:
            raise error_for(resp, self.endpoint)
        return resp


def error_for(resp: http.client.HTTPResponse, endpoint: Endpoint) -> ServerError:
    """One sentence for an HTTP error, with the server's own message when it gave one (OpenAI's error format)."""
    try:
        raw = resp.read(64 * 1024)
    except (OSError, http.client.HTTPException):
        raw = b""
    body = parse_json(raw) if raw else {}
    message = ""
    if isinstance(body, dict):
        err = body.get("error", body.get("detail", body.get("message")))
        message = text(err.get("message")) if isinstance(err, dict) else text(err)
    if not message:
        message = raw.decode("utf-8", errors="replace")[:300].strip()
    where, code = endpoint.where(), resp.status
    if code in (401, 403):
        return ServerError(f"The server at {where} refused the API key (HTTP {code}): check the key saved for it.",
                           message, code)  # fmt: skip
    if code == 404:
        return ServerError(f"The server at {where} has no such model or path (HTTP 404): {message or 'not found'}.",
                           message, code)  # fmt: skip
    if code == 429:
        return ServerError(f"The server at {where} is busy (HTTP 429): try again in a moment.", message, code)
    return ServerError(f"The server at {where} failed (HTTP {code}){': ' + message[:300] if message else ''}.",
                       message, code)  # fmt: skip


def get_json(endpoint: Endpoint, path: str, timeout: float = 10.0) -> Any:
    """GET and parse JSON, in ``timeout`` seconds *in all* (a server that drips a byte every few seconds is given
    up on at the deadline, not waited for forever)."""
    c = Connection(endpoint, timeout)
    deadline = time.monotonic() + timeout
    try:
        resp = c.request("GET", path)
        raw = read_until(resp, MAX_BODY + 1, deadline, c)
    except TimeoutError as e:
        raise ServerError(
            f"The server at {endpoint.where()} did not answer in {timeout:.0f} s.", repr(e)
        ) from e
    except (OSError, http.client.HTTPException, ValueError) as e:
        raise ServerError(f"The connection to {endpoint.where()} broke off.", repr(e)) from e
    finally:
        c.close()
    value = parse_json(raw, max_bytes=MAX_BODY)
    if isinstance(value, Unreadable):
        raise ServerError(
            f"The server at {endpoint.where()} sent an answer Studio cannot read ({value.why})."
        )
    return value


def read_until(resp: http.client.HTTPResponse, limit: int, deadline: float, c: Connection) -> bytes:
    """The answer's body, at most ``limit`` bytes, read before ``deadline`` (TimeoutError after it)."""
    chunks: list[bytes] = []
    got = 0
    while got < limit:
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError("the answer took too long")
        if c.conn.sock is not None:
            c.conn.sock.settimeout(left)  # (a timeout ends this read for good: it is the last one)
        chunk = resp.read1(min(65536, limit - got))
        if not chunk:
            break
        chunks.append(chunk)
        got += len(chunk)
    return b"".join(chunks)


def stream_events(
    endpoint: Endpoint,
    path: str,
    body: dict[str, Any],
    cancel: CancelToken,
    idle_timeout: float = IDLE_TIMEOUT,
    max_seconds: float = MAX_STREAM_SECONDS,
) -> Iterator[Any]:
    """POST ``body`` with ``stream: true`` and yield each server-sent event's JSON data until ``[DONE]``.

    Reads block (no short socket timeouts: after one, Python's socket file refuses every later read), so a server
    may think for minutes before its first token (a long prefill) or pause seconds between tokens. Cancel closes
    the connection from the cancelling thread, which ends a waiting read at once. Bounded: ``idle_timeout``
    seconds without an event (keep-alive comments do not count), ``max_seconds`` in all, ``MAX_STREAM_BYTES``
    read, ``MAX_LINE`` per event; a stream that ends without ``[DONE]`` (or a finish reason) raises."""
    c = Connection(endpoint)
    with cancel.closing(c.close):
        try:
            resp = c.request("POST", path, {**body, "stream": True}, read_timeout=idle_timeout)
        except ServerError:
            if cancel.cancelled:
                raise JobCancelled() from None
            raise
        try:
            yield from _events(resp, endpoint, cancel, idle_timeout, max_seconds)
        finally:
            c.close()


def _events(
    resp: http.client.HTTPResponse, endpoint: Endpoint, cancel: CancelToken, idle: float, max_seconds: float
) -> Iterator[Any]:
    where = endpoint.where()
    started = last_event = time.monotonic()
    buffer = b""
    total = 0
    finished = (
        False  # a choice said its finish_reason: some servers (transformers serve) end there, no [DONE]
    )
    while True:
        if cancel.cancelled:
            raise JobCancelled()
        try:
            chunk = resp.read1(65536)
        except (OSError, http.client.HTTPException, ValueError, AttributeError) as e:
            # (a connection closed under a chunked read surfaces as ValueError or AttributeError in http.client)
            if cancel.cancelled:
                raise JobCancelled() from None
            if isinstance(e, TimeoutError):
                raise ServerError(f"The server at {where} sent nothing for {idle:.0f} s and was given up on; "
                                  "what it wrote so far is kept.") from None  # fmt: skip
            raise ServerError(f"The connection to {where} broke off mid-stream; what it wrote so far "
                              "is kept.", repr(e)) from e  # fmt: skip
        if cancel.cancelled:
            raise JobCancelled()
        if not chunk:
            if finished:
                return
            raise ServerError(f"The server at {where} ended the stream before it was done; what it "
                              "wrote so far is kept.")  # fmt: skip
        now = time.monotonic()
        total += len(chunk)
        if total > MAX_STREAM_BYTES:
            raise ServerError(f"The server at {where} sent more than {MAX_STREAM_BYTES // 2**20} MB in one "
                              "answer; it was cut off there and what it wrote so far is kept.")  # fmt: skip
        if now - started > max_seconds:
            raise ServerError(f"The server at {where} was still writing after {max_seconds / 60:.0f} minutes; "
                              "it was cut off there and what it wrote so far is kept.")  # fmt: skip
        buffer += chunk
        if len(buffer) > MAX_LINE:
            raise ServerError(f"The server at {where} sent an event too large to read.")
        *lines, buffer = buffer.split(b"\n")
        got_event = False
        for raw in lines:
            line = raw.strip()
            if not line.startswith(b"data:"):
                continue  # ": keep-alive" comments, event names, ids
            data = line[5:].strip()
            if data == b"[DONE]":
                return
            event = parse_json(data, max_bytes=MAX_LINE)
            if isinstance(event, Unreadable):
                continue  # a keep-alive of another shape
            got_event = True
            if isinstance(event, dict) and "error" in event:
                err = event["error"]
                message = text(err.get("message")) if isinstance(err, dict) else text(err)
                raise ServerError(f"The server at {where} failed mid-stream: {message[:300]}.")
            if isinstance(event, dict) and any(
                isinstance(c, dict) and c.get("finish_reason") for c in lst(event.get("choices"))
            ):
                finished = True
            yield event
        if got_event:
            last_event = now
        elif now - last_event > idle:  # only keep-alive comments for too long
            raise ServerError(f"The server at {where} sent no text for {idle:.0f} s (only keep-alive "
                              "messages) and was given up on; what it wrote so far is kept.")  # fmt: skip
