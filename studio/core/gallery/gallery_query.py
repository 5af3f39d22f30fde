"""What the gallery browser asks for: a filter turned into SQL over the index (and the user's stars and boards)."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any


@dataclass(frozen=True)
class GalleryFilter:
    text: str = (
        ""  # every word in the prompt, case-insensitive: 3+ letters anywhere, 1–2 letters as a word's start
    )
    model: str = ""
    sampler: str = ""
    size: tuple[int, int] | None = None
    date_from: float | None = None  # epoch seconds, inclusive
    date_to: float | None = None  # epoch seconds, exclusive
    starred: bool = False
    lora: str = ""
    board: int | None = None
    newest_first: bool = True
    meaning: bool = False  # the text is searched by meaning (the prompts' vectors), best first

    def with_(self, **kw: Any) -> GalleryFilter:
        return replace(self, **kw)


@dataclass(frozen=True)
class GalleryRow:
    id: int
    rel: str
    created: float
    prompt: str
    negative_prompt: str
    model: str
    sampler: str
    seed: str
    width: int
    height: int
    steps: int
    cfg_scale: float
    loras: str
    parent: str
    source: str
    starred: bool


ROW_COLUMNS = (
    "i.id, i.rel, i.created, i.prompt, i.negative_prompt, i.model, i.sampler, i.seed, i.width, i.height, "
    "i.steps, i.cfg_scale, i.loras, i.parent, i.source, (s.rel IS NOT NULL)"
)


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def text_queries(text: str) -> list[tuple[str, str]]:
    """(SELECT of matching image ids, its MATCH argument) for a search text: words of 3+ letters anywhere in the
    prompt (trigram index), shorter ones as the start of a word (word index with prefixes)."""
    words = text.split()
    out = []
    long_words = [w for w in words if len(w) >= 3]
    if long_words:
        out.append(
            (
                "SELECT rowid FROM images_fts WHERE images_fts MATCH ?",
                " AND ".join('"' + w.replace('"', '""') + '"' for w in long_words),
            )
        )
    short = ["".join(c for c in w if c.isalnum()) for w in words if len(w) < 3]
    short = [w for w in short if w]
    if short:
        out.append(
            (
                "SELECT rowid FROM images_words WHERE images_words MATCH ?",
                " AND ".join(f'"{w}"*' for w in short),
            )
        )
    return out


def where_clause(f: GalleryFilter) -> tuple[str, list[Any]]:
    """``WHERE …`` (may be empty) and its parameters, for ``images i LEFT JOIN lib.stars s``."""
    parts: list[str] = []
    args: list[Any] = []
    for sql, arg in text_queries(f.text):
        parts.append(f"i.id IN ({sql})")
        args.append(arg)
    if f.model:
        parts.append("i.model = ?")
        args.append(f.model)
    if f.sampler:
        parts.append("i.sampler = ?")
        args.append(f.sampler)
    if f.size:
        parts.append("i.width = ? AND i.height = ?")
        args.extend(f.size)
    if f.date_from is not None:
        parts.append("i.created >= ?")
        args.append(f.date_from)
    if f.date_to is not None:
        parts.append("i.created < ?")
        args.append(f.date_to)
    if f.starred:
        parts.append("s.rel IS NOT NULL")
    if f.lora:
        parts.append("(',' || i.loras || ',') LIKE ? ESCAPE '\\'")
        args.append(f"%,{_escape_like(f.lora)},%")
    if f.board is not None:
        parts.append("i.rel IN (SELECT rel FROM lib.board_items WHERE board_id = ?)")
        args.append(f.board)
    return (" WHERE " + " AND ".join(parts)) if parts else "", args


def order_clause(f: GalleryFilter) -> str:
    return " ORDER BY i.created DESC, i.id DESC" if f.newest_first else " ORDER BY i.created, i.id"
