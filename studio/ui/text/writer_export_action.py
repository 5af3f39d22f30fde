"""The Writer's *Export…*: where to (a name and a type that agree), then the file written off the GUI thread — a
Word or EPUB file takes a second to make, and the window does not wait for it."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtWidgets import QFileDialog

from studio.viewmodels.background import in_background

if TYPE_CHECKING:
    from studio.ui.text.writer_page import WriterPage


def export_document(
    page: WriterPage, target: Path | None, with_state: bool, mark: bool = False
) -> Path | None:
    """``mark``: the model's passages in their own style (Word) or class (EPUB)."""
    from studio.core.io.atomic import atomic_write_text
    from studio.core.text.story_state import exported_state_path
    from studio.core.text.writer_export import FORMATS
    from studio.viewmodels.document_export import export_with_credentials

    if page.path is None:
        return None
    if target is None:
        filters = ";;".join(f"{name} (*{suffix})" for suffix, name in FORMATS.items())
        word = f"{FORMATS['.docx']} (*.docx)"  # the proposed name and the chosen type agree
        name, chosen = QFileDialog.getSaveFileName(
            page, "Export", str(Path.home() / f"{page.path.stem}.docx"), filters, word
        )
        if not name:
            return None
        target = Path(name)
        if not target.suffix:
            target = target.with_suffix(next(s for s, n in FORMATS.items() if chosen.startswith(n)))
    if target.suffix.lower() not in FORMATS:
        page.status.setText(
            f"Could not export: Studio exports {', '.join(FORMATS)}; not {target.suffix or 'a file without an extension'}."
        )
        return None
    text, title = page.editor.toPlainText(), page.path.stem
    state = page.doc.state.as_json() if with_state else None  # a snapshot: the story may change meanwhile
    tree = page.doc.state.tree
    writing = (tree.model_passages(text), tree.model_names())
    out = target
    sealer = page.session.sealer

    def write() -> tuple[Path | None, str]:
        signed = export_with_credentials(text, out, title, writing, mark=mark, sealer=sealer)
        if state is None:
            return None, signed
        beside = exported_state_path(out)
        atomic_write_text(beside, state)
        return beside, signed

    def done(result: tuple[Path | None, str]) -> None:
        beside, signed = result
        also = f" with its settings and branches in {beside.name}" if beside else ""
        marked = f", the model's {len(writing[0])} passage(s) marked" if mark else ""
        page.status.setText(f"Exported to {out}{also}{marked}{signed}.")
        page.exported.emit(str(out))

    def failed(e: BaseException) -> None:
        page.status.setText(f"Could not export: {getattr(e, 'strerror', None) or e}")

    page.status.setText(f"Exporting to {out.name}…")
    in_background(page, write, done, name="studio-export", on_error=failed)
    return out
