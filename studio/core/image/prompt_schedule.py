"""AUTOMATIC1111's prompt editing: ``[from:to:when]`` (``from`` until step ``when``, then ``to``), ``[to:when]``
(added after ``when``), ``[from::when]`` (removed after ``when``), ``[a|b|c]`` (alternating every step). ``when``
is a step number, or a fraction of the steps when written with a point (``0.5``), as A1111 reads it. The result
is the schedule: (last step, prompt text) pairs, each text with A1111's weights left for the encoder.

Anything else in brackets (``[word]`` de-emphasis, ``(word:1.2)``) stays as it is. An unclosed bracket is read as
text, as A1111 does, with a warning that says where.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass
class Scheduled:
    before: list
    after: list
    when: int  # the last step of ``before``


@dataclass
class Alternate:
    options: list[list]


Node = str | Scheduled | Alternate


def _when(text: str, steps: int) -> int | None:
    s = text.strip()
    try:
        v = float(s)
    except ValueError:
        return None
    if v < 0:
        return None
    return min(steps, int(v * steps if "." in s else v))


MAX_NESTING = (
    64  # brackets inside brackets: deeper is read as text (and the recipe refuses it, see nesting())
)


def nesting(text: str) -> int:
    """How deep ( [ { nest in ``text`` (escaped ones not counted), in one pass without recursion."""
    deepest = depth = 0
    i = 0
    while i < len(text):
        c = text[i]
        if c == "\\":
            i += 2
            continue
        if c in "([{":
            depth += 1
            deepest = max(deepest, depth)
        elif c in ")]}" and depth:
            depth -= 1
        i += 1
    return deepest


MAX_PROMPT = 100_000  # characters of one prompt (A1111's are rarely a thousand)


def prompt_problem(text: str, what: str = "prompt") -> str:
    """A sentence when a prompt is beyond what Studio reads (longer than MAX_PROMPT characters, or brackets nested
    deeper than MAX_NESTING levels); "" when it is fine. Checked before anything parses it."""
    if len(text) > MAX_PROMPT:
        return f"The {what} is {len(text):,} characters long; Studio reads prompts of up to {MAX_PROMPT:,}."
    depth = nesting(text)
    if depth > MAX_NESTING:
        return (f"The {what} nests brackets {depth:,} levels deep; Studio reads up to {MAX_NESTING} "
                "(an unclosed bracket counts until the end).")  # fmt: skip
    return ""


def _parse(text: str, steps: int, warnings: list[str] | None = None) -> list[Node]:
    """The prompt's nodes. A bracket found unclosed is read as text and not tried again (unclosed brackets cost
    linear time, not exponential); brackets deeper than MAX_NESTING are read as text."""
    return _flatten(_EditingParser(text, steps, warnings).sequence(""))


class _EditingParser:
    def __init__(self, text: str, steps: int, warnings: list[str] | None):
        self.text, self.steps, self.warnings = text, steps, warnings
        self.pos = self.depth = 0
        self.unclosed: set[int] = set()

    def sequence(self, stops: str) -> list[Node]:
        """Nodes until one of ``stops`` at this level (not consumed)."""
        text = self.text
        out: list[Node] = []
        buf: list[str] = []

        def flush() -> None:
            if buf:
                out.append("".join(buf))
                buf.clear()

        while self.pos < len(text):
            c = text[self.pos]
            if c == "\\" and self.pos + 1 < len(text):
                buf.append(text[self.pos : self.pos + 2])
                self.pos += 2
            elif c in stops:
                break
            elif c in "[(" and (self.pos in self.unclosed or self.depth >= MAX_NESTING):
                buf.append(c)
                self.pos += 1
            elif c == "[":
                node = self.bracket()
                if isinstance(node, str):
                    buf.append(node)
                else:
                    flush()
                    out.append(node)
            elif c == "(":
                inner = self.round()
                if inner is None:
                    buf.append("(")
                else:
                    flush()
                    out.extend(["(", *inner, ")"])
            else:
                buf.append(c)
                self.pos += 1
        flush()
        return out

    def round(self) -> list[Node] | None:
        """At a "(": its nodes (the ")" consumed), or None when it is never closed (A1111 weights the rest; it is
        kept as written)."""
        start = self.pos
        self.pos += 1
        self.depth += 1
        inner = self.sequence(")")
        self.depth -= 1
        if self.pos >= len(self.text):
            self.unclosed.add(start)
            self.pos = start + 1
            return None
        self.pos += 1
        return inner

    def bracket(self) -> Any:
        """At a "[": scheduled, alternate, or plain brackets (nodes wrapped in "[", "]"); "[" when never closed."""
        start = self.pos
        self.pos += 1
        self.depth += 1
        try:
            groups: list[list[Node]] = [self.sequence(":|]")]
            separators: list[str] = []
            while self.pos < len(self.text) and self.text[self.pos] in ":|":
                separators.append(self.text[self.pos])
                self.pos += 1
                groups.append(self.sequence(":|]"))
        finally:
            self.depth -= 1
        if self.pos >= len(self.text):
            if self.warnings is not None:
                self.warnings.append(f"The [ at character {start + 1} is never closed; it is read as text.")
            self.unclosed.add(start)
            self.pos = start + 1
            return "["
        self.pos += 1  # "]"
        return _bracketed(groups, separators, self.steps)


def _bracketed(groups: list[list[Node]], separators: list[str], steps: int) -> Any:
    if separators and all(s == "|" for s in separators):
        return Alternate(groups)
    if separators and all(s == ":" for s in separators) and len(groups) in (2, 3):
        when = _when("".join(g for g in groups[-1] if isinstance(g, str)), steps)
        if when is not None and all(isinstance(g, str) for g in groups[-1]):
            if len(groups) == 2:
                return Scheduled([], groups[0], when)
            return Scheduled(groups[0], groups[1], when)
    # plain brackets: de-emphasis, or text A1111 would not parse either
    flat: list[Node] = ["["]
    for i, g in enumerate(groups):
        if i:
            flat.append(separators[i - 1])
        flat.extend(g)
    flat.append("]")
    return _Flat(flat)


class _Flat(list):
    """Nodes to splice into the parent (plain brackets)."""


def _flatten(nodes: list) -> list[Node]:
    out: list[Node] = []
    for n in nodes:
        if isinstance(n, _Flat):
            out.extend(_flatten(n))
        elif isinstance(n, Scheduled):
            out.append(Scheduled(_flatten(n.before), _flatten(n.after), n.when))
        elif isinstance(n, Alternate):
            out.append(Alternate([_flatten(o) for o in n.options]))
        else:
            out.append(n)
    return out


def _at(nodes: list[Node], step: int) -> str:
    out = []
    for n in nodes:
        if isinstance(n, str):
            out.append(n)
        elif isinstance(n, Scheduled):
            out.append(_at(n.before if step <= n.when else n.after, step))
        else:
            out.append(_at(n.options[(step - 1) % len(n.options)], step))
    return "".join(out)


def _boundaries(nodes: list[Node], steps: int, into: set[int]) -> None:
    for n in nodes:
        if isinstance(n, Scheduled):
            if n.when >= 1:
                into.add(n.when)
            _boundaries(n.before, steps, into)
            _boundaries(n.after, steps, into)
        elif isinstance(n, Alternate):
            into.update(range(1, steps + 1))
            for o in n.options:
                _boundaries(o, steps, into)


def schedule(prompt: str, steps: int, warnings: list[str] | None = None) -> list[tuple[int, str]]:
    """[(last step, text)], steps counted from 1 as A1111 does; one entry when nothing is scheduled."""
    steps = max(1, steps)
    nodes = _parse(prompt, steps, warnings)
    if all(isinstance(n, str) for n in nodes):
        return [(steps, prompt)]
    points: set[int] = set()
    _boundaries(nodes, steps, points)
    out: list[tuple[int, str]] = []
    for end in sorted(p for p in points | {steps} if 1 <= p <= steps):
        text = _at(nodes, end)
        if out and out[-1][1] == text:
            out[-1] = (end, text)
        else:
            out.append((end, text))
    return out


def text_at(plan: list[tuple[int, str]], step: int) -> str:
    """The text for ``step`` (from 1) in a schedule."""
    for end, text in plan:
        if step <= end:
            return text
    return plan[-1][1]


def schedule_warnings(prompt: str) -> list[str]:
    warnings: list[str] = []
    _parse(prompt, 20, warnings)
    return warnings


def is_scheduled(prompt: str) -> bool:
    return len(schedule(prompt, 100)) > 1
