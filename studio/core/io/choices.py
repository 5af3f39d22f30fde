"""The writer's choices as preference pairs: when a generation is kept and its alternatives thrown away, the context,
the kept text and the discarded ones — what the writer prefers, said precisely, the data a preference method (DPO)
learns from. Recorded only for a story whose writer said yes (off by default), kept beside the document in
``.NAME.md.choices.jsonl`` (one choice a line, written atomically), which the writer can read, edit and delete.
The file is read as untrusted: a damaged line costs that one choice."""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from studio.core.io import untrusted as u
from studio.core.io.atomic import atomic_write_text

CONTEXT_CHARS = 2000  # the text before the choice that is kept with it
MAX_FILE = 64 * 1024 * 1024
MAX_TEXT = 64 * 1024


@dataclass(frozen=True)
class Choice:
    id: str
    when: float
    how: str  # "accept" (kept with Accept) or "continue" (kept by writing on)
    model: str  # what wrote the texts
    context: str  # the story before them
    kept: str
    discarded: tuple[str, ...]


def choices_path(document: Path) -> Path:
    return document.with_name(f".{document.name}.choices.jsonl")


def make_choice(context: str, kept: str, discarded: list[str], how: str, model: str = "") -> Choice | None:
    """A choice, when there is one: something kept and something else thrown away."""
    others = tuple(dict.fromkeys(d for d in discarded if d.strip() and d != kept))
    if not kept.strip() or not others:
        return None
    context = context[-CONTEXT_CHARS:]
    key = hashlib.sha256(json.dumps([context, kept, others]).encode()).hexdigest()[:16]
    return Choice(key, time.time(), how, model, context, kept, others)


def read_choices(document: Path) -> tuple[list[Choice], list[str]]:
    """The story's recorded choices, oldest first, and a sentence for each line that could not be read."""
    path = choices_path(document)
    if not u.exists(path):
        return [], []
    data = u.read_bytes(path, MAX_FILE)
    if isinstance(data, u.Unreadable):
        return [], [f"The recorded choices of {document.name} could not be read ({data.why})."]
    out, problems = [], []
    for n, line in enumerate(data.decode("utf-8", errors="replace").splitlines(), 1):
        if not line.strip():
            continue
        item = u.obj(u.parse_json(line, max_bytes=4 * MAX_TEXT))
        kept, context = u.text(item.get("kept")), u.text(item.get("context"))
        discarded = tuple(u.text(d)[:MAX_TEXT] for d in u.lst(item.get("discarded")) if isinstance(d, str))
        when = item.get("when")
        if not kept or not discarded or not isinstance(when, int | float):
            problems.append(f"{path.name}, line {n}: not a recorded choice; left out.")
            continue
        out.append(Choice(u.text(item.get("id"))[:64] or f"line-{n}", float(when), u.text(item.get("how"))[:20],
                          u.text(item.get("model"))[:200], context[-CONTEXT_CHARS:], kept[:MAX_TEXT],
                          discarded))  # fmt: skip
    return out, problems


def write_choices(document: Path, choices: list[Choice]) -> None:
    """Save them all (atomically; raises OSError). No choice left: the file goes."""
    path = choices_path(document)
    if not choices:
        path.unlink(missing_ok=True)
        return
    lines = [json.dumps({**asdict(c), "discarded": list(c.discarded)}, ensure_ascii=False) for c in choices]
    atomic_write_text(path, "\n".join(lines) + "\n")


def record(document: Path, choice: Choice) -> bool:
    """Add a choice (the same one twice is kept once). False when it was there already."""
    choices, _ = read_choices(document)
    if any(c.id == choice.id for c in choices):
        return False
    write_choices(document, [*choices, choice])
    return True


def preference_pairs(choices: list[Choice]) -> list[tuple[str, str, str]]:
    """(prompt, chosen, rejected) rows, one per discarded text: what DPO trains on."""
    return [(c.context, c.kept, d) for c in choices for d in c.discarded]
