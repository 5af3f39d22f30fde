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
        m = _HEADING.match(line)
        if m:
            flush()
            out.append((len(m.group(1)), m.group(2).strip()))
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


def to_plain(markdown: str) -> str:
    return "\n\n".join("".join(t for t, _, _ in _runs(text)) for _, text in blocks(markdown)) + "\n"


def _html(text: str) -> str:
    out = []
    for t, bold, italic in _runs(text):
        t = html.escape(t)
        out.append(f"<strong>{t}</strong>" if bold else f"<em>{t}</em>" if italic else t)
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


def export(markdown: str, target: Path, title: str) -> Path:
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
        _docx(markdown, target, title)
    else:
        _epub(markdown, target, title)
    return target


def _docx(markdown: str, target: Path, title: str) -> None:
    import docx

    d = docx.Document()
    d.core_properties.title = title
    for level, text in blocks(markdown):
        if level:
            d.add_heading(text, level=min(level, 9))
            continue
        p = d.add_paragraph()
        for t, bold, italic in _runs(text):
            run = p.add_run(t)
            run.bold, run.italic = bold or None, italic or None
    with atomic_path(target) as tmp:
        d.save(str(tmp))


def _epub(markdown: str, target: Path, title: str) -> None:
    from ebooklib import epub

    book = epub.EpubBook()
    book.set_identifier(f"studio-{uuid.uuid4()}")
    book.set_title(title)
    book.set_language("en")
    chapters: list[tuple[str, list[str]]] = []
    for level, text in blocks(markdown):
        if level == 1 or not chapters:
            chapters.append((text if level == 1 else title, []))
            if level == 1:
                chapters[-1][1].append(f"<h1>{html.escape(text)}</h1>")
                continue
        chapters[-1][1].append(
            f"<h{level}>{html.escape(text)}</h{level}>" if level else f"<p>{_html(text)}</p>"
        )
    items = []
    for i, (name, body) in enumerate(chapters or [(title, [])], 1):
        ch = epub.EpubHtml(title=name, file_name=f"chapter{i}.xhtml", lang="en")
        ch.content = f"<html><body>{''.join(body)}</body></html>"
        book.add_item(ch)
        items.append(ch)
    book.toc = items
    book.spine = ["nav", *items]
    book.add_item(epub.EpubNcx())
    book.add_item(epub.EpubNav())
    with atomic_path(target) as tmp:
        epub.write_epub(str(tmp), book)
