"""The prompt's tokens as the model's tokenizer cuts them: one chip per token, shaded by its weight, chunk by
chunk (75 tokens each, as Studio encodes them)."""

from __future__ import annotations

from typing import Any

from PySide6.QtWidgets import QDialog, QDialogButtonBox, QTextBrowser, QVBoxLayout, QWidget


def tokens_html(report: dict[str, Any]) -> str:
    parts = []
    for c, size in enumerate(report["chunks"]):
        chips = []
        for t in (t for t in report["tokens"] if t["chunk"] == c):
            w = float(t["weight"])
            colour = "#f6d6a8" if w > 1 else "#cfe0f6" if w < 1 else "#e6e6e6"
            weight = f"<sub>×{w:g}</sub>" if w != 1 else ""
            text = t["text"].replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;") or "·"
            space = "&nbsp;" if t["word_end"] else ""
            chips.append(
                f'<span style="background:{colour}; color:#202020">&nbsp;{text}{weight}&nbsp;</span>{space}'
            )
        parts.append(f"<p><b>Chunk {c + 1}</b> — {size}/75<br>{''.join(chips) or '<i>empty</i>'}</p>")
    return "".join(parts)


class TokensDialog(QDialog):
    def __init__(self, reports: dict[str, dict[str, Any]], parent: QWidget | None = None):
        super().__init__(parent)
        self.setWindowTitle("Tokens")
        layout = QVBoxLayout(self)
        self.view = QTextBrowser()
        self.view.setMinimumSize(560, 320)
        html = [f"<h3>{label}: {r['count']} tokens</h3>{tokens_html(r)}" for label, r in reports.items()]
        self.view.setHtml("".join(html) + "<p style='color:gray'>Orange: weighted up, blue: weighted down. A word "
                          "may be several tokens (chips with no gap between them). BREAK starts a new chunk.</p>")  # fmt: skip
        layout.addWidget(self.view)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)
