"""A word's neighbours in the text encoder's embedding space: the rows of the CLIP text encoder's token-embedding
table nearest (by cosine) to the word's own, read straight from the model's safetensors (no model is loaded;
F32, F16 and BF16 tables are read as they are stored) — where the model places "car" among the words it knows."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import numpy as np

from studio.core.image.tokens import ClipTokens
from studio.core.io.safetensors_header import HeaderError, read_header
from studio.core.io.untrusted import is_file

TABLE = (
    "token_embedding.weight"  # the end of the table's name in every layout (diffusers, A1111, SD 2.x, SDXL)
)
MAX_CELLS = 200_000_000  # a vocabulary × width larger than this is not a CLIP token table
_DTYPES = {"F32": np.float32, "F16": np.float16, "BF16": np.uint16}


def embedding_file(model: str) -> Path | None:
    """The file that holds the (first) text encoder's token table: a diffusers folder's text_encoder, or the
    single-file checkpoint itself."""
    path = Path(model)
    for name in ("model.safetensors", "model.fp16.safetensors"):
        if is_file(path / "text_encoder" / name):
            return path / "text_encoder" / name
    return path if path.suffix.lower() == ".safetensors" and is_file(path) else None


def _table_name(header: dict) -> str | None:
    names = sorted((k for k in header if k.endswith(TABLE)), key=lambda k: ("embedders.1" in k, len(k)))
    return names[0] if names else None


@lru_cache(maxsize=2)
def _table(file: str, stamp: float) -> np.ndarray:
    """The token table, each row scaled to unit length (float32)."""
    path = Path(file)
    try:
        header = read_header(path)
    except HeaderError as e:
        raise ValueError(str(e)) from e
    name = _table_name(header)
    if name is None:
        raise ValueError(f"{path.name} has no text-encoder token table ({TABLE}).")
    info = header[name]
    dtype, shape = _DTYPES.get(info["dtype"]), info["shape"]
    if dtype is None or len(shape) != 2 or not 0 < shape[0] * shape[1] <= MAX_CELLS:
        raise ValueError(f"{path.name}: its token table is {info['dtype']} {shape}, not one Studio reads.")
    start, end = info["data_offsets"]
    if end - start != shape[0] * shape[1] * np.dtype(dtype).itemsize:
        raise ValueError(f"{path.name}: its token table's size does not match its shape.")
    with open(path, "rb") as f:
        f.seek(8 + _header_length(path) + start)
        raw = np.frombuffer(f.read(end - start), dtype=dtype)
    values = (
        (raw.astype(np.uint32) << 16).view(np.float32) if info["dtype"] == "BF16" else raw.astype(np.float32)
    )
    table = values.reshape(shape)
    norms = np.linalg.norm(table, axis=1, keepdims=True)
    return table / np.maximum(norms, 1e-12)


def _header_length(path: Path) -> int:
    with open(path, "rb") as f:
        return int.from_bytes(f.read(8), "little")


def neighbours(model: str, tokens: ClipTokens, word: str, count: int = 12) -> list[tuple[str, float]]:
    """The ``count`` whole words nearest to ``word`` (a word of several tokens: the mean of their rows), with
    their cosine similarity, nearest first. ``ValueError`` with a sentence when it cannot be told."""
    word = word.strip()
    ids = tokens.ids(word)
    if not ids:
        raise ValueError("Choose a word first.")
    file = embedding_file(model)
    if file is None:
        raise ValueError(
            f"{Path(model).name}: no text encoder weights in safetensors to read the embeddings from."
        )
    table = _table(str(file), file.stat().st_mtime)
    if max(ids) >= len(table):
        raise ValueError(f"{Path(model).name}: its tokenizer and its text encoder do not match.")
    query = table[ids].mean(axis=0)
    query /= max(float(np.linalg.norm(query)), 1e-12)
    scores = table @ query
    own, seen, out = set(ids), {word.lower()}, []
    for i in np.argsort(-scores):
        if int(i) in own:
            continue
        text, whole = tokens.piece(int(i))
        text = text.strip()
        if not whole or len(text) < 2 or not text.isalpha() or text.lower() in seen:
            continue  # pieces of words, letters, punctuation and the same word again say little
        seen.add(text.lower())
        out.append((text, float(scores[i])))
        if len(out) >= count:
            break
    return out
