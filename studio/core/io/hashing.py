"""File hashes as other tools show them, computed once (streamed) and cached by path, size and mtime."""

from __future__ import annotations

import hashlib
import json
import struct
import threading
from pathlib import Path

from studio.core.io.atomic import atomic_write_text
from studio.core.io.untrusted import obj, read_json, regular_file_problem

CHUNK = 1 << 20


def sha256_file(path: Path, *, skip: int = 0) -> str:
    if problem := regular_file_problem(path):  # a pipe would block the reader for ever
        raise OSError(problem)
    h = hashlib.sha256()
    with open(path, "rb") as f:
        f.seek(skip)
        while chunk := f.read(CHUNK):
            h.update(chunk)
    return h.hexdigest()


def safetensors_data_offset(path: Path) -> int:
    """Where a safetensors file's tensor data starts (after the 8-byte length and the JSON header)."""
    with open(path, "rb") as f:
        raw = f.read(8)
    if len(raw) != 8:
        raise ValueError(f"{path} is too short to be a safetensors file")
    (n,) = struct.unpack("<Q", raw)
    return 8 + n


class HashCache:
    """SHA-256 of files, remembered in a JSON file keyed by path + size + mtime."""

    def __init__(self, cache_file: Path):
        self._file = cache_file
        self._lock = threading.Lock()
        # A cache of the files' hashes: a damaged one is simply started again (the files are the truth).
        raw = read_json(cache_file, max_bytes=64 * 1024 * 1024, max_depth=2)
        self._data: dict[str, str] = {
            k: v for k, v in obj(raw).items() if isinstance(v, str) and len(v) <= 64 and len(k) <= 8192
        }

    def _key(self, path: Path, kind: str) -> str:
        st = path.stat()
        return f"{kind}|{path.resolve()}|{st.st_size}|{st.st_mtime_ns}"

    def _get(self, path: Path, kind: str, compute) -> str:
        key = self._key(path, kind)
        with self._lock:
            if key in self._data:
                return self._data[key]
        digest = compute()
        with self._lock:
            self._data[key] = digest
            self._save()
        return digest

    def known(self, path: Path, kind: str = "sha256") -> bool:
        """Whether the hash of this exact file (same size and mtime) is already computed."""
        key = self._key(path, kind)
        with self._lock:
            return key in self._data

    def sha256(self, path: Path) -> str:
        return self._get(path, "sha256", lambda: sha256_file(path))

    def a1111_model_hash(self, path: Path) -> str:
        """AUTOMATIC1111's "Model hash" (AutoV2): the first 10 hex digits of the file's SHA-256."""
        return self.sha256(path)[:10]

    def a1111_lora_hash(self, path: Path) -> str:
        """AUTOMATIC1111's LoRA hash: first 12 hex digits of the SHA-256 of the tensor data after the header."""
        if path.suffix.lower() != ".safetensors":
            return self.sha256(path)[:12]
        return self._get(path, "lora", lambda: sha256_file(path, skip=safetensors_data_offset(path)))[:12]

    def _save(self) -> None:
        try:
            self._file.parent.mkdir(parents=True, exist_ok=True)
            atomic_write_text(self._file, json.dumps(self._data))
        except OSError:
            pass  # a cache: losing it costs only time
