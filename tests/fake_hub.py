"""A local HTTP server that answers like the Hugging Face Hub for the few calls Studio makes (never the internet)."""

from __future__ import annotations

import hashlib
import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class FakeRepo:
    files: dict[str, bytes]
    commit: str = "0123456789abcdef0123456789abcdef01234567"
    token: str = ""  # when set, the repo is gated: requests need "Authorization: Bearer <token>"
    lfs: tuple[str, ...] = (".safetensors", ".bin")


@dataclass
class FakeHub:
    repos: dict[str, FakeRepo]
    ranges: list[str] = field(default_factory=list)  # the Range headers received, in order
    cut_after: int | None = None  # close the connection after sending this many bytes of a file (once)
    corrupt: bool = False  # send wrong bytes
    chunk_delay: float = (
        0.0  # seconds between 64 KB pieces of a file (a slow line, to interrupt mid-transfer)
    )

    def start(self) -> tuple[str, ThreadingHTTPServer]:
        hub = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # quiet
                pass

            def _repo(self, repo_id: str) -> FakeRepo | None:
                repo = hub.repos.get(repo_id)
                if repo is None:
                    self.send_error(404)
                    return None
                if repo.token and self.headers.get("Authorization") != f"Bearer {repo.token}":
                    self.send_error(401)
                    return None
                return repo

            def do_GET(self):  # noqa: N802
                path = self.path.split("?")[0]
                if path.startswith("/api/models/"):
                    rest = path.removeprefix("/api/models/")
                    repo_id, _, _rev = rest.partition("/revision/")
                    repo = self._repo(repo_id)
                    if repo is None:
                        return
                    siblings = []
                    for name, data in repo.files.items():
                        s = {
                            "rfilename": name,
                            "size": len(data),
                            "blobId": hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest(),
                        }
                        if name.endswith(repo.lfs):
                            s["lfs"] = {"sha256": hashlib.sha256(data).hexdigest(), "size": len(data)}
                        siblings.append(s)
                    body = json.dumps({"id": repo_id, "sha": repo.commit, "siblings": siblings}).encode()
                    self.send_response(200)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                    return
                parts = path.lstrip("/").split("/")
                if len(parts) < 5 or parts[2] != "resolve":
                    self.send_error(404)
                    return
                repo = self._repo("/".join(parts[:2]))
                if repo is None:
                    return
                name = "/".join(parts[4:])
                data = repo.files.get(name)
                if data is None:
                    self.send_error(404)
                    return
                if hub.corrupt:
                    data = bytes(len(data))
                start = 0
                rng = self.headers.get("Range")
                if rng:
                    hub.ranges.append(rng)
                    start = int(rng.removeprefix("bytes=").split("-")[0])
                    self.send_response(206)
                    self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
                else:
                    self.send_response(200)
                body = data[start:]
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if hub.cut_after is not None and len(body) > hub.cut_after:
                    self.wfile.write(body[: hub.cut_after])
                    self.wfile.flush()
                    hub.cut_after = None
                    self.close_connection = True
                    return
                if hub.chunk_delay:
                    import time

                    for i in range(0, len(body), 1 << 16):
                        self.wfile.write(body[i : i + (1 << 16)])
                        self.wfile.flush()
                        time.sleep(hub.chunk_delay)
                    return
                self.wfile.write(body)

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        return f"http://127.0.0.1:{server.server_address[1]}", server
