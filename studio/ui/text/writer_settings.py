"""The Writer's settings pane: where the model runs (this machine or a server), the model, presets, sampling,
stop strings, Memory, Author's Note and the Lorebook. Every widget is bound to the WriterSession's value of the
same name; the story's own values are saved beside it by the page."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QHBoxLayout,
    QInputDialog,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QSizePolicy,
    QSpinBox,
    QTableWidget,
    QTableWidgetItem,
    QWidget,
)

from studio.core.io.words import count
from studio.core.jobs.fields import Field
from studio.core.text.lorebook import LoreEntry, entries_from, split_keys
from studio.core.text.recipe import TEXT
from studio.core.text.writer_presets import PresetStore
from studio.ui.common.binding import bind
from studio.ui.common.theme import icon
from studio.ui.text.notes_row import NotesFolderRow
from studio.viewmodels.server_book import ServerBook
from studio.viewmodels.writer_session import WriterSession

NOTE_DEPTH = Field("note_depth", int, 3, "Note depth", "How many lines above the cursor the Author's Note goes.",
                   0, 50)  # fmt: skip
LORE_BUDGET = Field("lore_budget", int, 512, "Lorebook budget", "At most this many tokens of Lorebook entries "
                    "(higher priority first); 0: no limit.", 0, 100_000)  # fmt: skip
SAMPLING_SPINS = ("max_new_tokens", "temperature", "top_p", "top_k", "min_p", "typical_p", "repetition_penalty",
                  "no_repeat_ngram_size", "dry_multiplier", "dry_base", "dry_allowed_length", "xtc_probability",
                  "xtc_threshold", "seed", "logprobs")  # fmt: skip
LORE_COLUMNS = ("Keys", "Entry", "Match", "Aa", "Prio")
LORE_WIDTHS = ((0, 70), (2, 64), (3, 28), (4, 48))  # the Entry column (1) takes the rest
THIS_MACHINE = "This machine"
CONTROL_EDITS = (  # (the session's value, label, height, tip): one item a line where the recipe takes a list
    ("system", "System prompt", 60, "What an instruct model is told first: its persona, the rules of the story (a "
     "character card's, when one is loaded)"),
    ("banned", "Banned phrases", 48, "Never written (any case): a phrase that appears is rolled back and written "
     "again — one per line"),
    ("bias", "Phrase bias", 48, "TEXT:VALUE, one per line: likelier (up to 100) or rarer (down to −100: never)"),
    ("json_schema", "JSON schema", 60, "Write JSON that follows this JSON schema (pasted here); checked before it is "
     "accepted"),
)  # fmt: skip


class WriterSettings(QWidget):
    said = Signal(str)  # a sentence for the page's status line

    def __init__(
        self,
        session: WriterSession,
        presets_folder: Path,
        book: ServerBook | None,
        parent: QWidget | None = None,
    ):
        super().__init__(parent)
        self.session, self.book = session, book
        form = QFormLayout(self)
        s = session
        engine_row = QHBoxLayout()
        self.engine_box = QComboBox()
        self.engine_box.setToolTip(
            "Where the model runs: this machine, or a server you added (llama.cpp, Ollama, LM Studio, vLLM…)"
        )
        self.engine_box.activated.connect(lambda _: self._engine_chosen())
        engine_row.addWidget(self.engine_box, 1)
        servers_btn = QPushButton("Servers…")
        servers_btn.setToolTip("Add or remove OpenAI-compatible servers")
        servers_btn.clicked.connect(self.edit_servers)
        servers_btn.setEnabled(book is not None)
        engine_row.addWidget(servers_btn)
        form.addRow("Runs on", engine_row)
        self.model_box = QComboBox()
        self.model_box.setEditable(False)
        self.model_box.activated.connect(lambda _: s.choose(self.model_box.currentData() or ""))
        form.addRow("Model", self.model_box)
        self.weights_box = bind(s, "quantize", QComboBox(), TEXT["quantize"])
        self.cpu_engine_box = bind(s, "cpu_engine", QComboBox(), TEXT["cpu_engine"])
        self._local_only: list[QWidget] = []  # a model on this machine: its weights and its CPU engine
        for label, box in (("Weights", self.weights_box), ("CPU engine", self.cpu_engine_box)):
            self._local_only += [QLabel(label), box]
            form.addRow(*self._local_only[-2:])
        if book is not None:
            book.changed.connect(self._fill_engines)
            book.modelsListed.connect(self._server_models)
        self._fill_engines()

        self.presets = PresetStore(presets_folder)
        preset_row = QHBoxLayout()
        self.preset_box = QComboBox()
        self.preset_box.addItem("(choose a preset)")
        self.preset_box.addItems(self.presets.names())
        self.preset_box.setToolTip("Named sampling settings; yours are JSON files in the presets folder")
        self.preset_box.activated.connect(lambda i: i > 0 and self.apply_preset(self.preset_box.itemText(i)))
        save_preset = QPushButton("Save…")
        save_preset.setToolTip("Save the current sampling settings as a preset")
        save_preset.clicked.connect(lambda: self.save_preset())
        preset_row.addWidget(self.preset_box, 1)
        preset_row.addWidget(save_preset)
        form.addRow("Preset", preset_row)
        self._spins: dict[str, QSpinBox | QDoubleSpinBox] = {}

        def spin(name: str, field: Field) -> None:
            box = QDoubleSpinBox() if field.type is float else QSpinBox()
            self._spins[name] = box
            form.addRow(field.label, bind(s, name, box, field))

        for name in SAMPLING_SPINS:
            spin(name, TEXT[name])
        self.stop_edit = self._text_edit("stop", "Stop when the model writes one of these (one per line)", 48)
        form.addRow("Stop at", self.stop_edit)
        self._controls(form)
        self.memory_edit = self._text_edit("memory", "Always sent first: the premise, characters, style")
        form.addRow("Memory", self.memory_edit)
        form.addRow("Notes", notes_row := NotesFolderRow(self.session))
        self.notes_row = notes_row
        self.note_edit = self._text_edit(
            "note", "Inserted a few lines above the cursor, e.g. “dark, tense”", 60
        )
        form.addRow("Author's Note", self.note_edit)
        spin("note_depth", NOTE_DEPTH)
        self.lore = QTableWidget(0, len(LORE_COLUMNS))
        self.lore.setHorizontalHeaderLabels(list(LORE_COLUMNS))
        header = self.lore.horizontalHeader()
        header.setStretchLastSection(False)
        header.setSectionResizeMode(1, header.ResizeMode.Stretch)  # the entry takes what the others leave
        for col, width in LORE_WIDTHS:  # Keys, Match, Aa, Prio: narrow, fixed
            header.setSectionResizeMode(col, header.ResizeMode.Fixed)
            self.lore.setColumnWidth(col, width)
        header.setMinimumSectionSize(24)
        self.lore.setWordWrap(True)  # a long entry is read in full, on several lines
        self.lore.verticalHeader().setSectionResizeMode(
            self.lore.verticalHeader().ResizeMode.ResizeToContents
        )
        self.lore.verticalHeader().hide()
        self.lore.setToolTip(
            "An entry is sent when one of its keys (comma-separated) appears in the recent story — as a whole "
            "word, or as a regular expression; higher priority first, within the Lorebook budget"
        )
        self.lore.setMinimumHeight(180)
        # never wider than the pane: the Entry column gives way (its text is in the tooltip)
        self.lore.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.lore.setMinimumWidth(240)
        self.lore.itemChanged.connect(lambda _: self._lore_changed())
        lore_buttons = QHBoxLayout()
        add = QPushButton(icon("plus"), "Entry")
        add.clicked.connect(lambda: self._add_lore_row("", ""))
        remove = QPushButton(icon("minus"), "Remove")
        remove.clicked.connect(self._remove_lore_row)
        lore_buttons.addWidget(add)
        lore_buttons.addWidget(remove)
        lore_buttons.addStretch(1)
        form.addRow(QLabel("Lorebook"))
        form.addRow(self.lore)  # the whole width: five columns
        form.addRow(lore_buttons)
        spin("lore_budget", LORE_BUDGET)
        self._fill_lore()
        for box in (self.engine_box, self.model_box, self.weights_box, self.cpu_engine_box, self.preset_box):
            box.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
            box.setMinimumContentsLength(10)  # long model names do not widen the pane
        s.changed.connect(self._follow)

    def _controls(self, form: QFormLayout) -> None:
        """Instruct mode (its system prompt and format); banned phrases, phrase bias and a JSON schema."""
        s = self.session
        self.instruct_box = bind(s, "instruct", QCheckBox("Continue as a request"), TEXT["instruct"])
        form.addRow("Instruct", self.instruct_box)
        form.addRow("Instruct format", bind(s, "instruct_format", QComboBox(), TEXT["instruct_format"]))
        for name, label, height, tip in CONTROL_EDITS:
            form.addRow(label, edit := self._text_edit(name, tip, height))
            setattr(
                self, f"{name.split('_')[-1]}_edit", edit
            )  # system_edit, banned_edit, bias_edit, schema_edit

    def _text_edit(self, name: str, tip: str, height: int = 0) -> QPlainTextEdit:
        edit = QPlainTextEdit(self.session.value(name))
        if height:
            edit.setMaximumHeight(height)
        edit.setToolTip(tip)
        edit.textChanged.connect(lambda: self.session.set(name, edit.toPlainText()))
        return edit

    def _follow(self, name: str) -> None:
        """The session's value changed elsewhere (a preset, another story opened): the widgets show it."""
        edits = {"stop": self.stop_edit, "memory": self.memory_edit, "note": self.note_edit,
                 "banned": self.banned_edit, "bias": self.bias_edit, "json_schema": self.schema_edit,
                 "system": self.system_edit}  # fmt: skip
        if name in edits and edits[name].toPlainText() != self.session.value(name):
            edits[name].setPlainText(self.session.value(name))
        elif name == "lorebook" and self._rows() != self.session.value("lorebook"):
            self._fill_lore()
        elif name in ("model", "engine", "lora"):
            self._fill_engines()

    # -- engines and models -----------------------------------------------------------------------------------
    def _fill_engines(self) -> None:
        engine = self.session.value("engine")
        self.engine_box.blockSignals(True)
        self.engine_box.clear()
        self.engine_box.addItem(THIS_MACHINE, "")
        for server in self.book.servers() if self.book is not None else []:
            self.engine_box.addItem(server.name, server.url)
        if engine and self.engine_box.findData(engine) < 0:
            self.engine_box.addItem(engine, engine)
        self.engine_box.setCurrentIndex(max(0, self.engine_box.findData(engine)))
        self.engine_box.blockSignals(False)
        self._fill_models()

    def _fill_models(self) -> None:
        engine, model = self.session.value("engine"), self.session.value("model")
        for widget in self._local_only:  # a server runs its own model its own way
            widget.setVisible(not engine)
        self.model_box.blockSignals(True)
        self.model_box.clear()
        if not engine:
            for label, path in self.session.model_choices():
                self.model_box.addItem(label, path)
            self.model_box.setToolTip(
                "A transformers causal language model folder or GGUF file; the built-in Storyteller is a small "
                "demo. Real models go in the models folder."
            )
        else:
            for name in (self.book.models.get(engine, []) if self.book is not None else []) or [model]:
                if name:
                    self.model_box.addItem(name, name)
            self.model_box.setToolTip("The server's models (from its /v1/models)")
        lora = self.session.value("lora") if not engine else ""
        key = f"{model}\n{lora}" if lora else model
        if model and self.model_box.findData(key) < 0:
            self.model_box.insertItem(0, Path(model).name if not engine else model, key)
        self.model_box.setCurrentIndex(max(0, self.model_box.findData(key)))
        self.model_box.blockSignals(False)

    def _engine_chosen(self) -> None:
        engine = self.engine_box.currentData() or ""
        if engine == self.session.value("engine"):
            return
        self.session.set("engine", engine)
        self.session.set("lora", "")  # a server cannot load Studio's LoRAs
        if not engine:
            choices = self.session.model_choices()
            self.session.choose(choices[0][1] if choices else "")
            self.said.emit("Writing on this machine.")
        else:
            known = self.book.models.get(engine) if self.book is not None else None
            self.session.set("model", known[0] if known else "")  # the server's first model, until it answers
            self.said.emit(f"Asking {self.engine_box.currentText()} for its models…")
            if self.book is not None:
                self.book.list_models(engine)
        self._fill_models()

    def _server_models(self, url: str, models: object) -> None:
        if url != self.session.value("engine"):
            return
        if isinstance(models, str):
            self.said.emit(models)
            return
        assert isinstance(models, list)
        if not self.session.value("model") and models:
            self.session.set("model", models[0])
        self._fill_models()
        self.said.emit(f"{self.engine_box.currentText()} offers {count(len(models), 'model')}.")

    def edit_servers(self) -> None:
        from studio.ui.common.servers_dialog import ServersDialog

        if self.book is not None:
            ServersDialog(self.book, self).exec()

    def use_model(self, path: str) -> None:
        """Write with this local text model (from the Models room)."""
        self.session.set("engine", "")
        self.session.choose(path)
        self._fill_engines()

    def use_server_model(self, url: str, model: str) -> None:
        """Write with a server's model (from the Models room)."""
        self.session.set("engine", url)
        self.session.set("model", model)
        self.session.set("lora", "")
        self._fill_engines()

    # -- presets --------------------------------------------------------------------------------------------
    def apply_preset(self, name: str) -> None:
        self.session.apply_values(self.presets.get(name))  # the session's values change; the widgets follow
        self.said.emit(f"Preset “{name}”.")

    def save_preset(self, name: str | None = None) -> None:
        if name is None:
            name, ok = QInputDialog.getText(self, "Save preset", "Name:")
            if not ok:
                return
        try:
            saved = self.presets.save(name, self.session.remembered())
        except (ValueError, OSError) as e:
            self.said.emit(str(e))
            return
        if self.preset_box.findText(saved) < 0:
            self.preset_box.addItem(saved)
        self.said.emit(f"Saved the preset “{saved}”.")

    # -- the Lorebook --------------------------------------------------------------------------------------------
    def _fill_lore(self) -> None:
        self.lore.blockSignals(True)
        self.lore.setRowCount(0)
        for entry in entries_from(self.session.value("lorebook")):
            self._insert_lore_row(entry)
        self.lore.blockSignals(False)

    def _insert_lore_row(self, entry: LoreEntry) -> None:
        r = self.lore.rowCount()
        self.lore.insertRow(r)
        self.lore.setItem(r, 0, QTableWidgetItem(", ".join(entry.keys)))
        text = QTableWidgetItem(entry.text)
        text.setToolTip(entry.text[:1000])
        self.lore.setItem(r, 1, text)
        match = QComboBox()
        match.addItem("Words", "words")
        match.addItem("Regex", "regex")
        match.addItem("Meaning", "meaning")
        match.setToolTip("Words: a key matches whole words only. Regex: each key is a regular expression. "
                         "Meaning: the entry goes in when the recent text is about it, keys or not")  # fmt: skip
        match.setCurrentIndex(max(0, match.findData(entry.match)))
        match.currentIndexChanged.connect(lambda _: self._lore_changed())
        self.lore.setCellWidget(r, 2, match)
        case = QTableWidgetItem()
        case.setFlags(
            Qt.ItemFlag.ItemIsUserCheckable | Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable
        )
        case.setCheckState(Qt.CheckState.Checked if entry.case else Qt.CheckState.Unchecked)
        case.setToolTip("Case: match the keys' upper and lower case exactly")
        self.lore.setItem(r, 3, case)
        priority = QSpinBox()
        priority.setRange(-1000, 1000)
        priority.setValue(entry.priority)
        priority.setToolTip("Priority: higher first when the Lorebook budget is short")
        priority.valueChanged.connect(lambda _: self._lore_changed())
        self.lore.setCellWidget(r, 4, priority)
        for column, width in LORE_WIDTHS:
            self.lore.setColumnWidth(column, width)

    def _add_lore_row(self, keys: str, text: str) -> None:
        self.lore.blockSignals(True)
        self._insert_lore_row(LoreEntry(split_keys(keys), text))
        self.lore.blockSignals(False)
        self._lore_changed()

    def _remove_lore_row(self) -> None:
        r = self.lore.currentRow()
        if r >= 0:
            self.lore.removeRow(r)
            self._lore_changed()

    def _rows(self) -> list[dict[str, object]]:
        rows: list[dict[str, object]] = []
        for r in range(self.lore.rowCount()):
            keys, text, case = self.lore.item(r, 0), self.lore.item(r, 1), self.lore.item(r, 3)
            match, priority = self.lore.cellWidget(r, 2), self.lore.cellWidget(r, 4)
            entry = LoreEntry(
                split_keys(keys.text() if keys else ""),
                text.text() if text else "",
                match.currentData() if isinstance(match, QComboBox) else "words",
                bool(case and case.checkState() == Qt.CheckState.Checked),
                priority.value() if isinstance(priority, QSpinBox) else 0,
            )
            rows.append(entry.as_dict())
        return rows

    def _lore_changed(self) -> None:
        self.session.set("lorebook", self._rows())
