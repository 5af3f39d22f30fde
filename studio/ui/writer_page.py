"""The Writer room: documents, the manuscript editor where the model continues at the cursor, and its settings."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (
    QComboBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QInputDialog,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QMessageBox,
    QPlainTextDocumentLayout,
    QPlainTextEdit,
    QPushButton,
    QScrollArea,
    QSpinBox,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QTabWidget,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)

from studio.core.recipes.fields import Field
from studio.core.recipes.text import TEXT
from studio.core.writer_docs import DocumentStore
from studio.core.writer_presets import PresetStore
from studio.ui.binding import bind
from studio.ui.theme import ACCENT, icon
from studio.ui.writer_chat import ChatPanel
from studio.viewmodels.document_session import DocumentSession
from studio.viewmodels.writer_session import WriterSession

RECOVERY_DELAY_MS = 800
SAVE_EVERY_MS = 5000


NOTE_DEPTH = Field("note_depth", int, 3, "Note depth", "How many lines above the cursor the Author's Note goes.",
                   0, 50)  # fmt: skip


class WriterPage(QWidget):
    illustrateRequested = Signal(str)  # a prompt draft for the Image panel

    def __init__(self, session: WriterSession, store: DocumentStore, parent: QWidget | None = None):
        super().__init__(parent)
        self.session, self.store = session, store
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
        self.chat = ChatPanel(self.session)
        self.chat.failed.connect(self.status.setText)
        side.addTab(self.chat, "Chat")
        side.setMinimumWidth(340)
        self.side_tabs = side
        split.addWidget(side)
        split.setStretchFactor(1, 4)
        split.setSizes([200, 760, 380])
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
        self.doc.status.connect(self.status.setText)
        self._load_documents()
        QTimer.singleShot(0, self.offer_recoveries)

    # -- building ------------------------------------------------------------------------------------------------
    def _documents_panel(self) -> QWidget:
        w = QWidget()
        v = QVBoxLayout(w)
        v.setContentsMargins(0, 0, 0, 0)
        v.addWidget(QLabel("<b>Documents</b>"))
        self.docs = QListWidget()
        self.docs.currentItemChanged.connect(
            lambda cur, _: cur and self.open(Path(cur.data(Qt.ItemDataRole.UserRole)))
        )
        v.addWidget(self.docs, 1)
        new = QPushButton(icon("plus"), "New document")
        new.clicked.connect(lambda: self.new_document())
        v.addWidget(new)
        export = QPushButton(icon("file"), "Export…")
        export.setToolTip("Save a copy as Markdown, plain text, Word (DOCX) or EPUB")
        export.clicked.connect(lambda: self.export_to())
        v.addWidget(export)
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
        row = QHBoxLayout()
        self.continue_btn = QPushButton(icon("generate"), "Continue")
        self.continue_btn.setToolTip("The model continues at the cursor (Ctrl+Return)")
        self.continue_btn.clicked.connect(self.continue_at_cursor)
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
        self.undo_btn = QPushButton("Undo")
        self.undo_btn.setToolTip("Undo the last change; a whole generation is one step (Ctrl+Z)")
        self.undo_btn.clicked.connect(self.editor.undo)
        for b in (
            self.continue_btn,
            self.stop_btn,
            self.retry_btn,
            self.prev_btn,
            self.alt_label,
            self.next_btn,
            self.accept_btn,
            self.undo_btn,
            self.sees_btn,
            self.illustrate_btn,
        ):
            row.addWidget(b)
        row.addStretch(1)
        v.addLayout(row)
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
        w = QWidget()
        form = QFormLayout(w)
        s = self.session
        self.model_box = QComboBox()
        for label, path in s.model_choices():
            self.model_box.addItem(label, path)
        self.model_box.setCurrentIndex(max(0, self.model_box.findData(s.value("model"))))
        self.model_box.currentIndexChanged.connect(
            lambda _: s.set("model", self.model_box.currentData() or "")
        )
        self.model_box.setToolTip(
            "A transformers causal language model folder; the built-in Storyteller is a "
            "small demo. Real models go in the models folder."
        )
        form.addRow("Model", self.model_box)
        self.presets = PresetStore(self.store.folder / "presets")
        preset_row = QHBoxLayout()
        self.preset_box = QComboBox()
        self.preset_box.addItem("(choose a preset)")
        self.preset_box.addItems(self.presets.names())
        self.preset_box.setToolTip("Named sampling settings; yours are JSON files in the presets folder")
        self.preset_box.activated.connect(lambda i: i > 0 and self.apply_preset(self.preset_box.itemText(i)))
        save_preset = QPushButton("Save…")
        save_preset.setToolTip("Save the current sampling settings as a preset")
        save_preset.clicked.connect(self.save_preset)
        preset_row.addWidget(self.preset_box, 1)
        preset_row.addWidget(save_preset)
        form.addRow("Preset", preset_row)
        self._spins: dict[str, QSpinBox | QDoubleSpinBox] = {}

        def spin(name: str, field: Field) -> None:
            box = QDoubleSpinBox() if field.type is float else QSpinBox()
            self._spins[name] = box
            form.addRow(field.label, bind(s, name, box, field))

        for name in ("max_new_tokens", "temperature", "top_p", "top_k", "min_p", "typical_p", "repetition_penalty",
                     "no_repeat_ngram_size", "seed"):  # fmt: skip
            spin(name, TEXT[name])
        self.stop_edit = QPlainTextEdit(s.value("stop"))
        self.stop_edit.setMaximumHeight(48)
        self.stop_edit.setToolTip("Stop when the model writes one of these (one per line)")
        self.stop_edit.textChanged.connect(lambda: s.set("stop", self.stop_edit.toPlainText()))
        form.addRow("Stop at", self.stop_edit)
        self.memory_edit = QPlainTextEdit(s.value("memory"))
        self.memory_edit.setToolTip("Always sent first: the premise, characters, style")
        self.memory_edit.textChanged.connect(lambda: s.set("memory", self.memory_edit.toPlainText()))
        form.addRow("Memory", self.memory_edit)
        self.note_edit = QPlainTextEdit(s.value("note"))
        self.note_edit.setMaximumHeight(60)
        self.note_edit.setToolTip("Inserted a few lines above the cursor, e.g. “dark, tense”")
        self.note_edit.textChanged.connect(lambda: s.set("note", self.note_edit.toPlainText()))
        form.addRow("Author's Note", self.note_edit)
        spin("note_depth", NOTE_DEPTH)
        self.lore = QTableWidget(0, 2)
        self.lore.setHorizontalHeaderLabels(["Keys", "Entry"])
        self.lore.horizontalHeader().setStretchLastSection(True)
        self.lore.verticalHeader().hide()
        self.lore.setToolTip(
            "An entry is sent when one of its keys (comma-separated) appears in the recent story"
        )
        self.lore.setMinimumHeight(110)
        for keys, text in s.value("lorebook"):
            self._add_lore_row(keys, text)
        self.lore.itemChanged.connect(lambda _: self._lore_changed())
        lore_buttons = QHBoxLayout()
        add = QPushButton(icon("plus"), "Entry")
        add.clicked.connect(lambda: self._add_lore_row("", ""))
        remove = QPushButton(icon("minus"), "Remove")
        remove.clicked.connect(self._remove_lore_row)
        lore_buttons.addWidget(add)
        lore_buttons.addWidget(remove)
        form.addRow("Lorebook", self.lore)
        form.addRow("", lore_buttons)
        return w

    # the chat pane's parts, as the page's (tests and callers know them by these names)
    @property
    def chat_view(self) -> QTextBrowser:
        return self.chat.view

    @property
    def chat_input(self) -> QLineEdit:
        return self.chat.input

    @property
    def chat_messages(self) -> list[tuple[str, str]]:
        return self.chat.messages

    def _add_lore_row(self, keys: str, text: str) -> None:
        self.lore.blockSignals(True)
        r = self.lore.rowCount()
        self.lore.insertRow(r)
        self.lore.setItem(r, 0, QTableWidgetItem(keys))
        self.lore.setItem(r, 1, QTableWidgetItem(text))
        self.lore.blockSignals(False)
        self._lore_changed()

    def _remove_lore_row(self) -> None:
        r = self.lore.currentRow()
        if r >= 0:
            self.lore.removeRow(r)
            self._lore_changed()

    def _lore_changed(self) -> None:
        rows = []
        for r in range(self.lore.rowCount()):
            keys, text = self.lore.item(r, 0), self.lore.item(r, 1)
            rows.append([keys.text() if keys else "", text.text() if text else ""])
        self.session.set("lorebook", rows)

    def use_model(self, path: str) -> None:
        """Write with this text model (from the Models room)."""
        if self.model_box.findData(path) < 0:
            self.model_box.insertItem(0, Path(path).name, path)
        self.model_box.setCurrentIndex(self.model_box.findData(path))
        self.session.set("model", path)

    def apply_preset(self, name: str) -> None:
        self.session.apply_values(self.presets.get(name))  # the session's values change; the widgets follow
        self.status.setText(f"Preset “{name}”.")

    def save_preset(self, name: str | None = None) -> None:
        if name is None:
            name, ok = QInputDialog.getText(self, "Save preset", "Name:")
            if not ok:
                return
        try:
            saved = self.presets.save(name, self.session.remembered())
        except (ValueError, OSError) as e:
            self.status.setText(str(e))
            return
        if self.preset_box.findText(saved) < 0:
            self.preset_box.addItem(saved)
        self.status.setText(f"Saved the preset “{saved}”.")

    # -- documents -----------------------------------------------------------------------------------------------
    def _load_documents(self) -> None:
        docs = self.store.documents() or [self.store.new_document("My first story")]
        self.docs.blockSignals(True)
        self.docs.clear()
        for p in docs:
            item = QListWidgetItem(p.stem)
            item.setData(Qt.ItemDataRole.UserRole, str(p))
            self.docs.addItem(item)
        self.docs.blockSignals(False)
        self.docs.setCurrentRow(0)
        self.open(docs[0])

    def new_document(self, title: str = "Untitled") -> Path:
        self.save()
        path = self.store.new_document(title)
        self._load_documents()
        for i in range(self.docs.count()):
            if self.docs.item(i).data(Qt.ItemDataRole.UserRole) == str(path):
                self.docs.setCurrentRow(i)
        return path

    @property
    def path(self) -> Path | None:
        return self.doc.path

    def open(self, path: Path) -> None:
        if self.doc.path == path:
            return
        self.save()
        self.doc.open(path)

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

    def export_to(self, target: Path | None = None) -> Path | None:
        from studio.core.writer_export import FORMATS, export

        if self.path is None:
            return None
        if target is None:
            filters = ";;".join(f"{name} (*{suffix})" for suffix, name in FORMATS.items())
            name, chosen = QFileDialog.getSaveFileName(
                self, "Export", str(Path.home() / f"{self.path.stem}.docx"), filters
            )
            if not name:
                return None
            target = Path(name)
            if not target.suffix:
                target = target.with_suffix(next(s for s, n in FORMATS.items() if chosen.startswith(n)))
        try:
            export(self.editor.toPlainText(), target, self.path.stem)
        except (OSError, ValueError) as e:
            self.status.setText(f"Could not export: {e}")
            return None
        self.status.setText(f"Exported to {target}.")
        return target

    # -- what the model sees, illustrate ---------------------------------------------------------------------------
    def show_context(self) -> None:
        pos = self.editor.textCursor().position()
        if self.session.preview(self.editor.toPlainText()[:pos]):
            self.status.setText("Counting tokens…")

    def _show_context(self, assembled: object) -> None:
        parts = getattr(assembled, "parts", ())
        rows = "".join(f"<tr><td>{p.label}</td><td align='right'>{p.tokens}</td></tr>" for p in parts)
        total, budget = getattr(assembled, "total_tokens", 0), getattr(assembled, "budget", 0)
        notes = "".join(f"<p style='color:#d98a2b'>{n}</p>" for n in getattr(assembled, "notes", ()))
        prompt = str(getattr(assembled, "prompt", "")).replace("&", "&amp;").replace("<", "&lt;")
        box = QMessageBox(self)
        box.setWindowTitle("What the model sees")
        box.setTextFormat(Qt.TextFormat.RichText)
        box.setText(
            f"<table>{rows}<tr><td><b>Total</b></td><td align='right'><b>{total}</b> of {budget}"
            f"</td></tr></table>{notes}"
        )
        box.setDetailedText(prompt)
        box.setModal(False)
        box.show()
        self.context_box = box
        self.status.setText(f"The model sees {total} of its {budget} tokens.")

    def illustrate(self) -> None:
        text = self.editor.textCursor().selectedText().replace("\u2029", " ").strip()
        if not text:
            self.status.setText("Select a passage to illustrate first.")
            return
        self.illustrateRequested.emit(" ".join(text.split()))

    # -- generating ----------------------------------------------------------------------------------------------
    def continue_at_cursor(self) -> None:
        if self.session.busy:
            return
        self.doc.begin(self.editor.textCursor().position())
        if self.doc.rewrite is not None:
            self.session.continue_story(*self.doc.rewrite)
        else:
            self.session.continue_story(self.doc.text[: self.doc.gen_start])

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
        self.editor.setReadOnly(True)
        self._update_buttons()

    def _insert_token(self, text: str) -> None:
        if self.chat.active:
            self.chat.add_token(text)
            return
        cursor = self.editor.textCursor()
        cursor.setPosition(self.doc.insert_token(text))
        self.editor.setTextCursor(cursor)
        self.editor.ensureCursorVisible()

    def _ended(self, how: str, payload: object) -> None:
        self.editor.setReadOnly(False)
        if self.chat.active:
            self.chat.finish(how, payload)
            self._update_buttons()
            return
        if how == "failed" and isinstance(payload, str):
            self.status.setText(payload)
        self.doc.end()

    def retry(self) -> None:
        if self.session.busy or not self.doc.prepare_retry():
            return
        cursor = self.editor.textCursor()
        cursor.setPosition(self.doc.gen_start)
        self.editor.setTextCursor(cursor)
        self.continue_at_cursor()

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
