"""Text cut for reading aloud: sentences with their places in the text (so the Writer can light up the one being
read), and a story's chapters (each its own track when the reading is exported)."""

from __future__ import annotations

import re
from dataclasses import dataclass

# a sentence ends at . ! ? … (with closing quotes or brackets) before white space, or at a line's end
_END = re.compile(r"""[.!?…]+["'”’)\]]*(?=\s)|\n""")
_HEADING = re.compile(r"^(#{1,6}\s+.+|chapter\b.*|[IVXLC]+\.\s.*)$", re.IGNORECASE | re.MULTILINE)
MAX_SENTENCE = 400  # characters: a longer run without a full stop is read in pieces at commas or spaces


@dataclass(frozen=True)
class Sentence:
    start: int  # offsets into the text the reading was cut from
    end: int
    text: str

    @property
    def spoken(self) -> str:
        """What is read: a Markdown heading without its marks."""
        return self.text.lstrip("#").strip()


def sentences(text: str, offset: int = 0) -> list[Sentence]:
    """The sentences of ``text`` in order, white space trimmed, empty ones dropped; offsets count from
    ``offset`` (where ``text`` starts in the document)."""
    out: list[Sentence] = []
    at = 0
    for m in _END.finditer(text):
        _add(out, text, at, m.end(), offset)
        at = m.end()
    _add(out, text, at, len(text), offset)
    return out


def _add(out: list[Sentence], text: str, start: int, end: int, offset: int) -> None:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    while end - start > MAX_SENTENCE:
        cut = max(text.rfind(",", start, start + MAX_SENTENCE), text.rfind(" ", start, start + MAX_SENTENCE))
        cut = cut + 1 if cut > start else start + MAX_SENTENCE
        out.append(Sentence(offset + start, offset + cut, text[start:cut].strip()))
        start = cut
        while start < end and text[start].isspace():
            start += 1
    if end > start and any(c.isalnum() for c in text[start:end]):
        out.append(Sentence(offset + start, offset + end, text[start:end]))


@dataclass(frozen=True)
class Chapter:
    title: str
    start: int
    end: int


def chapters(text: str, untitled: str = "Story") -> list[Chapter]:
    """The story cut at its headings (Markdown ``#`` lines, "Chapter …", "IV. …"); one chapter when it has none."""
    heads = [m for m in _HEADING.finditer(text)]
    if not heads:
        return [Chapter(untitled, 0, len(text))] if text.strip() else []
    out = []
    if text[: heads[0].start()].strip():
        out.append(Chapter(untitled, 0, heads[0].start()))
    for i, m in enumerate(heads):
        end = heads[i + 1].start() if i + 1 < len(heads) else len(text)
        out.append(Chapter(m.group(0).lstrip("#").strip(), m.start(), end))
    return out
