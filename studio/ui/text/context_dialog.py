"""What the model sees (the Writer's button): the parts sent to the model — Memory, Lorebook, the story, the
Author's Note — each with its token count and its text, apart; the total against what it is measured by (the model's
context minus the tokens kept for the writing), what was left out and why."""

from __future__ import annotations

import html
from typing import Any

from PySide6.QtWidgets import QDialog, QDialogButtonBox, QLabel, QTextBrowser, QVBoxLayout, QWidget

from studio.ui.common.theme import fit_size


def context_html(assembled: Any, max_new_tokens: int) -> tuple[str, str]:
    """(the summary, the parts' texts) as HTML."""
    parts = tuple(getattr(assembled, "parts", ()))
    total, budget = getattr(assembled, "total_tokens", 0), getattr(assembled, "budget", 0)
    rows = "".join(
        f"<tr><td>{html.escape(p.label)}</td><td align='right'>{p.tokens}</td></tr>" for p in parts
    )
    summary = (
        f"<table>{rows}<tr><td><b>Total</b></td><td align='right'><b>{total}</b></td></tr></table>"
        f"<p>The model may read <b>{budget}</b> tokens: its context of {budget + max_new_tokens} less the "
        f"{max_new_tokens} kept for what it writes (Max new tokens). It reads {total} of them.</p>"
    )
    summary += "".join(
        f"<p style='color:#d98a2b'>{html.escape(n)}</p>" for n in getattr(assembled, "notes", ())
    )
    lore = getattr(assembled, "lore", ())
    if lore:
        lines = "".join(f"<li>{html.escape(', '.join(d.entry.keys) or '(no keys)')}: {html.escape(d.reason)}</li>"
                        for d in lore)  # fmt: skip
        summary += f"<p><b>Lorebook</b></p><ul>{lines}</ul>"
    chosen = getattr(assembled, "note_choices", ())
    if chosen:
        lines = "".join(f"<li>{html.escape(d.note.title)}: {html.escape(d.reason)}</li>" for d in chosen[:40])
        more = f"<p>… and {len(chosen) - 40} more notes, less similar.</p>" if len(chosen) > 40 else ""
        summary += f"<p><b>Notes</b> (most similar first)</p><ul>{lines}</ul>{more}"
    texts = "".join(
        f"<h3>{html.escape(p.label)} <span style='color:gray;font-weight:normal'>· {p.tokens} tokens</span></h3>"
        f"<p style='white-space:pre-wrap'>{html.escape(p.text) or '<i>(empty)</i>'}</p>"
        for p in parts
    )
    return summary, texts


class ContextDialog(QDialog):
    def __init__(self, assembled: Any, max_new_tokens: int, parent: QWidget | None = None):
        super().__init__(parent)
        self.setWindowTitle("What the model sees")
        v = QVBoxLayout(self)
        summary, texts = context_html(assembled, max_new_tokens)
        self.summary = QLabel(summary, wordWrap=True)
        v.addWidget(self.summary)
        self.parts = QTextBrowser()
        self.parts.setHtml(texts)
        v.addWidget(self.parts, 1)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.close)
        v.addWidget(buttons)
        fit_size(self, 760, 620)
