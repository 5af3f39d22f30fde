"""The Writer's Choices tab: the writer's yes to recording their choices in this story (off by default), and the
choices recorded — the text kept and the alternatives thrown away — to read, correct or delete. What a preference
method learns from is always in the writer's view."""

from __future__ import annotations

import dataclasses
import time

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPlainTextEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from studio.core.io.choices import Choice, choices_path, read_choices, write_choices
from studio.viewmodels.document_session import DocumentSession

SEPARATOR = "\n――――\n"  # between discarded texts in the editor


class ChoicesPanel(QWidget):
    blindRequested = Signal()

    def __init__(self, doc: DocumentSession, parent: QWidget | None = None):
        super().__init__(parent)
        self.doc = doc
        self.choices: list[Choice] = []
        v = QVBoxLayout(self)
        self.consent = QCheckBox("Learn from my choices in this story")
        self.consent.setToolTip(
            "When on, each time you keep a generation (Accept, or writing on) and leave its alternatives, the "
            "story before it, the kept text and the others are recorded beside the document — for “Learn from my "
            "choices”. Off by default; nothing leaves this machine."
        )
        self.consent.toggled.connect(self.doc.set_learning)
        v.addWidget(self.consent)
        self.summary = QLabel(objectName="hint", wordWrap=True)
        v.addWidget(self.summary)
        self.list = QListWidget()
        self.list.currentRowChanged.connect(self._show)
        v.addWidget(self.list, 1)
        v.addWidget(QLabel("Kept"))
        self.kept = QPlainTextEdit()
        self.kept.setMaximumHeight(110)
        v.addWidget(self.kept)
        v.addWidget(QLabel("Thrown away"))
        self.discarded = QPlainTextEdit()
        self.discarded.setMaximumHeight(140)
        v.addWidget(self.discarded)
        row = QHBoxLayout()
        self.save_btn = QPushButton("Save changes")
        self.save_btn.clicked.connect(self.save_selected)
        self.delete_btn = QPushButton("Delete")
        self.delete_btn.clicked.connect(self.delete_selected)
        row.addWidget(self.save_btn)
        row.addWidget(self.delete_btn)
        row.addStretch(1)
        v.addLayout(row)
        self.blind_btn = QPushButton("Blind comparison: the LoRA vs the model alone…")
        self.blind_btn.setToolTip(
            "Did the tuning help? Pick the better of two continuations, not knowing which is which"
        )
        self.blind_btn.clicked.connect(lambda: self.blindRequested.emit())
        v.addWidget(self.blind_btn)
        doc.choicesChanged.connect(self.refresh)
        doc.opened.connect(lambda _path: self.refresh())
        self.refresh()

    def refresh(self) -> None:
        path = self.doc.path
        self.consent.blockSignals(True)
        self.consent.setChecked(self.doc.state.learn_from_choices)
        self.consent.blockSignals(False)
        self.choices, problems = read_choices(path) if path is not None else ([], [])
        row = self.list.currentRow()
        self.list.clear()
        for c in self.choices:
            first = " ".join(c.kept.split())[:60]
            item = QListWidgetItem(f"{time.strftime('%d %b %H:%M', time.localtime(c.when))} · kept “{first}” over "
                                   f"{len(c.discarded)}")  # fmt: skip
            item.setToolTip(c.kept)
            self.list.addItem(item)
        pairs = sum(len(c.discarded) for c in self.choices)
        where = choices_path(path).name if path is not None else ""
        state = "Recording." if self.doc.state.learn_from_choices else "Not recording (off)."
        self.summary.setText(
            f"{state} {_count(len(self.choices), 'choice')}, {_count(pairs, 'pair')}, in {where}."
            + "".join(f" {p}" for p in problems)
        )
        if self.choices:
            self.list.setCurrentRow(min(max(row, 0), len(self.choices) - 1))
        self._show(self.list.currentRow())

    def _show(self, row: int) -> None:
        choice = self.choices[row] if 0 <= row < len(self.choices) else None
        self.kept.setPlainText(choice.kept if choice else "")
        self.discarded.setPlainText(SEPARATOR.join(choice.discarded) if choice else "")
        for w in (self.kept, self.discarded, self.save_btn, self.delete_btn):
            w.setEnabled(choice is not None)

    def save_selected(self) -> None:
        row = self.list.currentRow()
        if not 0 <= row < len(self.choices) or self.doc.path is None:
            return
        discarded = tuple(
            d for d in (x.strip("\n") for x in self.discarded.toPlainText().split(SEPARATOR)) if d
        )
        kept = self.kept.toPlainText()
        if not kept.strip() or not discarded:
            self.summary.setText("A choice needs a kept text and at least one thrown away (or delete it).")
            return
        self.choices[row] = dataclasses.replace(self.choices[row], kept=kept, discarded=discarded)
        self._write()

    def delete_selected(self) -> None:
        row = self.list.currentRow()
        if 0 <= row < len(self.choices):
            del self.choices[row]
            self._write()

    def _write(self) -> None:
        assert self.doc.path is not None
        try:
            write_choices(self.doc.path, self.choices)
        except OSError as e:
            self.summary.setText(f"Could not save the choices: {e.strerror or e}.")
            return
        self.refresh()


def _count(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"
