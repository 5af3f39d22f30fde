"""The writer's documents as plain text to learn from: Markdown and plain text as they are, Word documents' paragraphs
(python-docx), EPUB chapters' text (EbookLib). Read as untrusted: a document that cannot be read is said, by name."""

from __future__ import annotations

import html
import re
from pathlib import Path

from studio.core.io.untrusted import Unreadable, read_bytes

MAX_DOC = 64 * 1024 * 1024
MAX_UNPACKED = 256 * 1024 * 1024  # a .docx or .epub's members, unpacked, all together
MAX_MEMBERS = 10_000
MAX_RATIO = 200  # unpacked / packed of one member (a zip bomb is thousands; text compresses 3–10×)


def zip_problem(path: Path) -> str:
    """A sentence when a .docx/.epub (a zip) is beyond what Studio unpacks — too large, too many members, or
    members that unpack a hundred times their size (a zip bomb); "" when it is fine. Reads the directory only."""
    import zipfile

    try:
        if path.stat().st_size > MAX_DOC:
            return f"{path.name} is larger than {MAX_DOC // 2**20} MB."
        with zipfile.ZipFile(path) as z:
            members = z.infolist()
    except (OSError, zipfile.BadZipFile, ValueError) as e:
        return f"{path.name} is not a document Studio can read ({type(e).__name__})."
    if len(members) > MAX_MEMBERS:
        return f"{path.name} holds more than {MAX_MEMBERS:,} files."
    total = sum(m.file_size for m in members)
    if total > MAX_UNPACKED:
        return f"{path.name} unpacks to {total / 2**20:,.0f} MB; Studio unpacks up to {MAX_UNPACKED // 2**20} MB."
    for m in members:
        if m.file_size > 1 << 20 and m.file_size > MAX_RATIO * max(1, m.compress_size):
            return f"{path.name} holds {m.filename[:80]}, which unpacks {m.file_size // max(1, m.compress_size):,} times its size (a zip bomb?)."
    return ""


def read_document_text(path: Path) -> str:
    """The document's text; ``ValueError`` with a sentence when it cannot be read."""
    suffix = path.suffix.lower()
    if suffix in (".md", ".txt", ".markdown"):
        data = read_bytes(path, MAX_DOC)
        if isinstance(data, Unreadable):
            raise ValueError(f"{path.name} cannot be read ({data.why}).")
        return data.decode("utf-8", errors="replace")
    if suffix in (".docx", ".epub") and (why := zip_problem(path)):
        raise ValueError(why)
    if suffix == ".docx":
        try:
            import docx

            return "\n\n".join(p.text for p in docx.Document(str(path)).paragraphs)
        except Exception as e:  # noqa: BLE001 - a damaged or foreign file: said, by name
            raise ValueError(
                f"{path.name} is not a Word document Studio can read ({type(e).__name__})."
            ) from e
    if suffix == ".epub":
        try:
            import ebooklib
            from ebooklib import epub

            book = epub.read_epub(str(path), options={"ignore_ncx": True})
            parts = [item.get_content().decode("utf-8", errors="replace")
                     for item in book.get_items_of_type(ebooklib.ITEM_DOCUMENT)]  # fmt: skip
        except Exception as e:  # noqa: BLE001
            raise ValueError(f"{path.name} is not an EPUB Studio can read ({type(e).__name__}).") from e
        return "\n\n".join(_html_text(p) for p in parts)
    raise ValueError(f"{path.name}: Studio learns from .md, .txt, .docx and .epub documents.")


def _html_text(markup: str) -> str:
    markup = re.sub(r"(?is)<(script|style)\b.*?</\1>", " ", markup)
    markup = re.sub(r"(?i)</(p|div|h[1-6]|li)>|<br\s*/?>", "\n\n", markup)
    return html.unescape(re.sub(r"<[^>]+>", "", markup)).strip()


def documents_in(paths: list[Path]) -> list[Path]:
    """The documents among ``paths``: files as given, folders' .md/.txt/.docx/.epub files (not hidden ones)."""
    from studio.core.train.text_train_specs import TEXT_SUFFIXES

    out: list[Path] = []
    for p in paths:
        if p.is_dir():
            out += sorted(
                f for f in p.rglob("*") if f.suffix.lower() in TEXT_SUFFIXES and not f.name.startswith(".")
            )
        else:
            out.append(p)
    return out
