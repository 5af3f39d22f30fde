"""One Writer document's state: its text (a QTextDocument the editor shows), where it is saved, whether it changed,
and the generation in it — the span the model wrote, the alternatives to flip through, a rewrite under way.

The page is the view: it shows ``document``, forwards the user's commands, and asks the user the questions a
command needs (overwrite a file changed on disk?). Saving is atomic through the ``DocumentStore``; between saves
every edit goes to the recovery copy.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QColor, QTextCharFormat, QTextCursor, QTextDocument

from studio.core.io.choices import make_choice, record
from studio.core.jobs.errors import StudioError
from studio.core.text.story_state import StoryState, export_state, read_state, write_state
from studio.core.text.story_tree import Node, StoryTree
from studio.core.text.text_specs import TokenProb
from studio.core.text.writer_docs import DocumentStore
from studio.viewmodels.document_span import SpanGuard


def token_offsets(text: str, probs: tuple[TokenProb, ...]) -> list[tuple[int, int, int]]:
    """(start, end, index into probs) of each token found in ``text`` in order (a token whose text the
    generated text does not hold at that point — a byte-split character — is skipped)."""
    out, at = [], 0
    for i, p in enumerate(probs):
        if p.text and text.startswith(p.text, at):
            out.append((at, at + len(p.text), i))
            at += len(p.text)
    return out


class DocumentSession(QObject):
    changed = Signal()  # the generation state changed (buttons follow)
    status = Signal(str)
    opened = Signal(object)  # the Path now open
    treeChanged = Signal()  # a branch was added or put in place
    stateLoaded = Signal(object)  # the opened story's own settings (a dict), or None when it has none yet
    choicesChanged = Signal()  # a choice was recorded, or consent given or taken back
    offered = Signal(str)  # what the model wrote after the writer edited its place: to take or leave

    def __init__(self, store: DocumentStore, highlight: QColor | None = None, parent: QObject | None = None):
        """``highlight``: the background of text the model wrote and the writer has not accepted yet."""
        super().__init__(parent)
        self.store = store
        self.highlight = highlight or QColor(128, 128, 255, 45)
        self.document = QTextDocument(self)
        self.path: Path | None = None
        self.dirty = False
        self._mtime = 0
        self.state = StoryState()
        self.state_dirty = False
        self.gen_start = self.gen_end = -1  # the span of the current (or last) generation
        self.retrying = False
        self._retried: Node | None = None  # the node a retry, rewrite or token branch takes the place of
        self._kind = "continue"
        self._forced: tuple[
            TokenProb, ...
        ] = ()  # a token branch: the probabilities of the text it starts with
        self.rewrite: tuple[str, str] | None = None  # (passage, instruction) while rewriting
        self._first_token = True
        self.document.contentsChanged.connect(self._edited)
        self.guard = SpanGuard(self)

    @property
    def tree(self) -> StoryTree:
        return self.state.tree

    # -- the file -----------------------------------------------------------------------------------------------
    @property
    def text(self) -> str:
        return self.document.toPlainText()

    def _edited(self) -> None:
        self.dirty = True

    def open(self, path: Path) -> None:
        """Show ``path`` (after saving the one open) with its story state."""
        self.document.blockSignals(True)
        try:
            text = self.store.load(path)
        except StudioError as e:
            self.status.emit(e.user_message)
            text = ""
        self.document.setPlainText(text)
        self.path = path
        self._mtime = path.stat().st_mtime_ns if path.exists() else 0
        self.dirty = False
        self.gen_start = self.gen_end = -1
        self.guard.finish()
        self.rewrite, self.retrying, self._retried = None, False, None
        state, problem = read_state(path)
        if problem:
            self.status.emit(problem)
        self.state = state or StoryState()
        self.state_dirty = False
        span = self.tree.locate(text, self.tree.active) if self.tree.shown else None
        if span is not None:  # the last generation is where it was: Retry and the alternatives work again
            self.gen_start, self.gen_end = span
            self._paint(*span, self._mark())
        self.document.clearUndoRedoStacks()
        self.document.blockSignals(False)
        self.opened.emit(path)
        self.stateLoaded.emit(dict(self.state.settings) if state is not None else None)
        self.treeChanged.emit()
        self.changed.emit()

    def write_recovery(self) -> None:
        if self.path is not None and self.dirty:
            self.store.write_recovery(self.path, self.text)

    def set_settings(self, values: dict[str, Any]) -> None:
        """The story's own settings changed (saved with the next save)."""
        if values != self.state.settings:
            self.state.settings = dict(values)
            self.state_dirty = True

    def save_state(self) -> None:
        if self.path is None:
            return
        try:
            write_state(self.path, self.state)
        except OSError as e:
            self.status.emit(f"Could not save the story's settings and branches: {e.strerror or e}.")
            return
        self.state_dirty = False

    def export_state(self, target: Path) -> Path | None:
        return export_state(self.path, self.state, target) if self.path is not None else None

    def save(self, overwrite_changed: Callable[[Path], bool] = lambda path: True) -> Path | None:
        """Save if changed. A file another program changed since it was opened is overwritten only when
        ``overwrite_changed(path)`` says so; otherwise the text goes to a copy, whose path is returned."""
        if self.path is not None and self.state_dirty:
            self.save_state()
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

    @property
    def current(self) -> Node | None:
        """The node the generation span shows (None: no generation in view)."""
        node = self.tree.nodes.get(self.tree.active)
        return node if node is not None and self.gen_start >= 0 else None

    @property
    def alternatives(self) -> list[str]:
        node = self.current
        return [n.text for n in self.tree.siblings(node.id)] if node is not None else []

    @property
    def alt_index(self) -> int:
        node = self.current
        if node is None:
            return -1
        return [n.id for n in self.tree.siblings(node.id)].index(node.id)

    def begin(self, pos: int) -> None:
        """A generation starts at ``pos`` (a new one, or the retry or rewrite prepared before)."""
        if not self.retrying:
            self._record_choice("continue")  # writing on keeps the alternative in view
            self._retried, self._kind, self._forced = None, "continue", ()
            self.rewrite = None
        self.gen_start = self.gen_end = pos
        self._first_token = True
        self.guard.start()

    def _mark(self) -> QTextCharFormat:
        fmt = QTextCharFormat()
        fmt.setBackground(self.highlight)
        return fmt

    def _paint(self, start: int, end: int, fmt: QTextCharFormat) -> None:
        with self.guard.own():
            cursor = QTextCursor(self.document)
            cursor.setPosition(start)
            cursor.setPosition(end, QTextCursor.MoveMode.KeepAnchor)
            cursor.setCharFormat(fmt)

    def paint_generation(self) -> None:
        self._paint(self.gen_start, self.gen_end, self._mark())

    def insert_token(self, text: str) -> int:
        """Add the model's next piece at the end of its span (wherever the writer's edits before it moved it); the
        whole generation is one undo step unless the writer edited in between. Returns where it ends. Once the
        writer edited into the span, the pieces are kept aside (``offered`` at the end), never put elsewhere."""
        if self.guard.lost or self.gen_end < 0:
            self.guard.offered += text
            return self.gen_end
        with self.guard.own():
            cursor = QTextCursor(self.document)
            cursor.setPosition(min(self.gen_end, self.document.characterCount() - 1))
            if self._first_token or self.guard.user_edited:
                cursor.beginEditBlock()
                self._first_token = self.guard.user_edited = False
            else:
                cursor.joinPreviousEditBlock()
            cursor.insertText(text, self._mark())
            cursor.endEditBlock()
            self.gen_end = cursor.position()
        return self.gen_end

    def end(self, probs: tuple[TokenProb, ...] = (), model: str = "") -> None:
        """The generation ended (finished, stopped or failed): what it wrote becomes a node of the story's tree
        — a retry's a sibling of the one it replaced. A retry that wrote nothing puts the old text back."""
        self.retrying = False
        retried, self._retried = self._retried, None
        lost, offered = self.guard.lost, self.guard.offered
        self.guard.finish()
        if lost:  # the writer edited the place: nothing is put anywhere else; the text is offered
            self.gen_start = self.gen_end = -1
            self._forced = ()
            if offered.strip():
                self.offered.emit(offered)
            self.changed.emit()
            return
        if self.has_generation:
            text = self.text
            self.tree.add(
                text,
                self.gen_start,
                retried.removed if retried else "",
                text[self.gen_start : self.gen_end],
                self._kind,
                parent=retried.parent if retried else None,
                model=model,
                probs=(*self._forced, *probs) if self._forced else probs,
            )
            self.save_state()
            self.treeChanged.emit()
        elif retried is not None:
            self.replace_generated(retried.text)
            self.tree.active = retried.id
            self.status.emit("Nothing was written; the earlier text is back.")
        self._forced = ()
        self.changed.emit()

    def generated(self) -> str:
        return self.text[self.gen_start : self.gen_end]

    def replace_generated(self, text: str) -> None:
        with self.guard.own():
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
        node = self.tree.add(self.text, start, original, original, "original")
        self.gen_start, self.gen_end = start, end
        self.replace_generated("")
        self.rewrite = (original, instruction)
        self._retried, self._kind, self._forced = node, "rewrite", ()
        self.retrying = True
        return original

    def join_next_token_to_last_edit(self) -> None:
        """The next token joins the edit before it (a rewrite: the passage's removal and its rewrite are one undo)."""
        self._first_token = False

    def prepare_retry(self) -> bool:
        """Clear the last generation so a new one takes its place (its sibling in the tree). False if none."""
        node = self.current
        if node is None:
            return False
        self.replace_generated("")
        self._retried, self._kind, self._forced = node, "rewrite" if self.rewrite else "retry", ()
        self.retrying = True
        return True

    def prepare_token_branch(self, token_index: int, alternative: str, logprob: float) -> int | None:
        """Replace the generation in view from its ``token_index``-th token on with ``alternative``, to be
        continued from there as a new branch. Returns where the continuation starts (None: not possible)."""
        node = self.current
        if node is None or not 0 <= token_index < len(node.probs):
            return None
        offsets = token_offsets(node.text, node.probs)
        at = next((start for start, _, i in offsets if i == token_index), None)
        if at is None:
            return None
        kept = tuple(node.probs[i] for _, _, i in offsets if i < token_index)
        self.replace_generated(node.text[:at] + alternative)
        self._retried, self._kind = node, "token"
        self._forced = (*kept, TokenProb(alternative, logprob, ()))
        self.retrying = True
        pos = self.gen_end
        self.begin(self.gen_start)
        self.gen_end = pos
        self.join_next_token_to_last_edit()
        return pos

    def show_alternative(self, step: int) -> None:
        siblings = self.tree.siblings(self.current.id) if self.current is not None else []
        if not siblings:
            return
        index = max(0, min(len(siblings) - 1, self.alt_index + step))
        self.pick(siblings[index].id)

    def pick(self, node_id: str) -> bool:
        """Put a branch in place (one undo step); its text becomes the generation in view."""
        text = self.text
        placed = self.tree.place(text, node_id)
        if isinstance(placed, str):
            self.status.emit(placed)
            return False
        new, span = placed
        prefix = 0
        limit = min(len(text), len(new))
        while prefix < limit and text[prefix] == new[prefix]:
            prefix += 1
        suffix = 0
        while suffix < limit - prefix and text[-1 - suffix] == new[-1 - suffix]:
            suffix += 1
        cursor = QTextCursor(self.document)
        cursor.beginEditBlock()
        cursor.setPosition(prefix)
        cursor.setPosition(len(text) - suffix, QTextCursor.MoveMode.KeepAnchor)
        cursor.insertText(new[prefix : len(new) - suffix])
        self.gen_start, self.gen_end = span
        self._paint(*span, self._mark())
        cursor.endEditBlock()
        if self.tree.nodes[node_id].kind not in ("rewrite", "original"):
            self.rewrite = None
        self.save_state()
        self.treeChanged.emit()
        self.changed.emit()
        return True

    def token_spans(self) -> list[tuple[int, int, TokenProb, int]]:
        """(start, end, its probability, token index) in the text of each token of the generation in view."""
        node = self.current
        if node is None or not node.probs or self.generated() != node.text:
            return []
        return [
            (self.gen_start + s, self.gen_start + e, node.probs[i], i)
            for s, e, i in token_offsets(node.text, node.probs)
        ]

    # -- the writer's choices (recorded with consent) -----------------------------------------------------------------
    def set_learning(self, on: bool) -> None:
        """The writer's yes (or no) to recording their choices in this story."""
        if self.state.learn_from_choices != on:
            self.state.learn_from_choices = on
            self.save_state()
            self.choicesChanged.emit()

    def _record_choice(self, how: str) -> None:
        """The generation in view is kept and its alternatives are not: one choice, when the writer said yes."""
        node = self.current
        if node is None or self.path is None or not self.state.learn_from_choices:
            return
        others = [n.text for n in self.tree.siblings(node.id) if n.id != node.id]
        choice = make_choice(self.text[: self.gen_start], node.text, others, how, node.model)
        if choice is None:
            return
        try:
            if record(self.path, choice):
                self.choicesChanged.emit()
        except OSError as e:
            self.status.emit(f"Could not record the choice: {e.strerror or e}.")

    def accept(self) -> None:
        """Keep the generated text as the writer's own: the highlight goes (the branches stay in the tree)."""
        if not self.has_generation:
            return
        self._record_choice("accept")
        cursor = QTextCursor(self.document)
        cursor.joinPreviousEditBlock()  # not an undo step of its own: one Undo takes back the generation
        cursor.setPosition(self.gen_start)
        cursor.setPosition(self.gen_end, QTextCursor.MoveMode.KeepAnchor)
        cursor.setCharFormat(QTextCharFormat())
        cursor.endEditBlock()
        self.gen_start = self.gen_end = -1
        self.tree.shown = False
        self.state_dirty = True
        self.changed.emit()
