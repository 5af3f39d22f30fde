"""Prompt styles: named prompt and negative-prompt pieces, as AUTOMATIC1111's ``styles.csv`` keeps them (a
``{prompt}`` placeholder puts the prompt inside the style; without one the style is appended) and Fooocus's style
JSON files write them. Studio's own are ``$STUDIO_HOME/styles.csv`` (A1111's format, so the file can be shared
both ways) over the set shipped in ``resources/styles/studio.csv``."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from pathlib import Path

from studio.core.io.atomic import atomic_write_bytes
from studio.core.io.paths import resource
from studio.core.io.untrusted import Unreadable, is_file, lst, obj, parse_json, read_bytes, text

SHIPPED = resource("styles", "studio.csv")
MAX_STYLES_FILE = 8 * 1024 * 1024
MAX_STYLES = 10_000


@dataclass(frozen=True)
class Style:
    name: str
    prompt: str = ""
    negative_prompt: str = ""


def _merge(style_text: str, prompt: str) -> str:
    """A1111's rule: ``{prompt}`` in the style is replaced by the prompt; else the style follows it."""
    if not style_text:
        return prompt
    if "{prompt}" in style_text:
        return style_text.replace("{prompt}", prompt)
    if not prompt.strip():
        return style_text
    return f"{prompt.rstrip().rstrip(',')}, {style_text}"


MAX_STYLED = 100_000  # characters a prompt may grow to by its styles (each may hold {prompt} several times)


class StyleError(ValueError):
    """Styles that cannot be applied (they grow the prompt past MAX_STYLED)."""


def apply_styles(prompt: str, negative: str, styles: list[Style]) -> tuple[str, str]:
    """The prompt and negative prompt with the styles applied in order; StyleError when they grow past
    MAX_STYLED characters (styles that put ``{prompt}`` in many times, one over the other)."""
    for style in styles[:100]:
        for name, source, current in (("prompt", style.prompt, prompt), ("negative prompt", style.negative_prompt,
                                                                          negative)):  # fmt: skip
            grows = len(source) + len(current) * max(1, source.count("{prompt}"))
            if grows > MAX_STYLED:
                raise StyleError(f"The style “{style.name[:80]}” would make the {name} longer than "
                                 f"{MAX_STYLED:,} characters.")  # fmt: skip
        prompt = _merge(style.prompt, prompt)
        negative = _merge(style.negative_prompt, negative)
    return prompt, negative


def parse_csv(data: str) -> tuple[list[Style], list[str]]:
    """Styles from A1111's ``styles.csv`` (``name,prompt,negative_prompt``; extra columns ignored)."""
    styles: list[Style] = []
    problems: list[str] = []
    if "\0" in data:
        return [], ["it is not a text file (it holds NUL bytes)"]
    reader = csv.DictReader(io.StringIO(data))
    try:
        if not reader.fieldnames or "name" not in [f.strip().lower() for f in reader.fieldnames]:
            return [], ["it has no name column (A1111's styles.csv starts with name,prompt,negative_prompt)"]
        for i, row in enumerate(reader, start=2):
            row = {(k or "").strip().lower(): (v or "") for k, v in row.items() if isinstance(v, str)}
            name = row.get("name", "").strip()
            if not name:
                problems.append(f"line {i} has no name")
                continue
            styles.append(Style(name[:200], row.get("prompt", ""), row.get("negative_prompt", "")))
            if len(styles) >= MAX_STYLES:
                problems.append(f"only its first {MAX_STYLES:,} styles are read")
                break
    except csv.Error as e:  # a field over the csv module's limit (128 KB), a stray newline, …
        problems.append(f"it cannot be read past line {reader.line_num} ({e})")
    return styles, problems


def parse_fooocus(data: str) -> tuple[list[Style], list[str]]:
    """Styles from a Fooocus style file: a JSON list of {"name", "prompt", "negative_prompt"}."""
    value = parse_json(data)
    if isinstance(value, Unreadable):
        return [], [value.why]
    styles, problems = [], []
    for i, item in enumerate(lst(value)):
        d = obj(item)
        name = text(d.get("name")).strip()
        if not name:
            problems.append(f"entry {i + 1} has no name")
            continue
        styles.append(Style(name, text(d.get("prompt")), text(d.get("negative_prompt"))))
    if not isinstance(value, list):
        problems.append("it is not a list of styles")
    return styles, problems


def read_styles(path: Path) -> tuple[list[Style], list[str]]:
    """Styles from a file of either kind (by its suffix), with what could not be read; never raises."""
    raw = read_bytes(path, MAX_STYLES_FILE)
    if isinstance(raw, Unreadable):
        return [], [raw.why]
    data = raw.decode("utf-8-sig", errors="replace")
    return parse_fooocus(data) if path.suffix.lower() == ".json" else parse_csv(data)


def to_csv(styles: list[Style]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["name", "prompt", "negative_prompt"])
    for s in styles:
        writer.writerow([s.name, s.prompt, s.negative_prompt])
    return out.getvalue()


class StyleBook:
    """The user's styles over the shipped ones, by name (the user's win)."""

    def __init__(self, user_file: Path | None = None, shipped: Path | None = SHIPPED):
        self.user_file = user_file
        self.shipped = shipped
        self.problems: list[str] = []
        self._read: tuple[tuple[float, int], ...] | None = None  # the files' (mtime, size) when last read
        self._styles: dict[str, Style] = {}

    def _stamp(self) -> tuple[tuple[float, int], ...]:
        stamps = []
        for path in (self.shipped, self.user_file):
            try:
                st = path.stat() if path is not None else None
            except OSError:
                st = None
            stamps.append((st.st_mtime, st.st_size) if st else (0.0, -1))
        return tuple(stamps)

    def all(self) -> dict[str, Style]:
        """Every style by name; the files are read again only when they changed (the panel asks at each keystroke)."""
        stamp = self._stamp()
        if stamp == self._read:
            return dict(self._styles)
        out: dict[str, Style] = {}
        self.problems = []
        for path in (self.shipped, self.user_file):
            if path is not None and is_file(path):
                styles, problems = read_styles(path)
                out.update({s.name: s for s in styles})
                self.problems += [f"{path.name}: {p}" for p in problems]
        self._read, self._styles = stamp, out
        return dict(out)

    def find(self, names: list[str]) -> tuple[list[Style], str]:
        """The styles named, in order, or '' → the sentence naming the first unknown one."""
        known = self.all()
        chosen = []
        for name in names:
            if name not in known:
                where = self.user_file or "styles.csv"
                return [], f"No style “{name}” (styles are in {where}, or import A1111's styles.csv)."
            chosen.append(known[name])
        return chosen, ""

    def import_file(self, source: Path) -> tuple[int, list[str]]:
        """Add the styles of an A1111 ``styles.csv`` or a Fooocus ``.json`` to the user's file (same name:
        replaced). (how many, problems). The user's file is rewritten atomically."""
        if self.user_file is None:
            return 0, ["no styles file to import into"]
        styles, problems = read_styles(source)
        if not styles:
            return 0, problems or ["it holds no styles"]
        mine: dict[str, Style] = {}
        if is_file(self.user_file):
            mine = {s.name: s for s in read_styles(self.user_file)[0]}
        mine.update({s.name: s for s in styles})
        atomic_write_bytes(self.user_file, to_csv(list(mine.values())).encode("utf-8"))
        return len(styles), problems
