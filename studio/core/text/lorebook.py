"""Lorebook entries: text sent to the model when one of its keys appears in the recent story.

A key matches as a whole word (``ring`` is not found in *bring*) or as a regular expression, with or without
case; entries with a higher priority go first, and the triggered ones fill a token budget — each decision comes
with the sentence *What the model sees* shows. Entries read from a story's sidecar are untrusted: a regular
expression runs with a time limit, and a malformed entry is left out with a reason, never an exception.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import regex

MATCHES = ("words", "regex", "meaning")  # "meaning": triggered by what the recent text is about, keys or not
REGEX_SECONDS = 0.05  # a pathological pattern on 2000 characters is stopped, not waited for
MAX_KEYS = 64
MAX_KEY_CHARS = 500


@dataclass(frozen=True)
class LoreEntry:
    keys: tuple[str, ...]
    text: str
    match: str = "words"  # "words" (whole words) or "regex"
    case: bool = False  # True: keys match with their case
    priority: int = 0  # higher first when the budget is short

    def find(self, recent: str) -> str | None:
        """The key found in ``recent`` (None: none is). Raises ValueError for a bad regular expression."""
        flags = 0 if self.case else regex.IGNORECASE
        for key in self.keys:
            key = key.strip()
            if not key:
                continue
            pattern = key if self.match == "regex" else r"(?<!\w)" + regex.escape(key) + r"(?!\w)"
            try:
                found = regex.search(pattern, recent, flags, timeout=REGEX_SECONDS)
            except regex.error as e:
                raise ValueError(f"the key “{key}” is not a valid regular expression ({e})") from e
            except TimeoutError as e:
                raise ValueError(
                    f"the key “{key}” took too long to search (a runaway regular expression)"
                ) from e
            if found:
                return key
        return None

    def triggered_by(self, recent: str) -> bool:
        try:
            return self.find(recent) is not None
        except ValueError:
            return False

    def as_dict(self) -> dict[str, Any]:
        return {
            "keys": ", ".join(self.keys),
            "text": self.text,
            "match": self.match,
            "case": self.case,
            "priority": self.priority,
        }


@dataclass(frozen=True)
class LoreDecision:
    entry: LoreEntry
    included: bool
    reason: str
    tokens: int = 0


def split_keys(keys: str) -> tuple[str, ...]:
    return tuple(k.strip() for k in keys.split(",") if k.strip())[:MAX_KEYS]


def entry_from(raw: Any) -> LoreEntry | None:
    """One entry as saved — ``{"keys", "text", "match", "case", "priority"}`` or the older ``[keys, text]`` —
    or None when it is not an entry."""
    if isinstance(raw, list | tuple) and len(raw) == 2 and all(isinstance(x, str) for x in raw):
        return LoreEntry(split_keys(raw[0]), raw[1])
    if not isinstance(raw, dict):
        return None
    keys, text = raw.get("keys", ""), raw.get("text", "")
    if isinstance(keys, list):
        keys = ", ".join(k for k in keys if isinstance(k, str))
    if not isinstance(keys, str) or not isinstance(text, str) or len(keys) > MAX_KEYS * MAX_KEY_CHARS:
        return None
    match = raw.get("match", "words")
    case = raw.get("case", False)
    priority = raw.get("priority", 0)
    if match not in MATCHES or not isinstance(case, bool):
        return None
    if not isinstance(priority, int) or isinstance(priority, bool) or not -1000 <= priority <= 1000:
        return None
    return LoreEntry(split_keys(keys), text, match, case, priority)


def entries_from(raw: Any) -> list[LoreEntry]:
    """The entries of a saved lorebook that are entries (others are skipped)."""
    if not isinstance(raw, list):
        return []
    return [e for e in (entry_from(r) for r in raw) if e is not None]


def _by_meaning(entries: list[LoreEntry], recent: str, similar: Any) -> dict[int, float]:
    """Each meaning entry's similarity to the recent text (none without a model)."""
    if not entries or similar is None:
        return {}
    try:
        scores = similar(recent[-1000:], [e.text for e in entries])
    except LookupError:
        return {}
    return {id(e): float(s) for e, s in zip(entries, scores, strict=True)}


def decide(
    entries: tuple[LoreEntry, ...], recent: str, count: Callable[[str], int], budget: int, scan_chars: int,
    similar: Callable[[str, list[str]], list[float]] | None = None, least: float = 0.35,
) -> list[LoreDecision]:  # fmt: skip
    """Which entries go in, highest priority first (then in the book's order), and why each does or does not.
    An entry matched by meaning goes in when ``similar`` finds it about the recent text (``least`` at least)."""
    out: list[LoreDecision] = []
    triggered: list[tuple[LoreEntry, str]] = []
    meant = _by_meaning([e for e in entries if e.match == "meaning" and e.text.strip()], recent, similar)
    for entry in entries:
        if not entry.text.strip():
            out.append(LoreDecision(entry, False, "left out: the entry is empty"))
            continue
        if entry.match == "meaning":
            score = meant.get(id(entry))
            if score is None:
                out.append(LoreDecision(entry, False, "left out: matched by meaning, but no sentence-embedding "
                                        "model is here (pip install 'studio[semantic]')"))  # fmt: skip
            elif score >= least:
                triggered.append((entry, f"similarity {score:.2f}"))
            else:
                out.append(LoreDecision(entry, False, f"left out: similarity {score:.2f}, below {least:.2f}"))
            continue
        if not entry.keys:
            out.append(LoreDecision(entry, False, "left out: it has no keys"))
            continue
        try:
            key = entry.find(recent)
        except ValueError as e:
            out.append(LoreDecision(entry, False, f"left out: {e}"))
            continue
        if key is None:
            out.append(
                LoreDecision(entry, False, f"left out: no key appears in the last {scan_chars} characters")
            )
        else:
            triggered.append((entry, key))
    used = 0
    for entry, key in sorted(triggered, key=lambda t: -t[0].priority):
        tokens = count(entry.text.strip())
        if budget and used + tokens > budget:
            out.append(
                LoreDecision(
                    entry,
                    False,
                    f"left out: {key if key.startswith('similarity') else f'“{key}” found'}, but the Lorebook "
                    f"budget ({budget} tokens) is spent "
                    f"({used} used, this entry needs {tokens})",
                    tokens,
                )
            )
            continue
        used += tokens
        why = key if key.startswith("similarity") else f"“{key}” found"
        out.append(LoreDecision(entry, True, f"included: {why} (priority {entry.priority})", tokens))
    order = {id(e): i for i, e in enumerate(entries)}
    included = sorted((d for d in out if d.included), key=lambda d: (-d.entry.priority, order[id(d.entry)]))
    return included + [d for d in out if not d.included]
