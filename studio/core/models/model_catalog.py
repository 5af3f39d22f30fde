"""The curated list of starter models (resources/catalog/recommended.json), by kind and memory size."""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache

from studio.core.io.paths import resource


@dataclass(frozen=True)
class CatalogEntry:
    name: str
    kind: str
    family: str
    repo: str
    file: str | None  # one file of the repo, or None for a (filtered) repository download
    files: tuple[str, ...]  # patterns limiting a repository download
    size_gb: float
    memory_gb: float
    licence: str
    note: str
    gated: bool = False

    def fits(self, memory_gb: float | None) -> bool:
        return memory_gb is None or self.memory_gb <= memory_gb


@lru_cache(maxsize=1)
def recommended() -> tuple[CatalogEntry, ...]:
    data = json.loads(resource("catalog", "recommended.json").read_text("utf-8"))
    return tuple(
        CatalogEntry(
            m["name"],
            m["kind"],
            m.get("family", ""),
            m["repo"],
            m.get("file"),
            tuple(m.get("files", ())),
            float(m["size_gb"]),
            float(m["memory_gb"]),
            m.get("licence", ""),
            m.get("note", ""),
            bool(m.get("gated", False)),
        )
        for m in data["models"]
    )


def for_kind(kind: str = "", memory_gb: float | None = None) -> list[CatalogEntry]:
    """Entries of ``kind`` ("" for all), those that fit ``memory_gb`` first, smallest first within each."""
    order = (
        "checkpoint",
        "lora",
        "vae",
        "text",
        "captioner",
        "segmenter",
        "detector",
        "matting",
        "sound",
        "speech",
    )
    items = [m for m in recommended() if not kind or m.kind == kind]
    return sorted(
        items,
        key=lambda m: (
            not m.fits(memory_gb),
            order.index(m.kind) if m.kind in order else 9,
            m.memory_gb,
            m.size_gb,
        ),
    )
