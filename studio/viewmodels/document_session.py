"""One Writer document's state: its text (a QTextDocument the editor shows), where it is saved, whether it changed,
and the generation in it — the span the model wrote, the alternatives to flip through, a rewrite under way.

The page is the view: it shows ``document``, forwards the user's commands, and asks the user the questions a
command needs (overwrite a file changed on disk?). Saving is atomic through the ``DocumentStore``; between saves
every edit goes to the recovery copy.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QColor, QTextCharFormat, QTextCursor, QTextDocument

from studio.core.errors import StudioError
from studio.core.writer_docs import DocumentStore


class DocumentSession(QObject):
    changed = Signal()  # the generation state changed (buttons follow)
    status = Signal(str)
    opened = Signal(object)  # the Path now open

    def __init__(self, store: DocumentStore, highlight: QColor | None = None, parent: QObject | None = None):
        """``highlight``: the background of text the model wrote and the writer has not accepted yet."""
        super().__init__(parent)
        self.store = store
        self.highlight = highlight or QColor(128, 128, 255, 45)
        self.document = QTextDocument(self)
        self.path: Path | None = None
        self.dirty = False
        self._mtime = 0
        self.gen_start = self.gen_end = -1  # the span of the current (or last) generation
        self.alternatives: list[str] = []
        self.alt_index = -1
        self.retrying = False
        self.rewrite: tuple[str, str] | None = None  # (passage, instruction) while rewriting
        self._first_token = True
        self.document.contentsChanged.connect(self._edited)

    # -- the file -----------------------------------------------------------------------------------------------
    @property
    def text(self) -> str:
        return self.document.toPlainText()

    def _edited(self) -> None:
        self.dirty = True

    def open(self, path: Path) -> None:
        """Show ``path`` (after saving the one open)."""
        self.document.blockSignals(True)
        try:
            text = self.store.load(path)
        except StudioError as e:
            self.status.emit(e.user_message)
            text = ""
        self.document.setPlainText(text)
        self.document.clearUndoRedoStacks()
        self.document.blockSignals(False)
        self.path = path
        self._mtime = path.stat().st_mtime_ns if path.exists() else 0
        self.dirty = False
        self.gen_start = self.gen_end = -1
        self.alternatives, self.alt_index = [], -1
        self.rewrite, self.retrying = None, False
        self.opened.emit(path)
        self.changed.emit()

    def write_recovery(self) -> None:
        if self.path is not None and self.dirty:
            self.store.write_recovery(self.path, self.text)

    def save(self, overwrite_changed: Callable[[Path], bool] = lambda path: True) -> Path | None:
        """Save if changed. A file another program changed since it was opened is overwritten only when
        ``overwrite_changed(path)`` says so; otherwise the text goes to a copy, whose path is returned."""
        if self.path is None or not self.dirty:
            return None
        changed = self.store.changed_on_disk(self.path, self._mtime) and self.path.exists()
        if changed and not overwrite_changed(self.path):
            copy = self.store.new_document(self.path.stem + " (mine)")
            self.store.save(copy, self.text)
            self.dirty = False
            return copy
        try:
            self.store.save(self.path, self.text)
        except StudioError as e:
            self.status.emit(e.user_message)
            return None
        self._mtime = self.path.stat().st_mtime_ns
        self.dirty = False
        return None

    # -- a generation ---------------------------------------------------------------------------------------------
    @property
    def has_generation(self) -> bool:
        return self.gen_start >= 0 and self.gen_end > self.gen_start

    def begin(self, pos: int) -> None:
        """A generation starts at ``pos`` (a new one forgets the alternatives; a retry or rewrite keeps them)."""
        if not self.retrying:
            self.alternatives, self.alt_index = [], -1
            self.rewrite = None
        self.gen_start = self.gen_end = pos
        self._first_token = True

    def _mark(self) -> QTextCharFormat:
        fmt = QTextCharFormat()
        fmt.setBackground(self.highlight)
        return fmt

    def insert_token(self, text: str) -> int:
        """Add the model's next piece; the whole generation is one undo step. Returns where it ends."""
        cursor = QTextCursor(self.document)
        cursor.setPosition(self.gen_end)
        if self._first_token:
            cursor.beginEditBlock()
            self._first_token = False
        else:
            cursor.joinPreviousEditBlock()
        cursor.insertText(text, self._mark())
        cursor.endEditBlock()
        self.gen_end = cursor.position()
        return self.gen_end

    def end(self) -> None:
        """The generation ended (finished, stopped or failed): what it wrote becomes an alternative."""
        self.retrying = False
        if self.has_generation:
            self.alternatives.append(self.generated())
            self.alt_index = len(self.alternatives) - 1
        self.changed.emit()

    def generated(self) -> str:
        return self.text[self.gen_start : self.gen_end]

    def replace_generated(self, text: str) -> None:
        cursor = QTextCursor(self.document)
        cursor.setPosition(self.gen_start)
        cursor.setPosition(self.gen_end, QTextCursor.MoveMode.KeepAnchor)
        cursor.beginEditBlock()
        cursor.insertText(text, self._mark())
        cursor.endEditBlock()
        self.gen_end = cursor.position()

    def start_rewrite(self, start: int, end: int, instruction: str) -> str:
        """The passage ``start:end`` gives way to its rewrite; it stays as the first alternative. Returns it."""
        original = self.text[start:end]
        self.gen_start, self.gen_end = start, end
        self.replace_generated("")
        self.alternatives, self.alt_index = [original], 0
        self.rewrite = (original, instruction)
        self.retrying = True
        return original

    def join_next_token_to_last_edit(self) -> None:
        """The next token joins the edit before it (a rewrite: the passage's removal and its rewrite are one undo)."""
        self._first_token = False

    def prepare_retry(self) -> bool:
        """Clear the last generation so a new one takes its place (kept as an alternative). False if none."""
        if self.gen_start < 0:
            return False
        self.replace_generated("")
        self.retrying = True
        return True

    def show_alternative(self, step: int) -> None:
        if not self.alternatives:
            return
        self.alt_index = max(0, min(len(self.alternatives) - 1, self.alt_index + step))
        self.replace_generated(self.alternatives[self.alt_index])
        self.changed.emit()

    def accept(self) -> None:
        """Keep the generated text as the writer's own: the highlight goes, the alternatives are forgotten."""
        if not self.has_generation:
            return
        cursor = QTextCursor(self.document)
        cursor.setPosition(self.gen_start)
        cursor.setPosition(self.gen_end, QTextCursor.MoveMode.KeepAnchor)
        cursor.setCharFormat(QTextCharFormat())
        self.gen_start = self.gen_end = -1
        self.alternatives, self.alt_index = [], -1
        self.changed.emit()
