"""AUTOMATIC1111 prompt syntax: ``(word:1.2)``, ``(word)``, ``[word]``, ``\\(`` escapes, ``BREAK`` and
``<lora:name:weight>`` tags."""

from __future__ import annotations

import re
from dataclasses import dataclass

from studio.core.image.prompt_grammar import BREAK_SPLIT, LORA_TAG

UP = 1.1
BREAK = "BREAK"

_TOKEN = re.compile(
    r"""
    \\\(|\\\)|\\\[|\\\]|\\\\|\\   # escapes
    |\(|\[                        # openers
    |:\s*([+-]?(?:\d+\.?\d*|\.\d+))\s*\)   # explicit weight closing a paren
    |\)|\]                        # closers
    |[^\\()\[\]:]+                # plain text
    |:                            # a lone colon
    """,
    re.VERBOSE,
)


@dataclass(frozen=True)
class WeightedPiece:
    text: str
    weight: float


def parse_weights(prompt: str) -> list[WeightedPiece]:
    """Split a prompt into pieces with attention weights, A1111-compatible.

    ``BREAK`` (upper case, its own word) yields a piece with text ``BREAK`` and weight ``-1``.
    Unbalanced brackets are forgiving: unclosed ones apply to the rest of the prompt.
    """
    pieces: list[list] = []
    round_open: list[int] = []
    square_open: list[int] = []
    spans: list[
        tuple[int, int, float]
    ] = []  # (first piece, end, factor): applied once, at the end (linear time)

    def scale(start: int, factor: float) -> None:
        spans.append((start, len(pieces), factor))

    for m in _TOKEN.finditer(prompt):
        tok = m.group(0)
        weight = m.group(1)
        if tok.startswith("\\") and len(tok) == 2:
            pieces.append([tok[1], 1.0])
        elif tok == "\\":
            pieces.append(["\\", 1.0])
        elif tok == "(":
            round_open.append(len(pieces))
        elif tok == "[":
            square_open.append(len(pieces))
        elif weight is not None and round_open:
            scale(round_open.pop(), float(weight))
        elif tok == ")" and round_open:
            scale(round_open.pop(), UP)
        elif tok == "]" and square_open:
            scale(square_open.pop(), 1 / UP)
        else:
            parts = BREAK_SPLIT.split(tok)
            for i, part in enumerate(parts):
                if i > 0:
                    pieces.append([BREAK, -1.0])
                if part:
                    pieces.append([part, 1.0])
    for start in round_open:
        scale(start, UP)
    for start in square_open:
        scale(start, 1 / UP)
    _apply(pieces, spans)

    merged: list[WeightedPiece] = []
    for text, w in pieces:
        if merged and w == merged[-1].weight and w != -1.0:
            merged[-1] = WeightedPiece(merged[-1].text + text, w)
        else:
            merged.append(WeightedPiece(text, w))
    return merged or [WeightedPiece("", 1.0)]


def _apply(pieces: list[list], spans: list[tuple[int, int, float]]) -> None:
    """Multiply each piece's weight by the factors of the spans over it (a difference array of factors: one pass,
    however many brackets). BREAK pieces keep their -1."""
    change = [1.0] * (len(pieces) + 1)
    for start, end, factor in spans:
        if start < end and factor != 0:
            change[start] *= factor
            change[end] /= factor
        elif start < end:  # a weight of 0: what it covers counts for nothing
            for p in pieces[start:end]:
                p[1] = 0.0 if p[1] != -1.0 else p[1]
    running = 1.0
    for i, p in enumerate(pieces):
        running *= change[i]
        if p[1] != -1.0:
            p[1] = round(
                p[1] * running, 9
            )  # (the divisions leave no float dust that would split equal pieces)


@dataclass(frozen=True)
class LoraTag:
    name: str
    weight: float


def extract_loras(prompt: str) -> tuple[str, list[LoraTag]]:
    """Remove ``<lora:name:w>`` tags from a prompt; return the cleaned prompt and the tags in order."""
    tags = [
        LoraTag(m.group(2).strip(), float(m.group(3)) if m.group(3) else 1.0)
        for m in LORA_TAG.finditer(prompt)
    ]
    cleaned = LORA_TAG.sub("", prompt)
    cleaned = re.sub(r"[ \t]{2,}", " ", cleaned)
    cleaned = re.sub(r"\s*,(\s*,)+", ",", cleaned).strip().strip(",").strip()
    return cleaned, tags


def lora_tag(name: str, weight: float) -> str:
    return f"<lora:{name}:{weight:g}>"
