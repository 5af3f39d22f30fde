"""A story's notes — characters, places, earlier chapters, research — chosen for the model's context by what they
are about: each note (cut into passages of a few sentences) is compared by meaning with the text before the cursor,
and the most similar go in, within a token budget, each with the sentence *What the model sees* shows.

Notes are Markdown or text files in a folder (untrusted: bounded in number, size and depth; an unreadable file costs
its own note, with a reason). The similarity is the caller's (the engine's sentence embeddings); without one, the
words the passage and the note share stand in for it, and the decisions say so."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

NOTE_SUFFIXES = (".md", ".txt")
MAX_NOTES = 2000  # files read from a notes folder at most
MAX_NOTE_BYTES = 256 * 1024
MAX_DEPTH = 3  # sub-folders (Characters/, Places/…)
PASSAGE_CHARS = 700  # a long note is cut into passages of about this size, at paragraph or sentence ends
NOTES_BUDGET = 384  # tokens of notes at most, by default
MIN_SIMILARITY = (
    0.35  # below this a note is not about the passage (MiniLM's cosine; unrelated texts sit near 0.1)
)
QUERY_CHARS = 1000  # how much of the text before the cursor the notes are compared with

Similar = Callable[[str, Sequence[str]], list[float]]


@dataclass(frozen=True)
class Note:
    title: str  # the file's name (and the passage's number, for a long note)
    text: str


@dataclass(frozen=True)
class NoteDecision:
    note: Note
    score: float
    included: bool
    reason: str
    tokens: int = 0


def passages(title: str, text: str) -> list[Note]:
    """A note cut into passages of about ``PASSAGE_CHARS`` at paragraph ends (a long paragraph at sentence ends)."""
    pieces: list[str] = []
    for para in (p.strip() for p in re.split(r"\n\s*\n", text)):
        if not para:
            continue
        while len(para) > PASSAGE_CHARS:
            cut = max(para.rfind(". ", 0, PASSAGE_CHARS), para.rfind("\n", 0, PASSAGE_CHARS))
            cut = cut + 1 if cut > PASSAGE_CHARS // 3 else PASSAGE_CHARS
            pieces.append(para[:cut].strip())
            para = para[cut:].strip()
        if pieces and len(pieces[-1]) + len(para) + 2 <= PASSAGE_CHARS:
            pieces[-1] = f"{pieces[-1]}\n\n{para}"
        elif para:
            pieces.append(para)
    if len(pieces) <= 1:
        return [Note(title, pieces[0])] if pieces else []
    return [Note(f"{title} ({i}/{len(pieces)})", p) for i, p in enumerate(pieces, 1)]


def read_notes(folder: Path) -> tuple[list[Note], list[str]]:
    """The notes in ``folder`` (its .md and .txt files, sub-folders too) as passages, and what could not be read."""
    notes: list[Note] = []
    problems: list[str] = []
    files: list[Path] = []
    try:
        base = folder.resolve()
        for path in sorted(folder.rglob("*")):
            if len(files) >= MAX_NOTES:
                problems.append(f"more than {MAX_NOTES} notes: the rest were not read")
                break
            rel = path.relative_to(folder)
            if (
                path.suffix.lower() in NOTE_SUFFIXES
                and len(rel.parts) <= MAX_DEPTH + 1
                and not any(part.startswith(".") for part in rel.parts)
            ):
                files.append(path)
    except OSError as e:
        return [], [f"{folder}: {e.strerror or e}"]
    for path in files:
        try:
            if not path.resolve().is_relative_to(base) or not path.is_file():
                problems.append(f"{path.name}: outside the notes folder (a link), not read")
                continue
            with open(path, "rb") as f:
                data = f.read(MAX_NOTE_BYTES + 1)
        except OSError as e:
            problems.append(f"{path.name}: {e.strerror or e}")
            continue
        if len(data) > MAX_NOTE_BYTES:
            problems.append(f"{path.name}: larger than {MAX_NOTE_BYTES // 1024} KB, not read")
            continue
        notes += passages(path.stem, data.decode("utf-8", errors="replace"))
    return notes, problems


_WORD = re.compile(r"[^\W\d_]{3,}", re.UNICODE)
_COMMON = frozenset(
    [
        "the",
        "and",
        "for",
        "are",
        "but",
        "not",
        "you",
        "all",
        "any",
        "can",
        "her",
        "was",
        "one",
        "our",
        "out",
        "day",
        "get",
        "has",
        "him",
        "his",
        "how",
        "man",
        "new",
        "now",
        "old",
        "see",
        "two",
        "way",
        "who",
        "boy",
        "did",
        "its",
        "let",
        "put",
        "say",
        "she",
        "too",
        "use",
        "that",
        "with",
        "have",
        "this",
        "will",
        "your",
        "from",
        "they",
        "know",
        "want",
        "been",
        "good",
        "much",
        "some",
        "time",
        "very",
        "when",
        "come",
        "here",
        "just",
        "like",
        "long",
        "make",
        "many",
        "more",
        "only",
        "over",
        "such",
        "take",
        "than",
        "them",
        "well",
        "were",
        "what",
        "into",
        "down",
        "there",
        "their",
        "then",
        "about",
        "would",
        "could",
        "should",
        "which",
        "where",
        "while",
        "after",
        "before",
    ]
)


def shared_words(query: str, texts: Sequence[str]) -> list[float]:
    """A stand-in for similarity when no embedding model is there: the share of a note's words found in the
    passage (common words aside)."""
    seen = {w.lower() for w in _WORD.findall(query)} - _COMMON
    out = []
    for text in texts:
        words = {w.lower() for w in _WORD.findall(text)} - _COMMON
        out.append(len(words & seen) / max(4, len(words)) if words else 0.0)
    return out


def choose_notes(
    notes: Sequence[Note], story: str, count: Callable[[str], int], similar: Similar | None, budget: int,
    least: float,
) -> list[NoteDecision]:  # fmt: skip
    """Which notes go in — the most similar to the text before the cursor first, while the budget lasts — and why
    each does or does not."""
    if not notes:
        return []
    query = story[-QUERY_CHARS:]
    texts = [n.text for n in notes]
    how, scores = "by meaning", None
    try:
        scores = similar(query, texts) if similar else None
    except (
        LookupError
    ) as e:  # the embedding model is not there (or not the one published): said, words instead
        how = f"by shared words ({e})"
    if scores is None:
        how = how if how != "by meaning" else "by shared words (no sentence-embedding model here)"
        scores = shared_words(query, texts)
    order = sorted(range(len(notes)), key=lambda i: -scores[i])
    out: list[NoteDecision] = []
    used = 0
    for i in order:
        note, score = notes[i], float(scores[i])
        if not note.text.strip():
            out.append(NoteDecision(note, score, False, "left out: the note is empty"))
        elif score < least:
            out.append(
                NoteDecision(note, score, False, f"left out: similarity {score:.2f} {how}, below {least:.2f}")
            )
        else:
            tokens = count(note.text.strip())
            if budget and used + tokens > budget:
                out.append(NoteDecision(note, score, False, f"left out: similarity {score:.2f}, but the notes' "
                                        f"budget ({budget} tokens) is spent ({used} used, it needs {tokens})",
                                        tokens))  # fmt: skip
                continue
            used += tokens
            out.append(NoteDecision(note, score, True, f"included: similarity {score:.2f} to the text before the "
                                    f"cursor, {how}", tokens))  # fmt: skip
    return out
