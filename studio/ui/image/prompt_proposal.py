"""The prompt the helper proposes (Enhance prompt, Illustrate, Describe this image), to read and edit before it
goes into the Image panel."""

from __future__ import annotations

from PySide6.QtWidgets import QDialog, QDialogButtonBox, QLabel, QPlainTextEdit, QVBoxLayout, QWidget

TITLES = {
    "enhance": ("Enhanced prompt", "Written by the Writer's model from your idea:"),
    "illustrate": ("A prompt for the passage", "Written by the Writer's model from the passage:"),
    "describe": ("A description of the picture", "Written by the captioner from"),
}


class PromptProposalDialog(QDialog):
    def __init__(self, source: str, proposal: str, why: str, parent: QWidget | None = None):
        super().__init__(parent)
        title, lead = TITLES.get(why, TITLES["enhance"])
        self.setWindowTitle(title)
        layout = QVBoxLayout(self)
        origin = QLabel(f"{lead} <i>{_escape(source[:400])}</i>")
        origin.setWordWrap(True)
        layout.addWidget(origin)
        self.editor = QPlainTextEdit(proposal)
        self.editor.setMinimumSize(520, 120)
        layout.addWidget(self.editor)
        hint = QLabel(
            "Edit it as you like; it replaces the prompt in the Image panel (the idea is kept in the recipe)."
        )
        hint.setProperty("role", "hint")
        hint.setWordWrap(True)
        layout.addWidget(hint)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel)
        use = buttons.addButton("Use this prompt", QDialogButtonBox.ButtonRole.AcceptRole)
        use.setDefault(True)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)

    def text(self) -> str:
        return self.editor.toPlainText().strip()


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
