"""A hostile (or compromised) hub on 127.0.0.1 answers with file names that climb out of the cache, absolute
paths, names through symbolic links, and ids that are not hashes: nothing is written outside the cache, and the
download fails with a reason."""

from __future__ import annotations

import hashlib
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from studio.core.models.downloads import DownloadError, download, plan_download

COMMIT = "0123456789abcdef0123456789abcdef01234567"
BODY = b"owned"
SHA = hashlib.sha256(BODY).hexdigest()


def _serve(siblings: list[dict], sha: str = COMMIT) -> tuple[str, ThreadingHTTPServer]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):  # quiet
            pass

        def do_GET(self):  # noqa: N802
            if self.path.startswith("/api/models/"):
                body = json.dumps({"sha": sha, "siblings": siblings}).encode()
            else:
                body = BODY
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return f"http://127.0.0.1:{server.server_address[1]}", server


def _file(name: str, **extra) -> dict:
    return {"rfilename": name, "size": len(BODY), "lfs": {"sha256": SHA, "size": len(BODY)}, **extra}


HOSTILE = [
    ("climbing out", [_file("../../../outside.txt")]),
    ("deep climb", [_file("a/../../../../outside.txt")]),
    ("absolute", [_file("/tmp/outside-absolute.txt")]),
    ("backslashes", [_file("..\\..\\outside.txt")]),
    ("empty part", [_file("a//b.txt")]),
    ("control characters", [_file("a\nb.txt")]),
    ("blob id escape", [{"rfilename": "ok.txt", "size": 5, "blobId": "../../../outside"}]),
    ("lfs id escape", [{"rfilename": "ok.txt", "size": 5, "lfs": {"sha256": "../../x", "size": 5}}]),
    ("not a list", "siblings"),
]


@pytest.mark.parametrize(("what", "siblings"), HOSTILE, ids=[h[0] for h in HOSTILE])
def test_hostile_names_are_refused_and_nothing_lands_outside_the_cache(tmp_path, monkeypatch, what, siblings):
    url, server = _serve(siblings if isinstance(siblings, list) else "siblings")  # type: ignore[arg-type]
    monkeypatch.setenv("HF_HUB_OFFLINE", "0")
    cache = tmp_path / "deep" / "er" / "cache"
    cache.mkdir(parents=True)
    before = {p for p in tmp_path.rglob("*")}
    try:
        with pytest.raises(DownloadError) as info:
            plan = plan_download("evil/repo", hub=url)
            download(plan, cache)
    finally:
        server.shutdown()
    assert info.value.user_message
    outside = {p for p in tmp_path.rglob("*")} - before
    assert all(cache in p.parents or p == cache for p in outside), outside
    assert not Path("/tmp/outside-absolute.txt").exists()


def test_a_symlink_planted_in_the_snapshot_cannot_carry_a_file_out(tmp_path, monkeypatch):
    url, server = _serve([_file("sub/file.txt")])
    monkeypatch.setenv("HF_HUB_OFFLINE", "0")
    cache = tmp_path / "cache"
    target = tmp_path / "elsewhere"
    target.mkdir()
    snapshot = cache / "models--evil--repo" / "snapshots" / COMMIT
    snapshot.mkdir(parents=True)
    (snapshot / "sub").symlink_to(target)  # left by a hostile earlier answer, or planted
    try:
        plan = plan_download("evil/repo", hub=url)
        with pytest.raises(DownloadError, match="outside the cache"):
            download(plan, cache)
    finally:
        server.shutdown()
    assert list(target.iterdir()) == []


def test_a_commit_that_is_not_a_hash_is_refused(tmp_path, monkeypatch):
    url, server = _serve([_file("ok.txt")], sha="../../../../tmp")
    monkeypatch.setenv("HF_HUB_OFFLINE", "0")
    try:
        with pytest.raises(DownloadError, match="commit"):
            plan_download("evil/repo", hub=url)
    finally:
        server.shutdown()
