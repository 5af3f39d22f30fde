"""Dynamic Prompts' template syntax: ``{a|b|c}`` (one at random), ``{2$$a|b|c}`` / ``{1-3$$a|b|c}`` (several,
joined by ", "; ``{2$$ and $$a|b|c}`` with another separator), ``{0.5::a|2::b}`` (weighted choices) and
``__name__`` wildcards (one line of ``$STUDIO_HOME/wildcards/name.txt``; ``__folder/name__`` for nested folders,
``__folder/*__`` for any file in it; a line may itself hold choices and wildcards). Resolved at random from a
seed, or every combination in order (combinatorial mode). ``\\{`` and ``\\}`` are literal braces.

A1111's own syntax (``(word:1.2)``, ``[from:to:when]``, ``[a|b]``, ``<lora:…>``) passes through untouched.
"""

from __future__ import annotations

import itertools
import random
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from studio.core.image.prompt_grammar import DYNAMIC_ESCAPES, WILDCARD
from studio.core.io.untrusted import is_dir, is_file

MAX_DEPTH = 12  # nested wildcards deeper than this are a cycle
MAX_LINES = 20_000  # per wildcard file
MAX_FILE_BYTES = 4 * 1024 * 1024  # a wildcard file; a longer one is refused, not read
MAX_LINE_CHARS = 10_000  # a wildcard line; longer ones are refused
MAX_COMBINATIONS = 10_000
MAX_NESTING = 64  # { } inside { } — deeper is refused (a template is written by hand, not generated)
MAX_TEXT = 100_000  # characters one prompt may grow to by its choices and wildcards
MAX_PARTIAL = 50_000  # prompts put together on the way to the combinations (5× the most it lists)


class TemplateError(ValueError):
    """A template that cannot be resolved: an unknown wildcard (named), a cycle."""


@dataclass
class Wildcards:
    """Wildcard files under ``root`` (``.txt``, one choice a line; ``#`` comments and blank lines skipped)."""

    root: Path | None = None
    _cache: dict[str, list[str]] = field(default_factory=dict)

    def names(self) -> list[str]:
        if self.root is None or not is_dir(self.root):
            return []
        out = []
        for p in sorted(self.root.rglob("*.txt")):
            if is_file(p):
                out.append(p.relative_to(self.root).with_suffix("").as_posix())
        return out

    def lines(self, name: str) -> list[str]:
        """The choices of ``name`` (``folder/*`` joins every file of a folder); TemplateError when unknown."""
        name = name.strip()
        if name in self._cache:
            return self._cache[name]
        if self.root is None or ".." in name.split("/") or name.startswith("/"):
            raise TemplateError(f"No wildcard __{name}__ (wildcards are in the wildcards folder).")
        if "*" in name:
            files = [p for p in sorted(self.root.glob(name + ".txt")) if is_file(p)]
        else:
            files = [self.root / f"{name}.txt"] if is_file(self.root / f"{name}.txt") else []
        if not files:
            raise TemplateError(f"No wildcard __{name}__: there is no {name}.txt in {self.root}.")
        lines: list[str] = []
        for f in files[:1000]:
            try:
                with f.open("rb") as fh:
                    raw = fh.read(MAX_FILE_BYTES + 1)
            except OSError as e:
                raise TemplateError(f"The wildcard __{name}__ cannot be read: {e.strerror or e}.") from e
            if len(raw) > MAX_FILE_BYTES:
                raise TemplateError(f"The wildcard file {f.name} is larger than {MAX_FILE_BYTES // 2**20} MB; "
                                    "Studio reads wildcard files up to that size.")  # fmt: skip
            for line in itertools.islice(raw.decode("utf-8", errors="replace").splitlines(), MAX_LINES):
                line = line.strip()
                if len(line) > MAX_LINE_CHARS:
                    raise TemplateError(f"A line of the wildcard file {f.name} is longer than {MAX_LINE_CHARS:,} "
                                        "characters.")  # fmt: skip
                if line and not line.startswith("#"):
                    lines.append(line)
        if not lines:
            raise TemplateError(f"The wildcard __{name}__ has no lines.")
        self._cache[name] = lines
        return lines


# -- the template as a tree ------------------------------------------------------------------------------------
@dataclass
class Variant:
    options: list[tuple[float, list]]  # (weight, parts)
    low: int = 1
    high: int = 1
    sep: str = ", "


@dataclass
class Wildcard:
    name: str


Part = str | Variant | Wildcard


_HEAD = re.compile(r"(\d+)(?:-(\d+))?\$\$(?:([^{}|$]*)\$\$)?")
_WEIGHT = re.compile(r"\s*([0-9]*\.?[0-9]+)::")


def _parse(text: str, warnings: list[str] | None = None) -> list[Part]:
    """The template's parts. An unclosed ``{`` is read as text (with a warning naming where), once: a ``{`` found
    unclosed is not tried again, so unclosed braces cost linear time, not exponential. Nesting deeper than
    MAX_NESTING raises TemplateError."""
    if len(text) > MAX_TEXT:
        raise TemplateError(f"The prompt is longer than {MAX_TEXT:,} characters.")
    return _TemplateParser(text, warnings).sequence("")


class _TemplateParser:
    def __init__(self, text: str, warnings: list[str] | None):
        self.text, self.warnings = text, warnings
        self.pos = self.depth = 0
        self.unclosed: set[int] = set()

    def sequence(self, stop: str) -> list[Part]:
        text = self.text
        parts: list[Part] = []
        buf: list[str] = []

        def flush() -> None:
            if buf:
                parts.append("".join(buf))
                buf.clear()

        while self.pos < len(text):
            c = text[self.pos]
            if c == "\\" and self.pos + 1 < len(text) and text[self.pos + 1] in DYNAMIC_ESCAPES:
                buf.append(
                    text[self.pos : self.pos + 2] if text[self.pos + 1] == "\\" else text[self.pos + 1]
                )
                self.pos += 2
            elif c in stop:
                break
            elif c == "{":
                variant = self.braces() if self.pos not in self.unclosed else None
                if variant is None:
                    buf.append("{")
                    self.pos += 1
                else:
                    flush()
                    parts.append(variant)
            elif c == "_" and (m := WILDCARD.match(text, self.pos)):
                flush()
                parts.append(Wildcard(m.group(1)))
                self.pos = m.end()
            else:
                buf.append(c)
                self.pos += 1
        flush()
        return parts

    def braces(self) -> Variant | None:
        """At a ``{``: the variant, or None (the position left as it was) when it is never closed."""
        if self.depth >= MAX_NESTING:
            raise TemplateError(f"The prompt nests {{ }} deeper than {MAX_NESTING} levels.")
        start = self.pos
        self.pos += 1
        self.depth += 1
        try:
            found = self.variant()
        finally:
            self.depth -= 1
        if found is None:
            if self.warnings is not None:
                self.warnings.append(f"The {{ at character {start + 1} is never closed; it is read as text.")
            self.unclosed.add(start)
            self.pos = start
        return found

    def variant(self) -> Variant | None:
        text = self.text
        low = high = 1
        sep = ", "
        if head := _HEAD.match(text, self.pos):
            low = int(head.group(1))
            high = int(head.group(2)) if head.group(2) else low
            sep = head.group(3) if head.group(3) is not None else ", "
            self.pos = head.end()
        options: list[tuple[float, list]] = []
        while True:
            weight = 1.0
            if w := _WEIGHT.match(text, self.pos):
                weight = float(w.group(1))
                self.pos = w.end()
            options.append((weight, self.sequence("|}")))
            if self.pos >= len(text):
                return None
            self.pos += 1
            if text[self.pos - 1] == "}":
                return Variant(options, min(low, high), max(low, high), sep)


def template_warnings(text: str) -> list[str]:
    warnings: list[str] = []
    _parse(text, warnings)
    return warnings


def is_dynamic(text: str) -> bool:
    return any(not isinstance(p, str) for p in _parse(text))


def wildcard_names(text: str) -> list[str]:
    """The wildcards a template names directly (not those its wildcards' lines name)."""
    out: list[str] = []

    def walk(parts: list) -> None:
        for p in parts:
            if isinstance(p, Wildcard):
                out.append(p.name)
            elif isinstance(p, Variant):
                for _, sub in p.options:
                    walk(sub)

    walk(_parse(text))
    return out


def unknown_wildcards(text: str, wildcards: Wildcards) -> str:
    """'' when every wildcard (nested ones too) resolves; else the sentence naming the first that does not."""
    try:
        for _ in itertools.islice(combinations(text, wildcards), 1):
            pass
        check = random.Random(0)
        for _ in range(8):  # random draws reach the lines a first combination does not
            resolve(text, wildcards, check)
    except TemplateError as e:
        return str(e)
    return ""


# -- resolving -------------------------------------------------------------------------------------------------
class _Budget:
    """What one prompt may cost: MAX_TEXT characters in all, however its wildcards multiply ("billion laughs":
    a line naming the next file ten times, ten levels deep)."""

    def __init__(self, limit: int = MAX_TEXT):
        self.left = limit

    def spend(self, n: int) -> None:
        self.left -= n
        if self.left < 0:
            raise TemplateError(f"The prompt grows past {MAX_TEXT:,} characters as its choices and wildcards are "
                                "filled in (wildcards that name each other many times?).")  # fmt: skip


def resolve(
    text: str, wildcards: Wildcards, rng: random.Random, depth: int = 0, budget: _Budget | None = None
) -> str:
    """One prompt from the template, each choice drawn from ``rng``."""
    if depth > MAX_DEPTH:
        raise TemplateError("Wildcards refer to each other in a circle (more than 12 levels deep).")
    return _render(_parse(text), wildcards, rng, depth, budget or _Budget())


def _render(parts: list, wildcards: Wildcards, rng: random.Random, depth: int, budget: _Budget) -> str:
    out: list[str] = []
    for p in parts:
        if isinstance(p, str):
            budget.spend(len(p))
            out.append(p)
        elif isinstance(p, Wildcard):
            out.append(resolve(rng.choice(wildcards.lines(p.name)), wildcards, rng, depth + 1, budget))
        else:
            count = min(rng.randint(p.low, p.high), len(p.options))
            chosen = _weighted_sample(p.options, count, rng)
            out.append(p.sep.join(_render(parts, wildcards, rng, depth, budget) for parts in chosen))
    return "".join(out)


def _weighted_sample(options: list[tuple[float, list]], count: int, rng: random.Random) -> list[list]:
    pool = list(options)
    chosen = []
    for _ in range(count):
        total = sum(max(w, 0.0) for w, _ in pool)
        if total <= 0:
            break
        r = rng.uniform(0, total)
        for i, (w, parts) in enumerate(pool):
            r -= max(w, 0.0)
            if r <= 0:
                chosen.append(parts)
                del pool[i]
                break
    return chosen


class _Count:
    """The prompts put together on the way to the combinations, bounded (MAX_PARTIAL)."""

    def __init__(self) -> None:
        self.made = 0

    def one(self, text: str) -> str:
        self.made += 1
        if self.made > MAX_PARTIAL or len(text) > MAX_TEXT:
            raise TemplateError(f"The template has too many combinations to list (more than {MAX_PARTIAL:,} on "
                                "the way); use random choices instead.")  # fmt: skip
        return text


def combinations(
    text: str, wildcards: Wildcards, depth: int = 0, count: _Count | None = None
) -> Iterator[str]:
    """Every prompt the template can make, in order (the first option first), lazily."""
    if depth > MAX_DEPTH:
        raise TemplateError("Wildcards refer to each other in a circle (more than 12 levels deep).")
    yield from _combine(_parse(text), wildcards, depth, count or _Count())


def _combine(parts: list, wildcards: Wildcards, depth: int, count: _Count) -> Iterator[str]:
    if not parts:
        yield ""
        return
    head, rest = parts[0], parts[1:]
    for first in _choices(head, wildcards, depth, count):
        for tail in _combine(rest, wildcards, depth, count):
            yield count.one(first + tail)


def _choices(part: Part, wildcards: Wildcards, depth: int, count: _Count) -> Iterator[str]:
    if isinstance(part, str):
        yield part
    elif isinstance(part, Wildcard):
        for line in wildcards.lines(part.name):
            yield from combinations(line, wildcards, depth + 1, count)
    else:
        for n in range(part.low, min(part.high, len(part.options)) + 1):
            for group in itertools.combinations(part.options, n):
                for texts in itertools.product(
                    *(list(_combine(parts, wildcards, depth, count)) for _, parts in group)
                ):
                    yield count.one(part.sep.join(texts))


def prompts_for(text: str, wildcards: Wildcards, seeds: list[int], combinatorial: bool = False) -> list[str]:
    """The prompt of each image: drawn with each image's own seed (random mode, so an image's prompt is
    reproducible from its seed), or the combinations in order, cycling when there are fewer than images."""
    if not is_dynamic(text):
        return [text] * len(seeds)
    if combinatorial:
        every = list(itertools.islice(combinations(text, wildcards), MAX_COMBINATIONS))
        return [every[i % len(every)] for i in range(len(seeds))]
    return [resolve(text, wildcards, random.Random(seed)) for seed in seeds]
