"""X/Y/Z plot: the Image panel's recipe over up to three axes — a field and its values each — queued as one job:
every cell a normal image, the grid with labelled axes one more."""

from __future__ import annotations

from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QGridLayout,
    QLabel,
    QLineEdit,
    QVBoxLayout,
    QWidget,
)

from studio.viewmodels.generation_session import GenerationSession

CHOICES = [
    ("Nothing", "", ""),
    ("Seed", "seed", "1, 2, 3, 4"),
    ("CFG scale", "cfg", "3, 5, 7, 9"),
    ("Steps", "steps", "10-30:3"),
    ("Sampler", "sampler", "Euler, Euler a, DPM++ 2M"),
    ("Schedule type", "schedule", "Automatic, Karras"),
    ("Clip skip", "clip_skip", "1, 2"),
    ("Denoising (init image)", "strength", "0.3, 0.5, 0.7"),
    ("Hires denoise", "hires_denoise", "0.3, 0.5"),
    ("Prompt search/replace", "prompt", "red, blue, green  (the first is what is replaced)"),
    ("LoRA weight", "lora", "NAME: 0, 0.5, 1"),
    ("Variation strength", "variation_strength", "0, 0.1, 0.2"),
    ("Width", "width", "512, 768"),
    ("Height", "height", "512, 768"),
]


class PlotDialog(QDialog):
    def __init__(self, session: GenerationSession, parent: QWidget | None = None):
        super().__init__(parent)
        self.session = session
        self.setWindowTitle("X/Y/Z plot")
        layout = QVBoxLayout(self)
        intro = QLabel("The recipe in the Image panel, once for every combination of the values below (one seed for "
                       "all, unless the seed is an axis). Each cell is saved as a normal image; the grid, with the "
                       "values written along its sides, is saved too.")  # fmt: skip
        intro.setWordWrap(True)
        layout.addWidget(intro)
        grid = QGridLayout()
        self.fields: list[QComboBox] = []
        self.values: list[QLineEdit] = []
        for row, letter in enumerate("XYZ"):
            combo = QComboBox()
            for label, name, _hint in CHOICES:
                combo.addItem(label, name)
            edit = QLineEdit()
            combo.currentIndexChanged.connect(
                lambda _i, c=combo, e=edit: e.setPlaceholderText(CHOICES[c.currentIndex()][2])
            )
            grid.addWidget(QLabel(f"{letter} axis"), row, 0)
            grid.addWidget(combo, row, 1)
            grid.addWidget(edit, row, 2)
            self.fields.append(combo)
            self.values.append(edit)
        self.fields[0].setCurrentIndex(1)
        self.fields[1].setCurrentIndex(2)
        grid.setColumnStretch(2, 1)
        layout.addLayout(grid)
        self.error = QLabel()
        self.error.setObjectName("error")
        self.error.setWordWrap(True)
        layout.addWidget(self.error)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel)
        go = buttons.addButton("Queue the plot", QDialogButtonBox.ButtonRole.AcceptRole)
        go.setDefault(True)
        buttons.accepted.connect(self.submit)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)
        self.job: str | None = None

    def axes(self) -> list[str]:
        out = []
        for combo, edit in zip(self.fields, self.values, strict=True):
            name, text = combo.currentData(), edit.text().strip()
            if not name or not text:
                continue
            if name == "prompt":
                out.append(f"prompt=SR:{text}")
            elif name == "lora":
                lora, _, weights = text.partition(":")
                out.append(f"lora:{lora.strip()}={weights.strip()}")
            else:
                out.append(f"{name}={text}")
        return out

    def submit(self) -> None:
        done = self.session.jobs.plot(self.axes())
        if isinstance(done, dict):
            self.error.setText(" ".join(done.values()))
            return
        self.job = done
        self.accept()
