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

from studio.core.untrusted import is_dir, is_file

MAX_DEPTH = 12  # nested wildcards deeper than this are a cycle
MAX_LINES = 20_000  # per wildcard file
MAX_COMBINATIONS = 10_000
_WILDCARD = re.compile(r"__([A-Za-z0-9_\-./* ]+?)__")


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
        for f in files:
            try:
                with f.open(encoding="utf-8", errors="replace") as fh:
                    for line in itertools.islice(fh, MAX_LINES):
                        line = line.strip()
                        if line and not line.startswith("#"):
                            lines.append(line)
            except OSError as e:
                raise TemplateError(f"The wildcard __{name}__ cannot be read: {e.strerror or e}.") from e
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


def _parse(text: str, warnings: list[str] | None = None) -> list[Part]:
    """The template's parts. An unclosed ``{`` is read as text (with a warning naming where)."""
    pos = 0

    def sequence(stop: str) -> list[Part]:
        nonlocal pos
        parts: list[Part] = []
        buf: list[str] = []
        while pos < len(text):
            c = text[pos]
            if c == "\\" and pos + 1 < len(text) and text[pos + 1] in "{}|\\":
                buf.append(text[pos : pos + 2] if text[pos + 1] == "\\" else text[pos + 1])
                pos += 2
                continue
            if c in stop:
                break
            if c == "{":
                start = pos
                pos += 1
                variant = braces()
                if variant is None:
                    if warnings is not None:
                        warnings.append(
                            f"The {{ at character {start + 1} is never closed; it is read as text."
                        )
                    pos = start + 1
                    buf.append("{")
                    continue
                if buf:
                    parts.append("".join(buf))
                    buf = []
                parts.append(variant)
                continue
            m = _WILDCARD.match(text, pos)
            if c == "_" and m:
                if buf:
                    parts.append("".join(buf))
                    buf = []
                parts.append(Wildcard(m.group(1)))
                pos = m.end()
                continue
            buf.append(c)
            pos += 1
        if buf:
            parts.append("".join(buf))
        return parts

    def braces() -> Variant | None:
        nonlocal pos
        save = pos
        low = high = 1
        sep = ", "
        head = re.match(r"(\d+)(?:-(\d+))?\$\$(?:([^{}|$]*)\$\$)?", text[pos:])
        if head:
            low = int(head.group(1))
            high = int(head.group(2)) if head.group(2) else low
            sep = head.group(3) if head.group(3) is not None else ", "
            pos += head.end()
        options: list[tuple[float, list]] = []
        while True:
            weight = 1.0
            w = re.match(r"\s*([0-9]*\.?[0-9]+)::", text[pos:])
            if w:
                weight = float(w.group(1))
                pos += w.end()
            parts = sequence("|}")
            options.append((weight, parts))
            if pos >= len(text):
                pos = save
                return None
            if text[pos] == "}":
                pos += 1
                break
            pos += 1  # "|"
        return Variant(options, min(low, high), max(low, high), sep)

    return sequence("")


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
def resolve(text: str, wildcards: Wildcards, rng: random.Random, depth: int = 0) -> str:
    """One prompt from the template, each choice drawn from ``rng``."""
    if depth > MAX_DEPTH:
        raise TemplateError("Wildcards refer to each other in a circle (more than 12 levels deep).")
    return _render(_parse(text), wildcards, rng, depth)


def _render(parts: list, wildcards: Wildcards, rng: random.Random, depth: int) -> str:
    out: list[str] = []
    for p in parts:
        if isinstance(p, str):
            out.append(p)
        elif isinstance(p, Wildcard):
            out.append(resolve(rng.choice(wildcards.lines(p.name)), wildcards, rng, depth + 1))
        else:
            count = min(rng.randint(p.low, p.high), len(p.options))
            chosen = _weighted_sample(p.options, count, rng)
            out.append(p.sep.join(_render(parts, wildcards, rng, depth) for parts in chosen))
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


def combinations(text: str, wildcards: Wildcards, depth: int = 0) -> Iterator[str]:
    """Every prompt the template can make, in order (the first option first), lazily."""
    if depth > MAX_DEPTH:
        raise TemplateError("Wildcards refer to each other in a circle (more than 12 levels deep).")
    yield from _combine(_parse(text), wildcards, depth)


def _combine(parts: list, wildcards: Wildcards, depth: int) -> Iterator[str]:
    if not parts:
        yield ""
        return
    head, rest = parts[0], parts[1:]
    for first in _choices(head, wildcards, depth):
        for tail in _combine(rest, wildcards, depth):
            yield first + tail


def _choices(part: Part, wildcards: Wildcards, depth: int) -> Iterator[str]:
    if isinstance(part, str):
        yield part
    elif isinstance(part, Wildcard):
        for line in wildcards.lines(part.name):
            yield from combinations(line, wildcards, depth + 1)
    else:
        for count in range(part.low, min(part.high, len(part.options)) + 1):
            for group in itertools.combinations(part.options, count):
                for texts in itertools.product(
                    *(list(_combine(parts, wildcards, depth)) for _, parts in group)
                ):
                    yield part.sep.join(texts)


def prompts_for(text: str, wildcards: Wildcards, seeds: list[int], combinatorial: bool = False) -> list[str]:
    """The prompt of each image: drawn with each image's own seed (random mode, so an image's prompt is
    reproducible from its seed), or the combinations in order, cycling when there are fewer than images."""
    if not is_dynamic(text):
        return [text] * len(seeds)
    if combinatorial:
        every = list(itertools.islice(combinations(text, wildcards), MAX_COMBINATIONS))
        return [every[i % len(every)] for i in range(len(seeds))]
    return [resolve(text, wildcards, random.Random(seed)) for seed in seeds]
