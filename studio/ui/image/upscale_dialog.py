"""*Upscale…* on a gallery picture: the factor and the upscaler (Lanczos, or a model from the library); the result
is a new picture, the source's child, with its recipe and the upscale added."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFormLayout,
    QLabel,
    QWidget,
)

from studio.core.image.upscale_recipe import UPSCALE
from studio.ui.common.binding import configure
from studio.viewmodels.generation_session import GenerationSession


class UpscaleDialog(QDialog):
    def __init__(self, session: GenerationSession, image: str, parent: QWidget | None = None):
        super().__init__(parent)
        self.setWindowTitle("Upscale")
        self.session, self.image = session, image
        form = QFormLayout(self)
        form.addRow(QLabel(f"<b>{Path(image).name}</b>"))
        self.scale = QDoubleSpinBox()
        configure(self.scale, UPSCALE["scale"])
        self.scale.setValue(UPSCALE["scale"].default)
        form.addRow("Scale", self.scale)
        self.upscaler = QComboBox()
        for label, value in session.library.upscaler_choices():
            if value != "Latent":  # latents are a hires-fix upscaler, not a picture's
                self.upscaler.addItem(label, value)
        self.upscaler.setToolTip(UPSCALE["upscaler"].tooltip())
        form.addRow("Upscaler", self.upscaler)
        self.creativity = QDoubleSpinBox()
        self.creativity.setRange(0.0, 1.0)
        self.creativity.setSingleStep(0.05)
        self.creativity.setSpecialValueText("Off (a plain upscale)")
        self.creativity.setToolTip("Creative upscale: re-diffuse the upscaled picture tile by tile with its own "
                                   "recipe; 0.2–0.4 adds detail and keeps the picture")  # fmt: skip
        form.addRow("Creativity", self.creativity)
        self.structure = QDoubleSpinBox()
        self.structure.setRange(0.0, 2.0)
        self.structure.setSingleStep(0.1)
        self.structure.setValue(0.6)
        self.structure.setToolTip(
            "How strongly a tile ControlNet (when the models folder has one) holds each tile"
        )
        form.addRow("Structure", self.structure)
        self.error = QLabel()
        self.error.setProperty("role", "error")
        self.error.setWordWrap(True)
        form.addRow(self.error)
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        buttons.button(QDialogButtonBox.StandardButton.Ok).setText("Upscale")
        buttons.accepted.connect(self.submit)
        buttons.rejected.connect(self.reject)
        form.addRow(buttons)
        self.job: str | None = None

    def submit(self) -> None:
        result = self.session.jobs.upscale(self.image, round(self.scale.value(), 2), self.upscaler.currentData(),
                                           creativity=round(self.creativity.value(), 2),
                                           structure=round(self.structure.value(), 2))  # fmt: skip
        if isinstance(result, dict):
            self.error.setText(" ".join(result.values()))
            return
        self.job = result
        self.accept()
