"""The meanings of a story's notes: sentence embeddings (the packaged all-MiniLM-L6-v2, the model behind the
Gallery's search by meaning), kept by the text's hash in memory and on disk, so that a Continue embeds only the
text before the cursor and the notes that changed; the similarity is the cosine. Nothing leaves the machine."""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

MAX_KEPT = 50_000  # vectors kept (384 floats each: about 75 MB at most on disk)
BATCH = 32


def _key(text: str) -> str:
    return hashlib.sha1(text.encode("utf-8", "replace")).hexdigest()


class NoteVectors:
    """``similar(query, texts)``: each text's cosine similarity to ``query``. The model is loaded on first use;
    ``LookupError`` (the model's absence, said in a sentence) is the caller's cue to fall back."""

    def __init__(self, make_embed: Callable[[], Any], cache_file: Path | None = None):
        self._make_embed = make_embed
        self._embed: Any = None
        self._failed = ""
        self.cache_file = cache_file
        self._vectors: OrderedDict[str, np.ndarray] = OrderedDict()
        self._loaded_file = False
        self._lock = threading.Lock()
        self._made = threading.Lock()  # the model is made once, whichever thread asks first

    @property
    def model_name(self) -> str:
        """The embedding model's name, once it is loaded."""
        return str(getattr(self._embed, "name", "all-MiniLM-L6-v2")) if self._embed is not None else ""

    def _model(self) -> Any:
        with self._made:
            if self._failed:
                raise LookupError(self._failed)
            if self._embed is None:
                try:
                    self._embed = self._make_embed()
                except LookupError as e:
                    self._failed = str(e)
                    raise
            return self._embed

    def _read_file(self) -> None:
        if self._loaded_file or self.cache_file is None:
            return
        self._loaded_file = True
        try:
            with np.load(self.cache_file, allow_pickle=False) as data:
                keys, vectors = data["keys"], data["vectors"]
                if vectors.ndim == 2 and len(keys) == len(vectors):
                    for k, v in zip(keys.tolist(), vectors, strict=True):
                        self._vectors[str(k)] = v.astype(np.float32)
        except (OSError, ValueError, KeyError, EOFError):
            pass  # a cache: a damaged one is made again from the notes

    def _write_file(self) -> None:
        if self.cache_file is None or not self._vectors:
            return
        from studio.core.io.atomic import atomic_write

        keys = np.array(list(self._vectors), dtype="U40")
        vectors = np.stack(list(self._vectors.values()))
        try:
            self.cache_file.parent.mkdir(parents=True, exist_ok=True)
            atomic_write(self.cache_file, lambda f: np.savez(f, keys=keys, vectors=vectors))
        except OSError:
            pass  # the next start embeds them again

    def vectors(self, texts: Sequence[str]) -> np.ndarray:
        """One unit vector per text; only the texts not seen before are embedded (by this model: the key holds its
        name, so another model's vectors are never mixed in)."""
        embed = self._model()
        model = str(getattr(embed, "name", "all-MiniLM-L6-v2"))
        with self._lock:
            self._read_file()
            keys = [_key(f"{model}\n{t}") for t in texts]
            todo = list(dict.fromkeys(k for k in keys if k not in self._vectors))
            if todo:
                by_key = {k: t for k, t in zip(keys, texts, strict=True)}
                for i in range(0, len(todo), BATCH):
                    batch = todo[i : i + BATCH]
                    for k, v in zip(batch, embed([by_key[k] for k in batch]), strict=True):
                        self._vectors[k] = np.asarray(v, dtype=np.float32)
                while len(self._vectors) > MAX_KEPT:
                    self._vectors.popitem(last=False)
            for k in keys:
                self._vectors.move_to_end(k)
            out = np.stack([self._vectors[k] for k in keys]) if keys else np.zeros((0, 1), np.float32)
        if len(todo) > 1:  # the notes changed: kept for the next start (a query alone is not worth a write)
            self._write_file()
        return out

    def similar(self, query: str, texts: Sequence[str]) -> list[float]:
        if not texts:
            return []
        query_vector = np.asarray(self._model()([query])[0], dtype=np.float32)
        return [float(s) for s in self.vectors(texts) @ query_vector]
