"""Where each word acts: the words of a result's prompt to choose from, then each chosen word's cross-attention map
over the picture (made again while the model's attention is recorded)."""

from __future__ import annotations

import re
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtGui import QPixmap
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QGridLayout,
    QLabel,
    QListWidget,
    QVBoxLayout,
    QWidget,
)


def prompt_words(prompt: str) -> list[str]:
    """The words of a prompt (its syntax left out), each once, in order."""
    text = re.sub(r"<[^>]*>|\bBREAK\b|:\s*[-+]?\d*\.?\d+", " ", prompt)
    words = re.findall(r"(?<!\w)[^\W\d_][\w'-]*", text)
    return list(dict.fromkeys(w.lower() for w in words))


class WordChooser(QDialog):
    def __init__(self, prompt: str, parent: QWidget | None = None):
        super().__init__(parent)
        self.setWindowTitle("Where each word acts")
        layout = QVBoxLayout(self)
        lead = QLabel("Choose words of the prompt: the picture is made again (same recipe and seed) while the model's "
                      "attention to them is recorded.")  # fmt: skip
        lead.setWordWrap(True)
        layout.addWidget(lead)
        self.words = QListWidget()
        self.words.setSelectionMode(QListWidget.SelectionMode.MultiSelection)
        self.words.addItems(prompt_words(prompt))
        layout.addWidget(self.words)
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)

    def chosen(self) -> list[str]:
        return [i.text() for i in self.words.selectedItems()]


class AttentionMaps(QDialog):
    """The maps, one per word, drawn over the picture."""

    def __init__(self, folder: str, words: list[str], parent: QWidget | None = None):
        super().__init__(parent)
        self.setWindowTitle("Where each word acts")
        grid = QGridLayout(self)
        self.shown: list[str] = []
        for i, word in enumerate(words):
            safe = "".join(c if c.isalnum() or c in "-_" else "_" for c in word)[:60] or "word"
            picture = QPixmap(str(Path(folder) / f"{safe}.png"))
            view = QLabel()
            view.setAlignment(Qt.AlignmentFlag.AlignCenter)
            if not picture.isNull():
                view.setPixmap(picture.scaled(256, 256, Qt.AspectRatioMode.KeepAspectRatio,
                                              Qt.TransformationMode.SmoothTransformation))  # fmt: skip
                self.shown.append(word)
            grid.addWidget(view, 0, i)
            grid.addWidget(QLabel(f"“{word}”", alignment=Qt.AlignmentFlag.AlignCenter), 1, i)
