"""What the model sees when it continues a story: Memory, triggered Lorebook entries, the notes most similar to the
text before the cursor, the story with the Author's Note a few lines above its end — cut to the model's context,
oldest story text first."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from studio.core.text.lorebook import LoreDecision, LoreEntry, decide
from studio.core.text.story_notes import (
    MIN_SIMILARITY,
    NOTES_BUDGET,
    Note,
    NoteDecision,
    Similar,
    choose_notes,
)

__all__ = ["Assembled", "ContextPart", "LoreEntry", "Note", "StoryContext", "assemble"]

NOTE_FORMAT = "[Author's note: {}]"
LORE_BUDGET = 512  # tokens of Lorebook entries at most, by default


@dataclass(frozen=True)
class StoryContext:
    memory: str = ""
    note: str = ""
    note_depth: int = 3  # the note goes this many lines above the cursor
    lorebook: tuple[LoreEntry, ...] = ()
    scan_chars: int = 2000  # how much recent story text is searched for Lorebook keys
    lore_budget: int = LORE_BUDGET  # tokens; 0: no limit
    notes: tuple[Note, ...] = ()  # the story's notes (passages), chosen by meaning
    notes_budget: int = NOTES_BUDGET  # tokens; 0: no limit
    notes_least: float = MIN_SIMILARITY  # the similarity a note needs to go in


@dataclass(frozen=True)
class ContextPart:
    label: str
    text: str
    tokens: int


@dataclass(frozen=True)
class Assembled:
    parts: tuple[ContextPart, ...]
    prompt: str
    total_tokens: int
    budget: int
    dropped_chars: int = 0  # story characters left out (oldest first) to fit the budget
    notes: tuple[str, ...] = field(default_factory=tuple)
    lore: tuple[LoreDecision, ...] = ()  # every entry, included or not, with the reason
    note_choices: tuple[
        NoteDecision, ...
    ] = ()  # every note, most similar first, included or not, with the reason


def _with_note(story: str, note: str, depth: int) -> tuple[str, str, str]:
    """(story above the note, the note line, story below it)."""
    if not note.strip():
        return story, "", ""
    lines = story.split("\n")
    cut = max(0, len(lines) - depth)
    above, below = "\n".join(lines[:cut]), "\n".join(lines[cut:])
    return above, NOTE_FORMAT.format(note.strip()), below


def _join(pieces: list[str]) -> str:
    return "\n".join(p for p in pieces if p)


def assemble(
    story: str, ctx: StoryContext, count: Callable[[str], int], budget: int, similar: Similar | None = None
) -> Assembled:
    """The prompt for continuing ``story`` (the text before the cursor) within ``budget`` tokens; ``similar``
    compares the notes with it by meaning (without it, by the words they share)."""
    recent = story[-ctx.scan_chars :]
    decisions = decide(ctx.lorebook, recent, count, ctx.lore_budget, ctx.scan_chars, similar, ctx.notes_least)
    lore = [d.entry for d in decisions if d.included]
    chosen = choose_notes(ctx.notes, story, count, similar, ctx.notes_budget, ctx.notes_least)
    notes_in = [d for d in chosen if d.included]
    fixed = [ctx.memory.strip(), *(e.text.strip() for e in lore), *(d.note.text.strip() for d in notes_in)]

    def build(start: int) -> tuple[str, str, str, str]:
        above, note, below = _with_note(story[start:], ctx.note, ctx.note_depth)
        story_text = _join([above, note, below]) if note else story[start:]
        return _join([*fixed, story_text]), above, note, below

    prompt, above, note, below = build(0)
    start = 0
    if count(prompt) > budget:
        # the largest start (oldest text dropped) that fits, cut at a word boundary; Memory and Note stay
        lo, hi = 0, len(story)
        while lo < hi:
            mid = (lo + hi) // 2
            if count(build(mid)[0]) <= budget:
                hi = mid
            else:
                lo = mid + 1
        # Cut on a coarse grid, not at the exact character: a slightly longer Note or a few more words then
        # leave the cut where it was, so the text before the Note stays the same and its KV cache is reused.
        grid = max(64, budget)  # characters: about a quarter of the budget in tokens
        start = min(len(story), -(-lo // grid) * grid)
        space = story.find(" ", start)
        if 0 <= space < start + 40:
            start = space + 1
        prompt, above, note, below = build(start)
    parts = [
        ContextPart("Memory", ctx.memory.strip(), count(ctx.memory.strip()) if ctx.memory.strip() else 0)
    ]
    parts += [
        ContextPart(f"Lorebook: {', '.join(e.keys)}", e.text.strip(), count(e.text.strip())) for e in lore
    ]
    parts += [ContextPart(f"Note: {d.note.title} (similarity {d.score:.2f})", d.note.text.strip(), d.tokens)
              for d in notes_in]  # fmt: skip
    parts.append(ContextPart("Story", _join([above, below]), count(_join([above, below]))))
    if note:
        parts.append(ContextPart("Author's Note", note, count(note)))
    notes: tuple[str, ...] = ()
    if start:
        notes = (
            f"The story is longer than the model's context: its first {start} characters were left out.",
        )
    return Assembled(
        tuple(parts), prompt, count(prompt), budget, start, notes, tuple(decisions), tuple(chosen)
    )
