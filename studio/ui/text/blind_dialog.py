"""Blind comparison in the window: A and B continue the same passage — one with the LoRA, one without, in an order
not shown — the writer picks the better; the tally says how often the LoRA won."""

from __future__ import annotations

import html
from collections.abc import Callable
from typing import Any

from PySide6.QtWidgets import QDialog, QHBoxLayout, QLabel, QPushButton, QTextBrowser, QVBoxLayout, QWidget

from studio.ui.common.theme import fit_size
from studio.viewmodels.blind_compare import BlindComparison


class BlindDialog(QDialog):
    def __init__(self, comparison: BlindComparison, story: Callable[[], str], parent: QWidget | None = None):
        super().__init__(parent)
        self.setWindowTitle("Blind comparison")
        self.comparison, self._story = comparison, story
        v = QVBoxLayout(self)
        intro = QLabel("The same passage, continued twice from one seed: once by the model alone, once with the LoRA "
                       "— which is which is hidden. Pick the better; after a few picks the tally says whether the "
                       "tuning helped.", wordWrap=True)  # fmt: skip
        v.addWidget(intro)
        self.passage = QLabel(wordWrap=True)
        v.addWidget(self.passage)
        row = QHBoxLayout()
        self.views: dict[str, QTextBrowser] = {}
        self.buttons: dict[str, QPushButton] = {}
        for letter in ("A", "B"):
            col = QVBoxLayout()
            col.addWidget(QLabel(f"<b>{letter}</b>"))
            view = QTextBrowser()
            col.addWidget(view, 1)
            button = QPushButton(f"{letter} is better")
            button.clicked.connect(lambda _=False, x=letter: self.pick(x))
            col.addWidget(button)
            row.addLayout(col, 1)
            self.views[letter], self.buttons[letter] = view, button
        v.addLayout(row, 1)
        foot = QHBoxLayout()
        self.tally = QLabel(comparison.tally())
        foot.addWidget(self.tally, 1)
        self.next_btn = QPushButton("Another pair")
        self.next_btn.clicked.connect(self.next_pair)
        foot.addWidget(self.next_btn)
        v.addLayout(foot)
        self.status = QLabel(objectName="hint", wordWrap=True)
        v.addWidget(self.status)
        comparison.pairReady.connect(self._shown)
        comparison.said.connect(self.status.setText)
        fit_size(self, 820, 460)
        self._enable(False)

    def next_pair(self) -> None:
        story = self._story()
        self.passage.setText(f"<i>…{html.escape(story[-200:])}</i>")
        for view in self.views.values():
            view.clear()
        self._enable(False)
        self.comparison.start(story)

    def _shown(self, a: str, b: str) -> None:
        self.views["A"].setPlainText(a)
        self.views["B"].setPlainText(b)
        self._enable(True)

    def _enable(self, on: bool) -> None:
        for button in self.buttons.values():
            button.setEnabled(on)

    def pick(self, letter: str) -> None:
        self.tally.setText(self.comparison.pick(letter))
        self._enable(False)
        self.status.setText("Picked. “Another pair” for the next one.")


def open_blind(page: Any) -> BlindDialog | None:
    """From the Writer: the chosen LoRA against the model alone, on the text before the cursor."""
    if page.blind is None or not page.session.value("lora"):
        page.status.setText("Choose a model with a LoRA (BASE + NAME) in Settings to compare it blind.")
        return None
    editor = page.editor
    dialog = BlindDialog(page.blind, lambda: editor.toPlainText()[: editor.textCursor().position()], page)
    dialog.show()
    dialog.next_pair()
    return dialog
