"""Prompt and negative prompt editors, with A1111 syntax highlighted, and the Generate / Stop buttons."""

from __future__ import annotations

import re

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QColor, QFont, QSyntaxHighlighter, QTextCharFormat
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPlainTextEdit, QPushButton, QVBoxLayout, QWidget

from studio.ui.binding import ErrorLabel
from studio.ui.theme import icon
from studio.viewmodels.generation_session import GenerationSession

_WEIGHT = re.compile(r"\([^()]*:\s*[-+]?\d*\.?\d+\s*\)|\(|\)|\[|\]")
_LORA = re.compile(r"<lora:[^>]*>", re.IGNORECASE)
_BREAK = re.compile(r"\bBREAK\b")


class PromptHighlighter(QSyntaxHighlighter):
    def highlightBlock(self, text: str) -> None:  # noqa: N802
        weight, lora, brk = QTextCharFormat(), QTextCharFormat(), QTextCharFormat()
        weight.setForeground(QColor("#d98a2b"))
        lora.setForeground(QColor("#3fa9a0"))
        lora.setFontWeight(QFont.Weight.DemiBold)
        brk.setForeground(QColor("#a772e0"))
        brk.setFontWeight(QFont.Weight.Bold)
        for rx, fmt in ((_WEIGHT, weight), (_LORA, lora), (_BREAK, brk)):
            for m in rx.finditer(text):
                self.setFormat(m.start(), m.end() - m.start(), fmt)


class PromptEdit(QPlainTextEdit):
    """A plain-text editor bound to one session field (Tab moves focus; Ctrl+Return is the window's)."""

    def __init__(
        self, session: GenerationSession, field: str, placeholder: str, parent: QWidget | None = None
    ):
        super().__init__(parent)
        self._session, self._field = session, field
        self.setPlaceholderText(placeholder)
        self.setTabChangesFocus(True)
        self.setPlainText(session.value(field))
        PromptHighlighter(self.document())
        self.textChanged.connect(lambda: session.set(field, self.toPlainText()))
        session.changed.connect(self._follow)

    def _follow(self, name: str) -> None:
        if name == self._field and self.toPlainText() != self._session.value(name):
            self.setPlainText(self._session.value(name))


class PromptPanel(QWidget):
    generateClicked = Signal()
    stopClicked = Signal()

    def __init__(self, session: GenerationSession, parent: QWidget | None = None):
        super().__init__(parent)
        self.prompt = PromptEdit(
            session, "prompt", "Describe the picture… e.g. a lighthouse at dusk, (oil painting:1.2)"
        )
        self.prompt.setToolTip(
            "The prompt. (word:1.3) strengthens, [word] weakens, <lora:name:0.8> adds a LoRA, "
            "BREAK starts a new chunk. Ctrl+Return generates."
        )
        self.negative = PromptEdit(
            session, "negative_prompt", "Negative prompt: what to avoid… e.g. blurry, watermark"
        )
        self.negative.setToolTip("The negative prompt: what the image should not contain.")
        self.prompt_2 = PromptEdit(
            session, "prompt_2", "Second prompt (SDXL): e.g. the style, while the prompt says the subject"
        )
        self.prompt_2.setToolTip(
            "SDXL only: the prompt for its second text encoder (OpenCLIP ViT-bigG); empty: the prompt."
        )
        self.prompt_2.setMaximumHeight(44)
        self.prompt.setMinimumHeight(64)
        self.negative.setMinimumHeight(40)
        self.generate = QPushButton(icon("generate", "#ffffff"), " Generate")
        self.generate.setObjectName("generate")
        self.generate.setToolTip("Queue this recipe (Ctrl+Return). You can keep queueing while a job runs.")
        self.generate.setCursor(Qt.CursorShape.PointingHandCursor)
        self.stop = QPushButton(icon("stop"), " Stop")
        self.stop.setToolTip(
            "Stop the running job (Esc). Finished images are kept; nothing half-made is saved."
        )
        self.stop.setEnabled(False)
        self.generate.clicked.connect(self.generateClicked)
        self.stop.clicked.connect(self.stopClicked)
        self.mode = QLabel()
        self.mode.setProperty("role", "hint")

        left = QVBoxLayout()
        left.setSpacing(4)
        left.addWidget(self.prompt, 3)
        left.addWidget(ErrorLabel(session, ("prompt",)))
        left.addWidget(self.negative, 2)
        left.addWidget(self.prompt_2)
        session.changed.connect(lambda n: n == "model" and self._show_second(session))
        session.modelsChanged.connect(lambda: self._show_second(session))
        self._show_second(session)
        buttons = QVBoxLayout()
        buttons.addWidget(self.generate)
        buttons.addWidget(self.stop)
        buttons.addWidget(self.mode)
        buttons.addStretch(1)
        row = QHBoxLayout(self)
        row.setContentsMargins(10, 8, 10, 4)
        row.addLayout(left, 1)
        row.addLayout(buttons)
        session.changed.connect(lambda n: n in ("init_image", "mask") and self._show_mode(session))
        self._show_mode(session)

    def _show_mode(self, session: GenerationSession) -> None:
        self.mode.setText(
            {"txt2img": "Text to image", "img2img": "Image to image", "inpaint": "Inpaint"}[session.mode]
        )

    def _show_second(self, session: GenerationSession) -> None:
        """The second prompt is for SDXL models (shown too while it holds text, so nothing is hidden)."""
        self.prompt_2.setVisible(session.model_family().startswith("sdxl") or bool(session.value("prompt_2")))
