"""Prompt and negative prompt editors, with A1111 syntax highlighted, and the Generate / Stop buttons."""

from __future__ import annotations

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QColor, QFont, QSyntaxHighlighter, QTextCharFormat
from PySide6.QtWidgets import (
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QMenu,
    QPlainTextEdit,
    QPushButton,
    QSizePolicy,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from studio.core.image.prompt_grammar import HIGHLIGHTS
from studio.ui.common.binding import ErrorLabel
from studio.ui.common.theme import icon
from studio.viewmodels.generation_session import GenerationSession


def _format(colour: str, bold: bool = False, italic: bool = False) -> QTextCharFormat:
    f = QTextCharFormat()
    f.setForeground(QColor(colour))
    if bold:
        f.setFontWeight(QFont.Weight.DemiBold)
    f.setFontItalic(italic)
    return f


_LOOKS = {"weight": ("#d98a2b", False, False), "edit": ("#2f80d1", True, False), "choice": ("#c2417a", False, False),
          "wildcard": ("#c2417a", True, True), "tag": ("#3fa9a0", True, False),
          "break": ("#a772e0", True, False)}  # fmt: skip


class PromptHighlighter(QSyntaxHighlighter):
    """A1111's weights, LoRA tags, BREAK and prompt editing; Dynamic Prompts' choices and wildcards."""

    RULES = tuple((rx, _format(*_LOOKS[role])) for role, rx in HIGHLIGHTS)  # the grammar's tokens, by role

    def highlightBlock(self, text: str) -> None:  # noqa: N802
        for rx, fmt in self.RULES:
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
    enhanceClicked = Signal()

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
        self.prompt.setMinimumHeight(52)
        self.negative.setMinimumHeight(36)
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
        self.enhance = QPushButton(icon("writer"), " Enhance")
        self.enhance.setToolTip("Have the Writer's language model turn the prompt (a short idea) into a detailed "
                                "prompt for this model; you see and edit it before it is used.")  # fmt: skip
        self.enhance.clicked.connect(self.enhanceClicked)
        self.styles = QToolButton()
        self.styles.setText("Styles")
        self.styles.setToolTip("Prompt styles (A1111's styles.csv, Fooocus styles): several at once")
        self.styles.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        self.styles.setMenu(QMenu(self.styles))
        self.styles.menu().aboutToShow.connect(lambda: self._fill_styles(session))
        self.token_count = QToolButton()  # A1111's counter: tokens / the chunks' capacity; click: the tokens
        self.token_count.setAutoRaise(True)
        self.token_count.setToolTip("Tokens of the prompt and the negative prompt as the model's tokenizer cuts them "
                                    "(75 a chunk). Click to see them, with their weights.")  # fmt: skip
        self.token_count.clicked.connect(lambda: self._show_tokens(session))
        self._count_timer = QTimer(self, singleShot=True, interval=150)  # counted once typing pauses
        self._count_timer.timeout.connect(lambda: self._count_tokens(session))
        session.changed.connect(
            lambda n: n in ("prompt", "negative_prompt", "styles", "model") and self._count_timer.start()
        )
        self.styled = QLabel()
        self.styled.setProperty("role", "hint")
        self.styled.setWordWrap(False)
        self.styled.setSizePolicy(
            QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred
        )  # never widens the panel
        self.styled.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        session.changed.connect(
            lambda n: n in ("styles", "prompt", "negative_prompt") and self._show_styled(session)
        )

        left = QVBoxLayout()
        left.setSpacing(4)
        left.addWidget(self.prompt, 3)
        left.addWidget(ErrorLabel(session, ("prompt",)))
        left.addWidget(self.negative, 2)
        left.addWidget(self.prompt_2)
        style_row = QHBoxLayout()
        style_row.addWidget(self.styles)
        style_row.addWidget(self.styled, 1)
        style_row.addWidget(self.token_count)
        style_row.addWidget(self.enhance)
        left.addLayout(style_row)
        left.addWidget(ErrorLabel(session, ("styles", "negative_prompt")))
        self._show_styled(session)
        self._count_tokens(session)
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

    def _count_tokens(self, session: GenerationSession) -> None:
        reports = [session.prompts.token_report(f) for f in ("prompt", "negative_prompt")]
        if reports[0] is None or reports[1] is None:
            self.token_count.setText("")
            return
        p, n = reports
        self.token_count.setText(f"{p['count']}/{p['capacity']} · {n['count']}/{n['capacity']}")

    def _show_tokens(self, session: GenerationSession) -> None:
        from studio.ui.image.tokens_dialog import TokensDialog

        reports = {label: session.prompts.token_report(f) for label, f in (("Prompt", "prompt"), ("Negative prompt",
                                                                                          "negative_prompt"))}  # fmt: skip
        if all(r is not None for r in reports.values()):
            TokensDialog(reports, self, neighbours=session.prompts.word_neighbours).exec()

    def _fill_styles(self, session: GenerationSession) -> None:
        menu = self.styles.menu()
        menu.clear()
        chosen = set(session.value("styles"))
        for name in session.prompts.style_names():
            action = menu.addAction(name)
            action.setCheckable(True)
            action.setChecked(name in chosen)
            action.toggled.connect(lambda on, n=name: session.prompts.toggle_style(n, on))
        menu.addSeparator()
        menu.addAction(
            "Import styles (A1111 styles.csv, Fooocus .json)…", lambda: self._import_styles(session)
        )

    def _import_styles(self, session: GenerationSession) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Import styles", "", "Styles (*.csv *.json)")
        if path:
            self.styled.setText(session.prompts.import_styles(path))

    def _show_styled(self, session: GenerationSession) -> None:
        """With styles chosen: their names on the button, and the final prompt the model will read."""
        names = list(session.value("styles"))
        self.styles.setText(f"Styles ({len(names)})" if names else "Styles")
        if not names:
            self.styled.setText("")
            self.styled.setToolTip("")
            return
        prompt, negative = session.prompts.styled_prompts()
        self.styled.setText(f"{', '.join(names)} → {prompt}")
        self.styled.setToolTip(f"Prompt: {prompt}\n\nNegative prompt: {negative}")

    def _show_second(self, session: GenerationSession) -> None:
        """The second prompt is for SDXL models (shown too while it holds text, so nothing is hidden)."""
        self.prompt_2.setVisible(
            session.library.model_family().startswith("sdxl") or bool(session.value("prompt_2"))
        )
