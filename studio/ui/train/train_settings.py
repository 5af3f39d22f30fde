"""The Fine-tune room's recipe rows (each widget set up from the training recipe's table and bound to the draft) and
its *More settings*: the kind of adapter, epochs and batch, the schedule, and what trainers from kohya, OneTrainer
and ai-toolkit tune — min-SNR, noise offset, EMA, a validation split, repeats, masks' weight, samples and grids."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QPlainTextEdit,
    QSpinBox,
    QWidget,
)

from studio.core.train.recipe import TRAIN
from studio.ui.common.binding import bind
from studio.viewmodels.train_session import TrainSession

ALGO_LABELS = (("LoRA", "lora"), ("DoRA (weight-decomposed LoRA)", "dora"), ("LoHa (LyCORIS)", "loha"),
               ("LoKr (LyCORIS)", "lokr"))  # fmt: skip
GRID_LABELS = (("The final LoRA", "last"), ("Every kept checkpoint", "all"), ("None", "none"))


def recipe_rows(session: TrainSession, form: QFormLayout, rows: list[tuple[str, QWidget]],
                on_edit: Callable[[Any], None]) -> None:  # fmt: skip
    """Form rows of recipe fields, each bound to the session's draft (a check box spans its row)."""
    for name, widget in rows:
        field = TRAIN[name]
        bind(session, name, widget, field, on_edit=on_edit)
        if isinstance(widget, QCheckBox):
            widget.setText(widget.text() or field.label)
            form.addRow(widget)
        else:
            form.addRow(field.label, widget)


def _choices(pairs: tuple[tuple[str, str], ...]) -> QComboBox:
    box = QComboBox()
    for label, key in pairs:
        box.addItem(label, key)
    return box


class MoreSettings(QWidget):
    def __init__(self, session: TrainSession, on_edit: Callable[[Any], None], parent: QWidget | None = None):
        super().__init__(parent)
        self.session = session
        form = QFormLayout(self)
        form.setContentsMargins(0, 0, 0, 0)
        self.algo = _choices(ALGO_LABELS)
        self.epochs, self.batch_size, self.seed, self.repeats = QSpinBox(), QSpinBox(), QSpinBox(), QSpinBox()
        self.lr_text, self.min_snr, self.noise_offset = QDoubleSpinBox(), QDoubleSpinBox(), QDoubleSpinBox()
        self.validation_split, self.mask_floor = QDoubleSpinBox(), QDoubleSpinBox()
        self.sample_every = QSpinBox()
        self.optimizer = _choices((("AdamW", "adamw"), ("AdamW 8-bit (needs bitsandbytes)", "adamw8bit")))
        self.schedule = _choices((("Constant with warm-up", "constant_with_warmup"), ("Constant", "constant"),
                                  ("Cosine", "cosine"), ("Linear", "linear")))  # fmt: skip
        self.precision = _choices((("Automatic (bf16/fp16 on a GPU)", "auto"), ("Off (fp32)", "no"),
                                   ("fp16", "fp16"), ("bf16", "bf16")))  # fmt: skip
        self.grids = _choices(GRID_LABELS)
        self.checkpointing = QCheckBox("Gradient checkpointing (less memory, slower)")
        self.ema = QCheckBox()
        recipe_rows(session, form, [
            ("algo", self.algo), ("epochs", self.epochs), ("batch_size", self.batch_size), ("repeats", self.repeats),
            ("lr_text", self.lr_text), ("optimizer", self.optimizer), ("schedule", self.schedule),
            ("min_snr_gamma", self.min_snr), ("noise_offset", self.noise_offset), ("ema", self.ema),
            ("validation_split", self.validation_split), ("mask_floor", self.mask_floor),
            ("mixed_precision", self.precision), ("seed", self.seed), ("gradient_checkpointing", self.checkpointing),
            ("sample_every", self.sample_every), ("grids", self.grids),
        ], on_edit)  # fmt: skip
        self.prompts = QPlainTextEdit()
        self.prompts.setPlaceholderText(
            "One prompt a line (empty: the trigger and class words in two settings)"
        )
        self.prompts.setToolTip(TRAIN["sample_prompts"].help)
        self.prompts.setFixedHeight(self.prompts.fontMetrics().lineSpacing() * 4)
        self.prompts.setPlainText("\n".join(session.value("sample_prompts") or []))
        self.prompts.textChanged.connect(self._prompts_edited)
        form.addRow(TRAIN["sample_prompts"].label, self.prompts)
        self._on_edit = on_edit

    def _prompts_edited(self) -> None:
        lines = [line.strip() for line in self.prompts.toPlainText().splitlines() if line.strip()]
        self.session.set("sample_prompts", lines)
        self._on_edit(lines)
