"""Numbers in sentences: "1 picture", "3 pictures", "2 stories" — never "picture(s)"."""

from __future__ import annotations


def count(n: int, noun: str, plural: str | None = None) -> str:
    """``n`` and the noun in the number it needs (``plural`` where adding an "s" is wrong: story → stories)."""
    return f"{n:,} {noun if n == 1 else plural or noun + 's'}"
