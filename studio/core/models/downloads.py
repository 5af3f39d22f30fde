"""Fetching models from the Hugging Face Hub into the Hugging Face cache: progress, cancel and resume.

huggingface_hub names the files, URLs, auth headers and cache layout (``models--org--name/blobs``,
``snapshots/<commit>/…`` links, ``refs/<branch>``), so a downloaded model is found by every library that reads
the cache (``from_pretrained(..., local_files_only=True)``, ``hf_hub_download(local_files_only=True)``).
The transfer itself is Studio's: huggingface_hub 2.x writes each download to a per-process temporary file that
it deletes when interrupted, so a 7 GB checkpoint cut off at 90 % would start again from zero. Studio keeps the
partial blob as ``blobs/<etag>.incomplete`` and continues it with an HTTP Range request — after a cancel, a lost
connection, a crash or a restart. LFS files are checked against their SHA-256 before they enter the cache.
"""

from __future__ import annotations

import contextlib
import fnmatch
import hashlib
import http.client
import os
import re
import shutil
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from studio.core.io.atomic import atomic_write_text
from studio.core.io.untrusted import Unreadable, integer, lst, obj, parse_json, text
from studio.core.io.words import duration, size
from studio.core.jobs.cancel import CancelToken
from studio.core.jobs.errors import ErrorKind, StudioError

CHUNK = 1 << 20
DEFAULT_ENDPOINT = "https://huggingface.co"


class DownloadError(StudioError):
    def __init__(self, message: str, details: str = ""):
        super().__init__(ErrorKind.IO, message, details, field="download")


@dataclass(frozen=True)
class RemoteFile:
    name: str  # path inside the repo
    size: int
    etag: str  # the blob's name in the cache: the LFS SHA-256, else the git blob id
    sha256: str = ""  # for LFS files: checked after the transfer


@dataclass(frozen=True)
class DownloadPlan:
    repo_id: str
    revision: str
    commit: str
    files: tuple[RemoteFile, ...]
    endpoint: str
    filename: str | None = None  # one file was asked for

    @property
    def total(self) -> int:
        return sum(f.size for f in self.files)


@dataclass
class DownloadProgress:
    repo_id: str
    file: str = ""
    done: int = 0  # bytes on disk, resumed ones included
    total: int = 0
    files_done: int = 0
    files_total: int = 0
    speed: float = 0.0  # bytes/s over the last few seconds
    resumed: int = 0  # bytes that were already there from an earlier, interrupted attempt
    _marks: list[tuple[float, int]] = field(default_factory=list, repr=False)

    @property
    def eta_s(self) -> float | None:
        return (self.total - self.done) / self.speed if self.speed > 0 else None

    def text(self) -> str:
        """``1.2 GB of 4.0 GB · 35.2 MB/s · 1 min 20 s left`` — what the progress bar says."""
        parts = [f"{size(self.done)} of {size(self.total)}"]
        if self.speed > 0:
            parts.append(f"{size(int(self.speed))}/s")
        if (eta := self.eta_s) is not None:
            parts.append(f"{duration(eta)} left")
        return " · ".join(parts)

    def _tick(self, now: float) -> None:
        self._marks.append((now, self.done))
        while len(self._marks) > 2 and now - self._marks[0][0] > 3.0:
            self._marks.pop(0)
        t0, b0 = self._marks[0]
        if now > t0:
            self.speed = (self.done - b0) / (now - t0)


def is_offline() -> bool:
    return os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in ("1", "true", "yes", "on")


def endpoint() -> str:
    return os.environ.get("HF_ENDPOINT", "").rstrip("/") or DEFAULT_ENDPOINT


def _headers(token: str | None) -> dict[str, str]:
    from huggingface_hub.utils import build_hf_headers

    # token=None: huggingface_hub's own (HF_TOKEN or a saved login); "" means none at all.
    return build_hf_headers(token=False if token == "" else token, library_name="studio")


def _open(url: str, headers: dict[str, str], timeout: float = 30.0):
    req = urllib.request.Request(url, headers=headers)
    try:
        return urllib.request.urlopen(req, timeout=timeout)  # noqa: S310 - an https/http hub endpoint
    except urllib.error.HTTPError as e:
        raise _http_error(e, url) from e
    except (urllib.error.URLError, TimeoutError, ConnectionError, OSError) as e:
        raise DownloadError(
            f"Could not reach {urllib.parse.urlsplit(url).netloc}: you seem to be offline (or "
            "the server is down). Models already on disk keep working; try again when online.",
            repr(e),
        ) from e


def _http_error(e: urllib.error.HTTPError, url: str) -> DownloadError:
    if e.code in (401, 403):
        return DownloadError(
            "This repository is gated or private: accept its licence on its Hugging Face page, "
            "then give an access token (huggingface.co/settings/tokens).",
            f"HTTP {e.code} for {url}",
        )
    if e.code == 404:
        return DownloadError(
            "Not found on the Hub: check the repository id (owner/name) and the file name.",
            f"HTTP 404 for {url}",
        )
    return DownloadError(f"The Hub answered HTTP {e.code}; try again later.", f"HTTP {e.code} for {url}")


def plan_download(
    repo_id: str,
    filename: str | None = None,
    *,
    revision: str = "main",
    allow_patterns: list[str] | None = None,
    token: str | None = None,
    hub: str | None = None,
) -> DownloadPlan:
    """Ask the Hub what ``repo_id`` holds at ``revision`` (one API call): the commit, files, sizes and hashes."""
    repo_id = repo_id.strip().strip("/")
    if repo_id.count("/") != 1 or any(not part for part in repo_id.split("/")):
        raise DownloadError(f"{repo_id!r} is not a Hugging Face repository id; write it as owner/name.")
    if is_offline():
        raise DownloadError(
            "Studio is offline (HF_HUB_OFFLINE is set): downloads are off. Models already on disk "
            "keep working."
        )
    hub = (hub or endpoint()).rstrip("/")
    url = f"{hub}/api/models/{repo_id}/revision/{urllib.parse.quote(revision, safe='')}?blobs=true"
    with _open(url, _headers(token)) as resp:
        try:
            body = resp.read(MAX_ANSWER + 1)
        except (OSError, http.client.HTTPException) as e:
            raise DownloadError("The connection broke off while asking the Hub; try again.", repr(e)) from e
    info = parse_json(body, max_bytes=MAX_ANSWER, max_depth=16)
    if not isinstance(info, dict):
        why = info.why if isinstance(info, Unreadable) else "not a JSON object"
        raise DownloadError("The Hub sent an answer Studio cannot read.", why)
    commit = text(info.get("sha"))
    if not _COMMIT.fullmatch(commit):
        raise DownloadError(
            "The Hub sent an answer Studio will not use (its commit id is not one).", commit[:100]
        )
    files = []
    for s in lst(info.get("siblings")):
        s = obj(s)
        name = text(s.get("rfilename"))
        if filename is not None and name != filename:
            continue
        if allow_patterns and not any(fnmatch.fnmatch(name, p) for p in allow_patterns):
            continue
        if problem := unsafe_name(name):
            raise DownloadError(
                f"The server named a file {name[:80]!r}, which Studio will not write ({problem}); nothing was "
                "downloaded. The server may be misconfigured or hostile.",
                name[:1000],
            )
        lfs = obj(s.get("lfs"))
        sha = text(lfs.get("sha256")).lower()
        etag = sha or text(s.get("blobId")).lower()
        if (sha and not _SHA256.fullmatch(sha)) or not (_SHA256.fullmatch(etag) or _COMMIT.fullmatch(etag)):
            raise DownloadError(
                f"The server sent a file id for {name[:80]!r} that is not a hash; nothing was downloaded.",
                etag[:100],
            )
        size = integer(s.get("size"), None) or integer(lfs.get("size"), 0) or 0
        if not 0 <= size < 1 << 50:
            raise DownloadError(f"The server gave {name[:80]!r} an impossible size; nothing was downloaded.")
        files.append(RemoteFile(name, size, etag, sha))
    if filename is not None and not files:
        raise DownloadError(f"{repo_id} has no file named {filename}.")
    if not files:
        raise DownloadError(f"Nothing to download from {repo_id} (no files match).")
    return DownloadPlan(repo_id, revision, commit, tuple(files), hub, filename)


MAX_ANSWER = 32 * 1024 * 1024  # a repository listing with tens of thousands of files is a few megabytes
_COMMIT = re.compile(r"[0-9a-f]{40}")
_SHA256 = re.compile(r"[0-9a-f]{64}")


def unsafe_name(name: str) -> str:
    """Why a file name from a server must not become a path ('' when it is a plain relative path inside the
    repository): empty, absolute, '..' or '.' parts, backslashes, drive letters, control characters."""
    if not name or len(name) > 1000:
        return "an empty or overlong name"
    if name.startswith("/") or "\\" in name or (len(name) > 1 and name[1] == ":"):
        return "an absolute path"
    if any(ord(c) < 32 or c == "\x7f" for c in name):
        return "control characters"
    parts = name.split("/")
    if any(p in ("", ".", "..") for p in parts):
        return "a path that leaves its folder"
    return ""


def _confined(root: Path, relative: str) -> Path:
    """``root / relative``, refused when it would land outside ``root`` (through '..' or a symbolic link)."""
    target = root / relative
    real_root = root.resolve()
    parent = target.parent.resolve()
    if parent != real_root and real_root not in parent.parents:
        raise DownloadError(
            f"{relative[:80]!r} would be written outside the cache; nothing was written there."
        )
    return target


def repo_cache_dir(cache: Path, repo_id: str) -> Path:
    from huggingface_hub.file_download import repo_folder_name

    return cache / repo_folder_name(repo_id=repo_id, repo_type="model")


def download(
    plan: DownloadPlan,
    cache: Path,
    *,
    token: str | None = None,
    cancel: CancelToken | None = None,
    on_progress: Callable[[DownloadProgress], None] = lambda p: None,
    report_every_s: float = 0.1,
) -> Path:
    """Fetch the planned files into the HF cache; returns the snapshot folder (or the one file's path).

    Cancelling (``cancel``) keeps the partial blob: the same download started later continues from it.
    """
    from huggingface_hub import hf_hub_url

    cancel = cancel or CancelToken()
    repo = repo_cache_dir(cache, plan.repo_id)
    if not _COMMIT.fullmatch(plan.commit):
        raise DownloadError("The download plan has no valid commit id.")
    blobs, snapshot = repo / "blobs", repo / "snapshots" / plan.commit
    blobs.mkdir(parents=True, exist_ok=True)
    snapshot.mkdir(parents=True, exist_ok=True)
    for f in plan.files:  # all names checked before a single byte is written
        if problem := unsafe_name(f.name):
            raise DownloadError(f"{f.name[:80]!r} is not a file name Studio will write ({problem}).")
        _confined(snapshot, f.name)
    progress = DownloadProgress(plan.repo_id, total=plan.total, files_total=len(plan.files))
    headers = _headers(token)
    last = 0.0
    for f in plan.files:
        progress.file = f.name
        blob = blobs / f.etag
        link = _confined(snapshot, f.name)
        if blob.is_file():
            progress.done += f.size
        else:
            partial = blobs / f"{f.etag}.incomplete"
            have = partial.stat().st_size if partial.is_file() else 0
            if have > f.size:
                partial.unlink()
                have = 0
            progress.done += have
            progress.resumed += have
            digest = hashlib.sha256()
            if have and f.sha256:
                with open(partial, "rb") as old:
                    while chunk := old.read(CHUNK):
                        digest.update(chunk)
            url = hf_hub_url(plan.repo_id, f.name, revision=plan.commit, endpoint=plan.endpoint)
            if have < f.size or f.size == 0:
                req_headers = {**headers, **({"Range": f"bytes={have}-"} if have else {})}
                with _open(url, req_headers) as resp:
                    if have and resp.status != 206:  # the server ignored the range: start the file again
                        progress.done -= have
                        have = 0
                        digest = hashlib.sha256()
                    with open(partial, "r+b" if have else "wb") as out:
                        out.seek(have)
                        while True:
                            if cancel.cancelled:
                                out.flush()
                                os.fsync(out.fileno())
                                cancel.raise_if_cancelled()
                            try:
                                chunk = resp.read(CHUNK)
                            except (OSError, TimeoutError, http.client.HTTPException) as e:
                                raise DownloadError(
                                    "The connection broke off; start the download again to continue "
                                    "where it stopped.",
                                    repr(e),
                                ) from e
                            if not chunk:
                                break
                            out.write(chunk)
                            digest.update(chunk)
                            progress.done += len(chunk)
                            now = time.monotonic()
                            if now - last >= report_every_s:
                                last = now
                                progress._tick(now)
                                on_progress(progress)
                        out.flush()
                        os.fsync(out.fileno())
            got = partial.stat().st_size
            if got != f.size:
                raise DownloadError(
                    f"{f.name} arrived incomplete ({got} of {f.size} bytes); start the download "
                    "again to continue."
                )
            if f.sha256 and digest.hexdigest() != f.sha256:
                partial.unlink()
                raise DownloadError(
                    f"{f.name} arrived damaged (its SHA-256 does not match); it was removed, start "
                    "the download again."
                )
            os.replace(partial, blob)
        _link(blob, link)
        progress.files_done += 1
        progress._tick(time.monotonic())
        on_progress(progress)
    if plan.revision != plan.commit and not unsafe_name(plan.revision):
        refs = repo / "refs"
        refs.mkdir(exist_ok=True)
        ref = _confined(refs, plan.revision)
        ref.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_text(ref, plan.commit)
    return snapshot / plan.filename if plan.filename else snapshot


def _link(blob: Path, link: Path) -> None:
    """``snapshots/<commit>/<name>`` → the blob, as a relative symlink (a copy where links are not allowed)."""
    link.parent.mkdir(parents=True, exist_ok=True)
    _confined(link.parent, link.name)  # the folders just made are inside the snapshot, not through a link
    if link.is_symlink() or link.exists():
        link.unlink()
    try:
        link.symlink_to(os.path.relpath(blob, link.parent))
    except OSError:
        with contextlib.suppress(OSError):
            shutil.copy2(blob, link)
