"""Exporting a Markdown manuscript: Markdown (as is), plain text, DOCX (python-docx) and EPUB (EbookLib).

The manuscript's structure is read simply: ``#``…``######`` lines are headings (a level-1 heading starts a new
EPUB chapter), blank lines separate paragraphs, ``*emphasis*`` and ``**strong**`` are kept as such.
"""

from __future__ import annotations

import html
import re
import uuid
from pathlib import Path

from studio.core.io.atomic import atomic_path
from studio.core.text.writer_docs import write_text_atomic

FORMATS = {".md": "Markdown", ".txt": "Plain text", ".docx": "Word document", ".epub": "EPUB e-book"}
# where the model's passages start and end, while the text goes through the formats (private-use characters)
MODEL_OPEN, MODEL_CLOSE = "\ue000", "\ue001"
_MARKS = re.compile(f"([{MODEL_OPEN}{MODEL_CLOSE}])")
MODEL_STYLE = "Model-written"  # the Word character style (and EPUB class) of the model's passages
_HEADING = re.compile(r"^(#{1,6})\s+(.*)$")
_INLINE = re.compile(r"(\*\*[^*]+\*\*|\*[^*]+\*|__[^_]+__|_[^_]+_)")


def blocks(markdown: str) -> list[tuple[int, str]]:
    """(heading level or 0 for a paragraph, text) in order."""
    out: list[tuple[int, str]] = []
    para: list[str] = []

    def flush() -> None:
        if para:
            out.append((0, " ".join(s.strip() for s in para)))
            para.clear()

    for line in markdown.splitlines():
        lead = line[
            : len(line) - len(line.lstrip(MODEL_OPEN + MODEL_CLOSE))
        ]  # a passage may start at a heading
        m = _HEADING.match(line[len(lead) :])
        if m:
            flush()
            out.append((len(m.group(1)), lead + m.group(2).strip()))
        elif not line.strip():
            flush()
        else:
            para.append(line)
    flush()
    return out


def _runs(text: str) -> list[tuple[str, bool, bool]]:
    """(text, bold, italic) pieces of a paragraph."""
    runs = []
    for piece in _INLINE.split(text):
        if not piece:
            continue
        if piece.startswith(("**", "__")) and piece.endswith(("**", "__")) and len(piece) > 4:
            runs.append((piece[2:-2], True, False))
        elif piece[0] in "*_" and piece[-1] == piece[0] and len(piece) > 2:
            runs.append((piece[1:-1], False, True))
        else:
            runs.append((piece, False, False))
    return runs


def mark_passages(markdown: str, spans: list[tuple[int, int]]) -> str:
    """``markdown`` with the model's passages (character spans) between ``MODEL_OPEN`` and ``MODEL_CLOSE``."""
    out, at = [], 0
    for start, end in sorted((max(0, a), min(len(markdown), b)) for a, b in spans):
        if start < at or end <= start:
            continue
        out += [markdown[at:start], MODEL_OPEN, markdown[start:end], MODEL_CLOSE]
        at = end
    return "".join([*out, markdown[at:]])


class Passages:
    """Splits runs of text at the passage marks, remembering across paragraphs whether the model wrote what
    comes next."""

    def __init__(self) -> None:
        self.inside = False

    def split(self, text: str) -> list[tuple[str, bool]]:
        out = []
        for piece in _MARKS.split(text):
            if piece in (MODEL_OPEN, MODEL_CLOSE):
                self.inside = piece == MODEL_OPEN
            elif piece:
                out.append((piece, self.inside))
        return out


def unmarked(text: str) -> str:
    return _MARKS.sub("", text)


def to_plain(markdown: str) -> str:
    return "\n\n".join("".join(t for t, _, _ in _runs(text)) for _, text in blocks(markdown)) + "\n"


def _html(text: str, passages: Passages | None = None) -> str:
    out = []
    passages = passages or Passages()
    for t, bold, italic in _runs(text):
        for piece, model in passages.split(t):
            piece = html.escape(piece)
            piece = f"<strong>{piece}</strong>" if bold else f"<em>{piece}</em>" if italic else piece
            out.append(f'<span class="{MODEL_STYLE.lower()}">{piece}</span>' if model else piece)
    return "".join(out)


def document_title(markdown: str, fallback: str) -> str:
    """The document's title: its first heading when it starts with one, else ``fallback`` (its file's name, which
    for a new document — "Untitled 3" — says less than the heading)."""
    for level, text in blocks(markdown):
        if level and text.strip():
            return text.strip()
        if text.strip():
            break
    return fallback


def export(markdown: str, target: Path, title: str, passages: list[tuple[int, int]] | None = None) -> Path:
    """Write ``markdown`` as ``target``'s format. ``passages``: the model's spans, marked in Word (a character
    style) and EPUB (a class) when given."""
    title = document_title(markdown, title)
    suffix = target.suffix.lower()
    if suffix not in FORMATS:
        raise ValueError(
            f"Studio exports {', '.join(FORMATS)}; not {suffix or 'a file without an extension'}."
        )
    if suffix == ".md":
        write_text_atomic(target, markdown)
    elif suffix == ".txt":
        write_text_atomic(target, to_plain(markdown))
    elif suffix == ".docx":
        _docx(mark_passages(markdown, passages or []), target, title, bool(passages))
    else:
        _epub(mark_passages(markdown, passages or []), target, title, bool(passages))
    return target


def _docx(markdown: str, target: Path, title: str, marked: bool = False) -> None:
    import docx
    from docx.enum.style import WD_STYLE_TYPE
    from docx.shared import RGBColor

    d = docx.Document()
    d.core_properties.title = title
    if marked:
        style = d.styles.add_style(MODEL_STYLE, WD_STYLE_TYPE.CHARACTER)
        style.font.color.rgb = RGBColor(0x1F, 0x5F, 0x9F)
    passages = Passages()
    for level, text in blocks(markdown):
        if level:
            d.add_heading(unmarked(text), level=min(level, 9))
            passages.split(text)
            continue
        p = d.add_paragraph()
        for t, bold, italic in _runs(text):
            for piece, model in passages.split(t):
                run = p.add_run(piece, style=MODEL_STYLE if model and marked else None)
                run.bold, run.italic = bold or None, italic or None
    with atomic_path(target) as tmp:
        d.save(str(tmp))


def _epub(markdown: str, target: Path, title: str, marked: bool = False) -> None:
    from ebooklib import epub

    book = epub.EpubBook()
    book.set_identifier(f"studio-{uuid.uuid4()}")
    book.set_title(title)
    book.set_language("en")
    chapters: list[tuple[str, list[str]]] = []
    passages = Passages()
    for level, marked_text in blocks(markdown):
        text = unmarked(marked_text)
        if level:
            passages.split(marked_text)
        if level == 1 or not chapters:
            chapters.append((text if level == 1 else title, []))
            if level == 1:
                chapters[-1][1].append(f"<h1>{html.escape(text)}</h1>")
                continue
        chapters[-1][1].append(
            f"<h{level}>{html.escape(text)}</h{level}>" if level else f"<p>{_html(marked_text, passages)}</p>"
        )
    if marked:  # the model's passages: a class, coloured by the book's style sheet
        css = f".{MODEL_STYLE.lower()} {{ color: #1f5f9f; }}"
        book.add_item(epub.EpubItem(uid="style", file_name="style.css", media_type="text/css", content=css))
    items = []
    for i, (name, body) in enumerate(chapters or [(title, [])], 1):
        ch = epub.EpubHtml(title=name, file_name=f"chapter{i}.xhtml", lang="en")
        ch.content = f"<html><body>{''.join(body)}</body></html>"
        if marked:
            ch.add_link(href="style.css", rel="stylesheet", type="text/css")
        book.add_item(ch)
        items.append(ch)
    book.toc = items
    book.spine = ["nav", *items]
    book.add_item(epub.EpubNcx())
    book.add_item(epub.EpubNav())
    with atomic_path(target) as tmp:
        epub.write_epub(str(tmp), book)
