"""How a prompt becomes tokens, as the image model's text encoder reads it: CLIP's byte-level BPE (built with the
``tokenizers`` library from the model's own ``vocab.json``/``merges.txt``, exactly as transformers builds it), the
weights of A1111's ``(word:1.2)`` syntax, and the 75-token chunks Studio encodes (``BREAK`` closes one early).

``chunk_tokens`` is the one place the chunks are decided: the engine's prompt encoding uses it with the loaded
tokenizer, the prompt editor's counter and ``studio explain tokens`` with this one."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from studio.core.image.prompts import BREAK, extract_loras, parse_weights

CHUNK = 75  # tokens a CLIP chunk holds between its start and end tokens


@dataclass(frozen=True)
class PromptToken:
    text: str  # as written (the BPE piece without its end-of-word mark)
    id: int
    weight: float
    chunk: int
    word_end: bool  # the last piece of a word


def chunk_tokens(
    prompt: str, tokenize: Callable[[str], list[int]], size: int = CHUNK
) -> list[list[tuple[int, float]]]:
    """The prompt's (token id, weight) in chunks of ``size``: weights from A1111's syntax, ``BREAK`` closing a
    chunk, LoRA tags left out. Always at least one (maybe empty) chunk."""
    chunks: list[list[tuple[int, float]]] = []
    current: list[tuple[int, float]] = []
    for piece in parse_weights(extract_loras(prompt)[0]):
        if piece.text == BREAK and piece.weight == -1.0:
            chunks.append(current)
            current = []
            continue
        for t in tokenize(piece.text):
            if len(current) == size:
                chunks.append(current)
                current = []
            current.append((t, piece.weight))
    if current or not chunks:
        chunks.append(current)
    return chunks


@lru_cache(maxsize=8)
def _clip_tokenizer(folder: str, stamp: float) -> Any:
    import json

    from tokenizers import Regex, Tokenizer, normalizers, pre_tokenizers
    from tokenizers.models import BPE

    root = Path(folder)
    if (root / "tokenizer.json").is_file():  # a tokenizer saved whole: exactly as it was built
        return Tokenizer.from_file(str(root / "tokenizer.json"))
    vocab = json.loads((root / "vocab.json").read_text("utf-8"))
    merges: list[tuple[str, str]] = []
    for line in (
        (root / "merges.txt").read_text("utf-8").splitlines()[1:]
    ):  # the first line is a version header
        parts = line.split()
        if len(parts) == 2:
            merges.append((parts[0], parts[1]))
    tok = Tokenizer(BPE(vocab=vocab, merges=merges, continuing_subword_prefix="", end_of_word_suffix="</w>",
                        fuse_unk=False, unk_token="<|endoftext|>"))  # fmt: skip
    tok.normalizer = normalizers.Sequence([normalizers.NFC(), normalizers.Replace(Regex(r"\s+"), " "),
                                           normalizers.Lowercase()])  # fmt: skip
    pattern = (
        r"""<\|startoftext\|>|<\|endoftext\|>|'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+"""
    )
    tok.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Split(Regex(pattern), behavior="removed", invert=True),
            pre_tokenizers.ByteLevel(add_prefix_space=False),
        ]  # fmt: skip
    )
    # the special tokens are matched in the text itself, as transformers does (SD 2.x pads with "!", so a "!" in
    # a prompt is that token)
    specials = []
    for name in ("tokenizer_config.json", "special_tokens_map.json"):
        try:
            config = json.loads((root / name).read_text("utf-8"))
        except (OSError, ValueError):
            continue
        for key in ("bos_token", "eos_token", "pad_token", "unk_token"):
            value = config.get(key) if isinstance(config, dict) else None
            value = value.get("content") if isinstance(value, dict) else value
            if isinstance(value, str) and value and value not in specials:
                specials.append(value)
    tok.add_special_tokens(specials or ["<|startoftext|>", "<|endoftext|>"])
    return tok


class ClipTokens:
    """A model's CLIP tokenizer (its ``tokenizer`` folder: ``vocab.json`` and ``merges.txt``)."""

    def __init__(self, folder: Path):
        self.folder = folder
        whole = folder / "tokenizer.json"
        stamp = (whole if whole.is_file() else folder / "merges.txt").stat().st_mtime
        self._tok = _clip_tokenizer(str(folder), stamp)

    def ids(self, text: str) -> list[int]:
        return list(self._tok.encode(text, add_special_tokens=False).ids) if text.strip() else []

    def piece(self, token_id: int) -> tuple[str, bool]:
        """(the token's text as written, whether it ends a word)."""
        raw = self._tok.id_to_token(token_id) or ""
        end = raw.endswith("</w>")
        raw = raw[: -len("</w>")] if end else raw
        try:
            from tokenizers.decoders import ByteLevel

            text = ByteLevel().decode([raw])
        except Exception:  # noqa: BLE001 - a byte sequence split mid-character: show it as it is
            text = raw
        return text, end

    def report(self, prompt: str) -> dict[str, Any]:
        """``{"tokens": [{text, id, weight, chunk}], "count": N, "chunks": [n, …], "capacity": 75·chunks}``."""
        chunks = chunk_tokens(prompt, self.ids)
        tokens = []
        for c, chunk in enumerate(chunks):
            for token_id, weight in chunk:
                text, end = self.piece(token_id)
                tokens.append(PromptToken(text, token_id, weight, c, end))
        return {
            "tokens": [t.__dict__ for t in tokens],
            "count": len(tokens),
            "chunks": [len(c) for c in chunks],
            "capacity": CHUNK * len(chunks),
        }


def tokenizer_folder(model: str, describe: Callable[[Path], dict[str, Any]] | None = None) -> Path | None:
    """Where a model's CLIP tokenizer is: its diffusers folder's ``tokenizer``, else (a single file) the shipped
    configuration of its family. None when unknown."""
    from studio.core.io.paths import resource
    from studio.core.io.untrusted import is_dir, is_file

    if not model:
        return None
    path = Path(model)
    if is_file(path / "tokenizer" / "vocab.json") or is_file(path / "tokenizer" / "tokenizer.json"):
        return path / "tokenizer"
    if describe is None:
        from studio.core.models.model_library import describe_path

        describe = describe_path
    family = str(describe(path).get("family") or "") if path.exists() else ""
    config = {"sd1": "sd1", "sd2": "sd2", "sd2-v": "sd2", "sdxl": "sdxl", "sdxl-refiner": "sdxl"}.get(family)
    folder = resource("model_configs", config, "tokenizer") if config else None
    return folder if folder is not None and is_dir(folder) and is_file(folder / "vocab.json") else None
