"""The Writer room: documents, the manuscript editor where the model continues at the cursor, and its settings."""

from __future__ import annotations

import math
from pathlib import Path

from PySide6.QtCore import QEvent, QObject, Qt, QTimer, Signal
from PySide6.QtGui import QColor, QMouseEvent, QTextCursor
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMenu,
    QMessageBox,
    QPlainTextDocumentLayout,
    QPlainTextEdit,
    QPushButton,
    QScrollArea,
    QSplitter,
    QTabWidget,
    QTextEdit,
    QVBoxLayout,
    QWidget,
)

from studio.core.text.text_specs import TokenProb
from studio.core.text.writer_docs import DocumentStore
from studio.ui.common.fold import FoldBySize
from studio.ui.common.scroll_row import ScrollRow
from studio.ui.common.theme import ACCENT, icon
from studio.ui.text.writer_branches import BranchesPanel
from studio.ui.text.writer_chat import ChatPanel
from studio.ui.text.writer_choices import ChoicesPanel
from studio.ui.text.writer_documents import DocumentsList
from studio.ui.text.writer_generation import GenerationFollower
from studio.ui.text.writer_inside import InsidePanel, attention_selections
from studio.ui.text.writer_settings import WriterSettings
from studio.viewmodels.blind_compare import BlindComparison
from studio.viewmodels.document_session import DocumentSession
from studio.viewmodels.server_book import ServerBook
from studio.viewmodels.text_explain import TextExplainer
from studio.viewmodels.text_train_session import TextTrainSession
from studio.viewmodels.writer_session import STORY_FIELDS, WriterSession

RECOVERY_DELAY_MS = 800
SAVE_EVERY_MS = 5000


_SETTINGS_PARTS = ("model_box", "engine_box", "preset_box", "presets", "_spins", "stop_edit", "memory_edit",
                   "note_edit", "lore", "apply_preset", "save_preset", "_add_lore_row", "_remove_lore_row",
                   "use_server_model")  # fmt: skip


class WriterPage(QWidget):
    illustrateRequested = Signal(str)  # a prompt draft for the Image panel
    exported = Signal(str)  # an export was written (its path)
    _context_for, _context_later = "", False  # What the model sees: its text; answered while hidden

    def __init__(
        self,
        session: WriterSession,
        store: DocumentStore,
        parent: QWidget | None = None,
        servers: ServerBook | None = None,
        explainer: TextExplainer | None = None,
        blind: BlindComparison | None = None,
        teacher: TextTrainSession | None = None,
    ):
        super().__init__(parent)
        self.session, self.store = session, store
        self.servers = servers
        highlight = QColor(ACCENT)
        highlight.setAlpha(45)
        self.doc = DocumentSession(store, highlight)  # the open document's state; this page is its view
        self.doc.document.setDocumentLayout(QPlainTextDocumentLayout(self.doc.document))

        split = QSplitter(Qt.Orientation.Horizontal)
        split.addWidget(self._documents_panel())
        split.addWidget(self._editor_panel())
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QScrollArea.Shape.NoFrame)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        scroll.setWidget(self._settings_panel())
        side = QTabWidget()
        side.addTab(scroll, "Settings")
        self.branches = BranchesPanel(self.doc)
        side.addTab(self.branches, "Branches")
        self.choices = ChoicesPanel(self.doc)
        side.addTab(self.choices, "Choices")
        self.blind, self.teacher = blind, teacher
        self.choices.blindRequested.connect(self.compare_blind)
        self.chat = ChatPanel(self.session)
        self.chat.failed.connect(self.status.setText)
        side.addTab(self.chat, "Chat")
        if (
            explainer is not None
        ):  # what the model does with the text: next token, settings side by side, attention
            self.inside = InsidePanel(
                explainer, lambda: (self.editor.toPlainText(), self.editor.textCursor().position())
            )
            self.inside.highlight.connect(self._show_attention)
            self.inside.insertRequested.connect(self.editor.insertPlainText)
            side.addTab(self.inside, "Inside")
        side.setMinimumWidth(300)
        self.side_tabs = side
        split.addWidget(side)
        split.setStretchFactor(1, 4)
        split.setSizes([200, 760, 380])
        self.split = split
        self._fold = FoldBySize(split, 0, 1000, _writer_sizes, lambda total: _writer_sizes(total, small=True))
        lay = QVBoxLayout(self)
        lay.setContentsMargins(8, 8, 8, 8)
        lay.addWidget(split)

        session.tokenArrived.connect(self._insert_token)
        session.generationStarted.connect(self._started)
        session.generationEnded.connect(self._ended)
        session.status.connect(self.status.setText)
        session.contextReady.connect(self._show_context)
        self._recovery_timer = QTimer(self, singleShot=True, interval=RECOVERY_DELAY_MS)
        self._recovery_timer.timeout.connect(self._write_recovery)
        self._save_timer = QTimer(self, interval=SAVE_EVERY_MS)
        self._save_timer.timeout.connect(self.save)
        self._save_timer.start()
        self.editor.textChanged.connect(self._recovery_timer.start)
        self.doc.changed.connect(self._update_buttons)
        self.doc.changed.connect(self._show_probabilities)
        self.doc.status.connect(self.status.setText)
        self.doc.stateLoaded.connect(session.open_story)
        session.changed.connect(
            lambda name: name in STORY_FIELDS and self.doc.set_settings(session.story_values())
        )
        self.editor.viewport().installEventFilter(self)
        self.follower = GenerationFollower(self)  # the model's text goes where it was asked, whatever is open
        self._load_documents()
        QTimer.singleShot(0, self.offer_recoveries)

    # -- building ------------------------------------------------------------------------------------------------
    def _documents_panel(self) -> QWidget:
        w = QWidget()
        v = QVBoxLayout(w)
        v.setContentsMargins(0, 0, 0, 0)
        v.addWidget(QLabel("<b>Documents</b>"))
        self.documents = DocumentsList(self.store, self.save, lambda: setattr(self.doc, "path", None))
        self.documents.openRequested.connect(self.open)
        self.documents.said.connect(lambda text: self.status.setText(text))  # the status line comes later
        self.docs, self.undo_delete_btn = self.documents.list, self.documents.undo_btn
        v.addWidget(self.documents, 1)
        new = QPushButton(icon("plus"), "New document")
        new.clicked.connect(lambda: self.new_document())
        v.addWidget(new)
        export = QPushButton(icon("file"), "Export…")
        export.setToolTip("Save a copy as Markdown, plain text, Word (DOCX) or EPUB")
        menu = QMenu(export)
        menu.addAction("Export the text…", lambda: self.export_to())
        menu.addAction(
            "Export with the story's settings and branches…", lambda: self.export_to(with_state=True)
        )
        menu.addAction("Export, marking the model's passages…", lambda: self.export_to(mark=True))
        export.setMenu(menu)
        v.addWidget(export)
        teach = QPushButton("Teach the model…")
        teach.setToolTip(
            "Learn my voice from documents, or learn from the choices recorded in stories (a text LoRA)"
        )
        teach.clicked.connect(self.teach)
        v.addWidget(teach)
        where = QLabel(f"Markdown files in\n{self.store.folder}")
        where.setWordWrap(True)
        where.setObjectName("hint")
        v.addWidget(where)
        return w

    def _editor_panel(self) -> QWidget:
        w = QWidget()
        v = QVBoxLayout(w)
        v.setContentsMargins(0, 0, 0, 0)
        self.editor = QPlainTextEdit()
        self.editor.setDocument(self.doc.document)
        self.editor.setPlaceholderText(
            "Write here. Put the cursor where the story should go on and press Continue "
            "(Ctrl+Return): the model writes from there."
        )
        f = self.editor.font()
        f.setPointSizeF(f.pointSizeF() * 1.15)
        self.editor.setFont(f)
        v.addWidget(self.editor, 1)
        self.continue_btn = QPushButton(icon("generate"), "Continue")
        self.continue_btn.setToolTip("The model continues at the cursor (Ctrl+Return)")
        self.continue_btn.clicked.connect(lambda: self.continue_at_cursor())
        self.stop_btn = QPushButton(icon("stop"), "Stop")
        self.stop_btn.clicked.connect(self.session.stop)
        self.retry_btn = QPushButton(icon("recycle"), "Retry")
        self.retry_btn.setToolTip(
            "Replace the last generation with a new one; the old one stays as an alternative"
        )
        self.retry_btn.clicked.connect(self.retry)
        self.prev_btn = QPushButton("◀")
        self.prev_btn.setFixedWidth(34)
        self.prev_btn.setToolTip("Previous alternative")
        self.prev_btn.clicked.connect(lambda: self.show_alternative(-1))
        self.alt_label = QLabel()
        self.next_btn = QPushButton("▶")
        self.next_btn.setFixedWidth(34)
        self.next_btn.setToolTip("Next alternative")
        self.next_btn.clicked.connect(lambda: self.show_alternative(+1))
        self.accept_btn = QPushButton("Accept")
        self.accept_btn.setToolTip("Keep the generated text as your own (removes the highlight)")
        self.accept_btn.clicked.connect(self.accept)
        self.sees_btn = QPushButton("What the model sees")
        self.sees_btn.setToolTip("Memory, Lorebook, story and Author's Note as sent, with token counts")
        self.sees_btn.clicked.connect(self.show_context)
        self.illustrate_btn = QPushButton(icon("image"), "Illustrate")
        self.illustrate_btn.setToolTip("Use the selected passage as a prompt draft in the Image panel")
        self.illustrate_btn.clicked.connect(self.illustrate)
        self.probs_btn = QPushButton("Probabilities")
        self.probs_btn.setCheckable(True)
        self.probs_btn.setToolTip(
            "Colour the generated text by how likely the model found each token (red: unlikely); click a token "
            "for its alternatives — choosing one starts a new branch from there"
        )
        self.probs_btn.toggled.connect(self._show_probabilities)
        self.undo_btn = QPushButton("Undo")
        self.undo_btn.setToolTip("Undo the last change; a whole generation is one step (Ctrl+Z)")
        self.undo_btn.clicked.connect(self.editor.undo)
        # two rows — writing (continue, its alternatives, keep or undo it) and looking (what the model saw and
        # wrote): the default window shows every button; a narrow one scrolls them, never clips one
        rows = QVBoxLayout()
        for buttons in (
            (self.continue_btn, self.stop_btn, self.retry_btn, self.prev_btn, self.alt_label, self.next_btn,
             self.accept_btn, self.undo_btn),
            (self.probs_btn, self.sees_btn, self.illustrate_btn),
        ):  # fmt: skip
            row = QHBoxLayout()
            for b in buttons:
                row.addWidget(b)
            row.addStretch(1)
            rows.addLayout(row)
        v.addWidget(ScrollRow(rows))
        rewrite_row = QHBoxLayout()
        self.instruction = QLineEdit(
            placeholderText="Rewrite the selection: e.g. tighter, more menace, in the present tense"
        )
        self.instruction.returnPressed.connect(self.rewrite_selection)
        self.rewrite_btn = QPushButton("Rewrite selection")
        self.rewrite_btn.setToolTip(
            "The model rewrites the selected passage as asked; Retry and ◀ ▶ work as for "
            "Continue, and the original stays as the first alternative"
        )
        self.rewrite_btn.clicked.connect(self.rewrite_selection)
        rewrite_row.addWidget(self.instruction, 1)
        rewrite_row.addWidget(self.rewrite_btn)
        v.addLayout(rewrite_row)
        self.status = QLabel()
        self.status.setObjectName("hint")
        v.addWidget(self.status)
        self._update_buttons()
        return w

    def _settings_panel(self) -> QWidget:
        self.settings_panel = WriterSettings(self.session, self.store.folder / "presets", self.servers)
        self.settings_panel.said.connect(lambda text: self.status.setText(text))
        return self.settings_panel

    def showEvent(self, event: QEvent) -> None:  # noqa: N802 (Qt's name)
        super().showEvent(event)
        if self._context_later:  # asked for before the writer went to another room
            self._context_later = False
            self.show_context()

    def resizeEvent(self, event: QEvent) -> None:  # noqa: N802 (Qt's name)
        """Small window: the documents fold away (drag the edge back), the text first; large: all three whole."""
        super().resizeEvent(event)  # type: ignore[arg-type]
        self._fold.follow(self.width())

    # the settings' parts, as the page's (tests and callers know them by these names)
    def __getattr__(self, name: str):  # noqa: ANN204
        if name in _SETTINGS_PARTS and "settings_panel" in self.__dict__:
            return getattr(self.__dict__["settings_panel"], name)
        raise AttributeError(name)

    # the chat pane's parts, as the page's (tests and callers know them by these names)
    @property
    def chat_view(self) -> ChatPanel:
        return self.chat  # (its toPlainText is the conversation as shown)

    @property
    def chat_input(self) -> QLineEdit:
        return self.chat.input

    @property
    def chat_messages(self) -> list[tuple[str, str]]:
        return self.chat.messages

    def use_model(self, path: str) -> None:
        """Write with this local text model (from the Models room)."""
        self.settings_panel.use_model(path)

    # -- documents -----------------------------------------------------------------------------------------------
    def _load_documents(self) -> None:
        self.open(self.documents.reload())

    def new_document(self, title: str = "Untitled") -> Path:
        path = self.documents.new_document(title)
        self.session.open_story({})  # a new story: no Memory, Note or Lorebook of the last one
        return path

    @property
    def path(self) -> Path | None:
        return self.doc.path

    def open(self, path: Path) -> None:
        if self.doc.path == path:
            return
        self.follower.leaving()
        self.save()
        self.follower.opening(path)
        self.doc.open(path)
        self.follower.opened(path)

    def _write_recovery(self) -> None:
        self.doc.write_recovery()

    def save(self) -> bool:
        def overwrite(path: Path) -> bool:
            answer = QMessageBox.question(
                self,
                "Changed on disk",
                f"{path.name} was changed by another program since Studio opened it.\n"
                "Overwrite it with the text in the editor? (No keeps both: yours is saved as a copy.)",
            )
            return answer == QMessageBox.StandardButton.Yes

        copy = self.doc.save(overwrite)
        if copy is not None:
            self._load_documents()
        return not self.doc.dirty

    def offer_recoveries(self) -> None:
        for rec in self.store.recoveries():
            answer = QMessageBox.question(
                self,
                "Recover unsaved text",
                f"Studio closed before {rec.document.name} was saved. Restore the unsaved version?",
            )
            if answer == QMessageBox.StandardButton.Yes:
                self.store.save(rec.document, rec.text)
                if self.doc.path == rec.document:
                    self.doc.open(rec.document)
            else:
                self.store.discard_recovery(rec.document)

    def export_to(
        self, target: Path | None = None, with_state: bool = False, mark: bool = False
    ) -> Path | None:
        """Export the document (asked where when ``target`` is None); written off the GUI thread (a .docx takes a
        second). ``mark``: the model's passages in a style of their own. Returns where it goes, or None when there
        is nothing to do; ``exported`` says when it is done."""
        from studio.ui.text.writer_export_action import export_document

        return export_document(self, target, with_state, mark)

    # -- what the model sees, illustrate ---------------------------------------------------------------------------
    def show_context(self) -> None:
        pos = self.editor.textCursor().position()
        self._context_for = self.editor.toPlainText()[:pos]
        if self.session.preview(self._context_for):
            self.status.setText("Counting tokens…")

    def _show_context(self, assembled: object) -> None:
        """The count arrives (at once: it needs no device). Shown only here and for the text as it is now — the
        Writer left meanwhile: shown when it is back; the text changed meanwhile: counted again."""
        from studio.ui.text.context_dialog import ContextDialog

        if not self.isVisible():
            self._context_later = True
            return
        if self.editor.toPlainText()[: self.editor.textCursor().position()] != getattr(
            self, "_context_for", ""
        ):
            self.show_context()
            return

        box = ContextDialog(assembled, int(self.session.value("max_new_tokens")), self)
        box.setModal(False)
        box.show()
        self.context_box = box
        total, budget = getattr(assembled, "total_tokens", 0), getattr(assembled, "budget", 0)
        self.status.setText(f"The model sees {total} of its {budget} tokens.")

    def illustrate(self) -> None:
        text = self.editor.textCursor().selectedText().replace("\u2029", " ").strip()
        if not text:
            self.status.setText("Select a passage to illustrate first.")
            return
        self.illustrateRequested.emit(" ".join(text.split()))

    # -- generating ----------------------------------------------------------------------------------------------
    def continue_at_cursor(self, seed_offset: int = 0) -> None:
        if self.session.busy:
            where = self.follower.target.path
            self.status.setText(f"The model is still writing{' in “' + where.stem + '”' if where else ''}: one "
                                "generation at a time (Stop it, or wait).")  # fmt: skip
            return
        self.doc.begin(self.editor.textCursor().position())
        story = self.doc.rewrite if self.doc.rewrite is not None else (self.doc.text[: self.doc.gen_start],)
        self.session.continue_story(*story, seed_offset=seed_offset)

    def rewrite_selection(self) -> None:
        cursor = self.editor.textCursor()
        instruction = self.instruction.text().strip()
        if self.session.busy or not cursor.hasSelection():
            self.status.setText("Select the passage to rewrite first.")
            return
        if not instruction:
            self.status.setText("Say how to rewrite it (e.g. “tighter”).")
            return
        start = cursor.selectionStart()
        self.doc.start_rewrite(start, cursor.selectionEnd(), instruction)  # one undo step brings it back
        cursor = self.editor.textCursor()
        cursor.setPosition(start)
        self.editor.setTextCursor(cursor)
        self.continue_at_cursor()
        self.doc.join_next_token_to_last_edit()  # the rewrite joins the removal of the passage: one undo

    def _started(self) -> None:
        self.branches.setEnabled(False)  # typing goes on; only the span being written is protected
        self._update_buttons()

    def _insert_token(self, text: str) -> None:
        if self.chat.active:
            self.chat.add_token(text)
            return
        self.follower.token(text)

    def _ended(self, how: str, payload: object) -> None:
        self.branches.setEnabled(True)
        if self.chat.active:
            self.chat.finish(how, payload)
            self._update_buttons()
            return
        if how == "failed" and isinstance(payload, str):
            self.status.setText(payload)
        probs = tuple(getattr(payload, "probs", ()) or ())
        self.follower.ended(probs, self._model_label())

    def _model_label(self) -> str:
        model, engine = self.session.value("model"), self.session.value("engine")
        name = Path(model).name if not engine else model
        return f"{name} on {engine}" if engine else name

    # -- token probabilities ----------------------------------------------------------------------------------
    def _show_probabilities(self) -> None:
        selections = []
        if self.probs_btn.isChecked() and not self.session.busy:
            for start, end, prob, _ in self.doc.token_spans():
                sel = QTextEdit.ExtraSelection()
                sel.cursor = QTextCursor(self.doc.document)
                sel.cursor.setPosition(start)
                sel.cursor.setPosition(end, QTextCursor.MoveMode.KeepAnchor)
                sel.format.setBackground(probability_colour(prob.p))
                sel.format.setToolTip(f"{prob.p:.0%}")
                selections.append(sel)
            if not selections:
                self.status.setText(
                    "No token probabilities for the text in view: generate with Alternatives above 0 "
                    "(a server must return logprobs)."
                )
        self.editor.setExtraSelections(selections)

    def teach(self) -> None:
        """Teach a text model from the documents (learn my voice) or the recorded choices."""
        from studio.ui.text.voice_dialog import open_teach

        self.teach_dialog = open_teach(self)

    def compare_blind(self) -> None:
        """The LoRA against the model alone, blind, on the text before the cursor."""
        from studio.ui.text.blind_dialog import open_blind

        self.blind_dialog = open_blind(self)

    def _show_attention(self, spans: list[tuple[int, int, float]]) -> None:
        """Earlier tokens shaded by how much a token attended to them (the strongest fully)."""
        self.editor.setExtraSelections(attention_selections(self.doc.document, spans))

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 (Qt's name)
        if (
            watched is self.editor.viewport()
            and event.type() == QEvent.Type.MouseButtonRelease
            and self.probs_btn.isChecked()
            and isinstance(event, QMouseEvent)
            and event.button() == Qt.MouseButton.LeftButton
        ):
            pos = self.editor.cursorForPosition(event.position().toPoint()).position()
            for start, end, prob, index in self.doc.token_spans():
                if start <= pos < end or (pos == end and end > start):
                    self.alternatives_menu(index, prob).popup(event.globalPosition().toPoint())
                    return True
        return super().eventFilter(watched, event)

    def alternatives_menu(self, index: int, prob: TokenProb) -> QMenu:
        """The token's top alternatives with their probabilities; choosing one branches from there."""
        menu = QMenu(self)
        menu.addSection(f"“{prob.text}” — {prob.p:.1%}" + (f" · {prob.sampled:.1%} with your settings"
                                                          if prob.sampled is not None else ""))  # fmt: skip
        for text, logprob in prob.alternatives:
            if text == prob.text:
                continue
            action = menu.addAction(f"“{text}” — {math.exp(logprob):.1%}")
            action.triggered.connect(lambda _=False, t=text, lp=logprob: self.branch_from_token(index, t, lp))
        if len(menu.actions()) == 1:
            menu.addAction("(no alternatives were recorded)").setEnabled(False)
        self.alternatives_popup = menu
        return menu

    def branch_from_token(self, index: int, text: str, logprob: float) -> None:
        """A new branch: the generation up to token ``index``, then ``text``, and the model continues."""
        if self.session.busy:
            return
        pos = self.doc.prepare_token_branch(index, text, logprob)
        if pos is None:
            self.status.setText("That token is no longer where the model wrote it.")
            return
        self.editor.setExtraSelections([])
        self.session.continue_story(self.doc.text[:pos])

    def retry(self) -> None:
        tried = len(
            self.doc.alternatives
        )  # with a fixed seed, the next seed along: never the same text again
        if self.session.busy or not self.doc.prepare_retry():
            return
        cursor = self.editor.textCursor()
        cursor.setPosition(self.doc.gen_start)
        self.editor.setTextCursor(cursor)
        self.continue_at_cursor(seed_offset=tried)

    def show_alternative(self, step: int) -> None:
        if not self.session.busy:
            self.doc.show_alternative(step)

    def accept(self) -> None:
        self.doc.accept()

    def _update_buttons(self) -> None:
        busy, doc = self.session.busy, self.doc
        self.continue_btn.setEnabled(not busy)
        self.stop_btn.setEnabled(busy)
        self.retry_btn.setEnabled(not busy and doc.gen_start >= 0)
        self.accept_btn.setEnabled(not busy and doc.has_generation)
        n = len(doc.alternatives)
        self.prev_btn.setEnabled(not busy and doc.alt_index > 0)
        self.next_btn.setEnabled(not busy and 0 <= doc.alt_index < n - 1)
        self.alt_label.setText(f"{doc.alt_index + 1}/{n}" if n > 1 else "")


def _writer_sizes(total: int, small: bool = False) -> list[int]:
    """Documents, text, settings: large, the settings wide enough for their fields; small, no documents list and
    the text wider than the settings."""
    side = max(300, total * 2 // 5) if small else min(max(int(total * 0.3), 380), 520)
    docs = 0 if small else 200
    return [docs, total - docs - side, side]


def probability_colour(p: float) -> QColor:
    """Likely tokens stay clear; the less likely, the warmer (red at a few per cent)."""
    if p >= 0.9:
        return QColor(0, 0, 0, 0)
    hue = int(120 * max(0.0, min(1.0, p)) ** 0.5)  # green 120° … red 0°
    return QColor.fromHsv(hue, 200, 235, 110)
