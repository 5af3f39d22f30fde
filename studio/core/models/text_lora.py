"""A text LoRA as Studio writes it: one ``.safetensors`` file holding the adapter's weights (peft's names) and, in
its metadata, how to attach it (rank, alpha, the layers it adapts) and what it is (the base model's name and SHA-256,
the documents' hashes, the number of preference pairs, the held-out perplexities). Read from the header alone."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from studio.core.io.safetensors_header import HeaderError, read_header
from studio.core.io.untrusted import is_file

MARK = "studio_text_lora"  # metadata key that says what the file is (its value: the format version)


@dataclass(frozen=True)
class TextLora:
    path: Path
    base: str  # the base model's name
    base_sha256: str
    rank: int
    alpha: float
    targets: tuple[str, ...]
    facts: dict[str, str] = field(
        default_factory=dict
    )  # the rest of the metadata (documents, perplexities, …)

    @property
    def name(self) -> str:
        return self.path.stem

    def label(self) -> str:
        """As the Writer's model picker shows it: "BASE + NAME"."""
        return f"{self.base} + {self.name}"


def read_text_lora(path: Path) -> TextLora | str:
    """The LoRA's description, or why the file is not a text LoRA Studio can use."""
    path = Path(path)
    if not is_file(path) or path.suffix.lower() != ".safetensors":
        return f"{path.name}: not a .safetensors file."
    try:
        meta = read_header(path)["__metadata__"]
    except HeaderError as e:
        return str(e)
    if MARK not in meta:
        return f"{path.name} is not a text LoRA made by Studio (Writer ▸ learn my voice, studio train-text)."
    try:
        rank, alpha = int(meta.get("studio_rank", "")), float(meta.get("studio_alpha", ""))
        targets = json.loads(meta.get("studio_targets", "[]")[:100_000])
    except (ValueError, RecursionError):
        return f"{path.name}: its settings (rank, alpha, layers) cannot be read."
    if (
        not (1 <= rank <= 1024)
        or not isinstance(targets, list)
        or not all(isinstance(t, str) for t in targets)
    ):
        return f"{path.name}: its settings (rank, alpha, layers) are not valid."
    return TextLora(path, meta.get("studio_base_model", "?"), meta.get("studio_base_sha256", ""), rank, alpha,
                    tuple(targets), dict(meta))  # fmt: skip


def text_loras(folders: list[Path]) -> list[TextLora]:
    """The text LoRAs in these folders (headers only), by name; a folder is read again only when it changed (the
    Writer's model picker asks at every change of model)."""
    found: list[TextLora] = []
    for folder in folders:
        try:
            stamp = folder.stat().st_mtime_ns
        except OSError:
            continue
        found += _in_folder(str(folder), stamp)
    return found


@lru_cache(maxsize=8)
def _in_folder(folder: str, stamp: int) -> list[TextLora]:
    out = []
    for path in sorted(Path(folder).glob("*.safetensors")):
        lora = read_text_lora(path)
        if isinstance(lora, TextLora):
            out.append(lora)
    return out
