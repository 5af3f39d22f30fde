"""What a model's card says of its limits: the sections of its README (Hugging Face's model card) on limitations,
bias, risks, out-of-scope use and misuse — shown to the user before the model's first use."""

from __future__ import annotations

import re
from pathlib import Path

from studio.core.models.model_library import card_text

_HEADING = re.compile(r"^(#{1,6})\s+(.*)$")
_TOPICS = re.compile(
    r"limitation|bias|risk|out[- ]of[- ]scope|misuse|safety|not intended|harm", re.IGNORECASE
)
MAX_CHARS = 6000


def limitations(markdown: str) -> str:
    """The card's sections about limits (each with the headings under it), in order; '' when it has none."""
    out: list[str] = []
    keep_level = 0  # inside a kept section of this heading level (0: not inside one)
    fenced = False
    for line in markdown.splitlines():
        if line.lstrip().startswith("```"):
            fenced = not fenced
        m = None if fenced else _HEADING.match(line)
        if m:
            level = len(m.group(1))
            if keep_level and level <= keep_level:
                keep_level = 0
            if not keep_level and _TOPICS.search(m.group(2)):
                keep_level = level
        if keep_level:
            out.append(line)
    text = "\n".join(out).strip()
    return text if len(text) <= MAX_CHARS else text[:MAX_CHARS].rsplit("\n", 1)[0] + "\n\n…"


def limitations_of(model: str | Path) -> str:
    """The limits a model's card states ('' without a card, or a card that says none). Reads the disk."""
    path = Path(model)
    return limitations(card_text(path)) if str(model) else ""
