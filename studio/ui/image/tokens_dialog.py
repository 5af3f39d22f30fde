"""The prompt's tokens as the model's tokenizer cuts them: one chip per token, shaded by its weight, chunk by
chunk (75 tokens each, as Studio encodes them). Click a word: its nearest words in the text encoder's embedding
space."""

from __future__ import annotations

import html as html_lib
from collections.abc import Callable
from typing import Any
from urllib.parse import quote, unquote

from PySide6.QtCore import QUrl
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)

from studio.viewmodels.background import in_background

Neighbours = Callable[[str], list[tuple[str, float]]]


def tokens_html(report: dict[str, Any]) -> str:
    parts = []
    words, current = {}, []  # each token's whole word (tokens up to the one that ends it)
    for i, t in enumerate(report["tokens"]):
        current.append(i)
        if t["word_end"]:
            word = "".join(report["tokens"][j]["text"] for j in current)
            words.update({j: word for j in current})
            current = []
    for c, size in enumerate(report["chunks"]):
        chips = []
        for i, t in ((i, t) for i, t in enumerate(report["tokens"]) if t["chunk"] == c):
            w = float(t["weight"])
            colour = "#f6d6a8" if w > 1 else "#cfe0f6" if w < 1 else "#e6e6e6"
            weight = f"<sub>×{w:g}</sub>" if w != 1 else ""
            text = t["text"].replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;") or "·"
            space = "&nbsp;" if t["word_end"] else ""
            chip = f'<span style="background:{colour}; color:#202020">&nbsp;{text}{weight}&nbsp;</span>'
            word = words.get(i, "")
            if word.strip():  # a link: its nearest words
                chip = f'<a href="word:{quote(word)}" style="text-decoration:none">{chip}</a>'
            chips.append(chip + space)
        parts.append(f"<p><b>Chunk {c + 1}</b> — {size}/75<br>{''.join(chips) or '<i>empty</i>'}</p>")
    return "".join(parts)


class TokensDialog(QDialog):
    def __init__(
        self,
        reports: dict[str, dict[str, Any]],
        parent: QWidget | None = None,
        neighbours: Neighbours | None = None,
    ):
        super().__init__(parent)
        self.setWindowTitle("Tokens")
        layout = QVBoxLayout(self)
        self.view = QTextBrowser()
        self.view.setMinimumSize(560, 320)
        html = [f"<h3>{label}: {r['count']} tokens</h3>{tokens_html(r)}" for label, r in reports.items()]
        self.view.setHtml("".join(html) + "<p style='color:gray'>Orange: weighted up, blue: weighted down. A word "
                          "may be several tokens (chips with no gap between them). BREAK starts a new chunk.</p>")  # fmt: skip
        layout.addWidget(self.view)
        self._neighbours = neighbours
        if neighbours is not None:
            self.view.setOpenLinks(False)
            self.view.anchorClicked.connect(self._clicked)
            row = QHBoxLayout()
            row.addWidget(QLabel("Nearest words to"))
            self.word = QLineEdit(placeholderText="a word (or click one above)")
            self.word.returnPressed.connect(self.show_neighbours)
            row.addWidget(self.word, 1)
            show = QPushButton("Show")
            show.clicked.connect(self.show_neighbours)
            row.addWidget(show)
            layout.addLayout(row)
            self.near = QLabel(wordWrap=True)
            self.near.setToolTip(
                "The words whose rows in the text encoder's token-embedding table are nearest (cosine similarity): "
                "where the model places the word among those it knows"
            )
            layout.addWidget(self.near)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)

    def _clicked(self, url: QUrl) -> None:
        text = url.toString()
        if text.startswith("word:"):
            self.word.setText(unquote(text[5:]).strip())
            self.show_neighbours()

    def show_neighbours(self) -> None:
        word, find = self.word.text().strip(), self._neighbours
        if not word or find is None:
            return
        self.near.setText(f"Looking for the words nearest to “{html_lib.escape(word)}”…")

        def shown(near: list[tuple[str, float]]) -> None:
            if self.word.text().strip() != word:
                return
            chips = ", ".join(
                f"{html_lib.escape(w)} <span style='color:gray'>{sim:.2f}</span>" for w, sim in near
            )
            self.near.setText(f"<b>{html_lib.escape(word)}</b> → {chips or 'no whole words found'}")

        def failed(e: BaseException) -> None:
            self.near.setText(str(e))

        in_background(self, lambda: find(word), shown, name="studio-neighbours", on_error=failed)
