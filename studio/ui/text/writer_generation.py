"""The Writer's generation, wherever the writer goes meanwhile: the model's text goes into the document and the place
it was asked for — also when another document is open by then (it is written there in the background and saved) —
and the writer keeps typing everywhere except into the span being written."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QEvent, QObject
from PySide6.QtGui import QKeyEvent, QKeySequence, QTextCursor
from PySide6.QtWidgets import QDialog, QDialogButtonBox, QLabel, QPlainTextEdit, QVBoxLayout

from studio.viewmodels.document_session import DocumentSession
from studio.viewmodels.document_span import adopt, detach

if TYPE_CHECKING:
    from studio.ui.text.writer_page import WriterPage

PROTECTED = "The model is writing here: type anywhere else, or Stop it first."


class GenerationFollower(QObject):
    """Owned by the Writer page: ``target`` is the document session the running (or waiting) generation writes
    into — the page's own, or one kept in the background for a document that is not shown."""

    def __init__(self, page: WriterPage):
        super().__init__(page)
        self.page = page
        self.target: DocumentSession = page.doc
        self.background: dict[Path, DocumentSession] = {}
        page.doc.offered.connect(self.offer)
        page.editor.installEventFilter(self)

    @property
    def here(self) -> bool:
        """The generation writes into the document in the editor."""
        return self.target is self.page.doc

    # -- switching documents ---------------------------------------------------------------------------------------
    def leaving(self) -> None:
        """The editor is about to show another document: a generation under way in this one moves to the
        background with it."""
        doc = self.page.doc
        if self.page.session.busy and self.here and doc.guard.pending and doc.path is not None:
            copy = detach(doc)
            copy.offered.connect(self.offer)
            copy.status.connect(self.page.status.setText)
            self.background[doc.path] = copy
            self.target = copy

    def opened(self, path: Path) -> None:
        """The editor shows ``path`` now (read from disk): a generation still writing into it comes back here."""
        copy = self.background.pop(path, None)
        if copy is None:
            return
        if copy is self.target and copy.guard.pending:
            adopt(self.page.doc, copy)
            self.target = self.page.doc
        copy.deleteLater()

    def opening(self, path: Path) -> None:
        """Before ``path`` is read: its background copy (still being written) is saved first, so it reads as is."""
        copy = self.background.get(path)
        if copy is not None:
            copy.save()

    # -- the model's text --------------------------------------------------------------------------------------------
    def token(self, text: str) -> None:
        editor, target = self.page.editor, self.target
        follow = self.here and editor.textCursor().position() == target.gen_end  # the cursor rides along
        end = target.insert_token(text)
        if follow and end >= 0:
            cursor = editor.textCursor()
            cursor.setPosition(end)
            editor.setTextCursor(cursor)
            editor.ensureCursorVisible()

    def ended(self, probs: tuple, model: str) -> None:
        target = self.target
        target.end(probs, model)
        if not self.here:  # written in the background: saved now; the document shows it when opened
            target.save()
            name = target.path.stem if target.path else "the document"
            self.page.status.setText(f"The model's text went into “{name}”, where it was asked for (saved).")
            if target.path is not None:
                self.background.pop(target.path, None)
            target.deleteLater()
            self.target = self.page.doc

    def offer(self, text: str) -> None:
        """What the model wrote after its place was edited: shown to copy, never put in the text by itself."""
        box = QDialog(self.page)
        box.setWindowTitle("The model's text")
        lay = QVBoxLayout(box)
        lay.addWidget(QLabel("You edited the place where the model was writing, so this was not put in the text. "
                             "Copy what you want of it:"))  # fmt: skip
        view = QPlainTextEdit(text)
        view.setReadOnly(True)
        lay.addWidget(view)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(box.reject)
        lay.addWidget(buttons)
        box.setModal(False)
        box.show()
        self.page.offered_box = box

    # -- only the span being written is protected -------------------------------------------------------------------
    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 (Qt's name)
        if (
            watched is self.page.editor
            and event.type() == QEvent.Type.KeyPress
            and isinstance(event, QKeyEvent)
            and self.here
            and self.page.doc.guard.pending
        ):
            span = edited_range(self.page.editor.textCursor(), event)
            if span is not None and self.page.doc.guard.touches(*span):
                self.page.status.setText(PROTECTED)
                return True
        return super().eventFilter(watched, event)


def edited_range(cursor: QTextCursor, event: QKeyEvent) -> tuple[int, int] | None:
    """The characters a key press would change at ``cursor`` (None: it changes nothing, e.g. an arrow key)."""
    start, end = cursor.selectionStart(), cursor.selectionEnd()
    if event.matches(QKeySequence.StandardKey.Undo) or event.matches(QKeySequence.StandardKey.Redo):
        return (0, 1 << 30)  # an undo may reach the generation: not while it is written
    if event.matches(QKeySequence.StandardKey.Paste) or event.matches(QKeySequence.StandardKey.Cut):
        return (start, end)
    key = event.key()
    from PySide6.QtCore import Qt

    if key == Qt.Key.Key_Backspace:
        return (start, end) if end > start else (max(0, start - 1), start)
    if key == Qt.Key.Key_Delete:
        return (start, end) if end > start else (start, start + 1)
    if key in (Qt.Key.Key_Return, Qt.Key.Key_Enter, Qt.Key.Key_Tab) or (
        event.text() and event.text().isprintable()
    ):
        if event.modifiers() & (Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.AltModifier):
            return None
        return (start, end)
    return None
