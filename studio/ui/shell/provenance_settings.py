"""The Settings dialog's *Provenance* group: signed Content Credentials, the watermark, private recipes, and the
content filter for shared machines (docs/user/provenance.md)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from PySide6.QtWidgets import (
    QCheckBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QWidget,
)

from studio.core.io.settings import Settings

CHECKS = (
    ("content_credentials", "Sign what Studio makes (C2PA Content Credentials)",
     "Every picture and every Writer export carries a signed manifest: Studio, the model, that a generative model "
     "made it, the recipe. `studio verify` and any C2PA reader check it."),
    ("watermark", "Invisible watermark in pictures",
     "A 48-bit mark in the pixels (the scheme SDXL uses): it survives a re-save without metadata."),
    ("private_recipes", "Keep recipes private (sign only their hash)",
     "The signed manifest holds the recipe's SHA-256 instead of the prompt and settings."),
    ("content_filter", "Content filter (for shared machines and classrooms)",
     "An image classifier looks at every picture before it is saved; a flagged picture is never written. "
     "Switched on without a usable model, it holds every picture back."),
)  # fmt: skip


class ProvenanceSettings(QGroupBox):
    def __init__(self, settings: Settings, changed: Callable[[str], None], parent: QWidget | None = None):
        super().__init__("Provenance", parent)
        self.settings, self._changed = settings, changed
        form = QFormLayout(self)
        self.checks: dict[str, QCheckBox] = {}
        for name, label, tip in CHECKS:
            box = QCheckBox(label)
            box.setToolTip(tip)
            box.setChecked(bool(getattr(settings, name)))
            box.toggled.connect(lambda on, n=name: self._set(n, on))
            form.addRow(box)
            self.checks[name] = box
        row = QHBoxLayout()
        self.filter_model = QLabel(self._model_words())
        self.filter_model.setWordWrap(True)
        row.addWidget(self.filter_model, 1)
        choose = QPushButton("Choose…")
        choose.setToolTip("A folder with an image classifier (transformers, safetensors), e.g. "
                          "Falconsai/nsfw_image_detection")  # fmt: skip
        choose.clicked.connect(self.choose_filter_model)
        row.addWidget(choose)
        form.addRow("Filter model", row)

    def _model_words(self) -> str:
        return (
            Path(self.settings.content_filter_model).name
            if self.settings.content_filter_model
            else "none chosen"
        )

    def _set(self, name: str, value: object) -> None:
        setattr(self.settings, name, value)
        self._changed(name)

    def choose_filter_model(self, folder: str | None = None) -> None:
        folder = folder or QFileDialog.getExistingDirectory(self, "The content filter's classifier")
        if folder:
            self._set("content_filter_model", folder)
            self.filter_model.setText(self._model_words())
