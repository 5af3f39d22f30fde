"""The storyteller's training text: public-domain and permissively licensed English that Debian ships offline.

- The King James Bible (package ``bible-kjv-text``; read with ``bible -f``): public domain (1611; the Crown's
  letters patent apply in the UK only).
- The BSD fortune collection (packages ``fortunes``, ``fortunes-min``; BSD licence, Regents of the University of
  California), only the categories of proverbs, jokes and sayings listed in ``FORTUNE_FILES``: the ones made
  mostly of quotations from recent copyrighted books, shows and songs, of IRC logs, and of ethnic or drug
  jokes are left out.

Documents are Bible chapters and single fortunes. Every 25th document (by a stable hash of its text) is held out
for evaluation and never trained on.
"""

from __future__ import annotations

import hashlib
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

FORTUNES_DIR = Path("/usr/share/games/fortunes")
FORTUNE_FILES = (
    "fortunes",
    "wisdom",
    "platitudes",
    "people",
    "humorists",
    "kids",
    "pets",
    "food",
    "love",
    "work",
    "science",
    "education",
    "law",
    "miscellaneous",
    "paradoxum",
    "riddles",
    "cookie",
    "definitions",
    "tao",
    "goedel",
    "medicine",
    "sports",
    "politics",
    "news",
    "magic",
    "computers",
)
HOLD_OUT_EVERY = 25
_VERSE = re.compile(r"^([1-3]?[A-Za-z]+)(\d+):(\d+) (.*)$")


class CorpusMissing(RuntimeError):
    pass


@dataclass(frozen=True)
class Corpus:
    train: list[str]
    held_out: list[str]

    @property
    def chars(self) -> int:
        return sum(map(len, self.train)) + sum(map(len, self.held_out))


def bible_chapters() -> list[str]:
    """Each chapter of the KJV as one paragraph of verses."""
    if shutil.which("bible") is None:
        raise CorpusMissing("The `bible` command is missing: apt-get install bible-kjv bible-kjv-text")
    text = subprocess.run(
        ["bible", "-f", "Gen1:1-Rev22:21"], capture_output=True, text=True, check=True
    ).stdout
    chapters: list[str] = []
    current: tuple[str, str] | None = None
    verses: list[str] = []
    for line in text.splitlines():
        m = _VERSE.match(line.strip())
        if m is None:
            if verses and line.strip():
                verses[-1] += " " + line.strip()
            continue
        key = (m.group(1), m.group(2))
        if key != current and verses:
            chapters.append(" ".join(verses))
            verses = []
        current = key
        verses.append(m.group(4).strip())
    if verses:
        chapters.append(" ".join(verses))
    return chapters


def fortunes(folder: Path = FORTUNES_DIR) -> list[str]:
    out: list[str] = []
    for name in FORTUNE_FILES:
        f = folder / name
        if not f.is_file():
            continue
        for entry in f.read_text("utf-8", errors="replace").split("\n%\n"):
            entry = "\n".join(" ".join(line.split()) for line in entry.strip("\n%").splitlines())
            if len(entry) >= 20 and not _mostly_symbols(entry):
                out.append(entry)
    if not out:
        raise CorpusMissing(f"No fortunes in {folder}: apt-get install fortunes fortunes-min")
    return out


def _mostly_symbols(text: str) -> bool:
    letters = sum(c.isalpha() or c.isspace() for c in text)
    return letters < 0.85 * len(text)


def _held_out(doc: str) -> bool:
    return int(hashlib.sha256(doc.encode()).hexdigest()[:8], 16) % HOLD_OUT_EVERY == 0


def load_corpus() -> Corpus:
    docs = bible_chapters() + fortunes()
    return Corpus([d for d in docs if not _held_out(d)], [d for d in docs if _held_out(d)])
