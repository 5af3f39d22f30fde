"""A result's denoising filmstrip: scrub from noise to picture, step by step; export it as a strip or an
animation. A result made without one can be made again with it (the same recipe and seed)."""

from __future__ import annotations

import shutil
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtGui import QImage, QPixmap
from PySide6.QtWidgets import (
    QDialog,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSlider,
    QVBoxLayout,
    QWidget,
)

from studio.core.image.filmstrip import contact_strip, filmstrip_path, read_filmstrip


def _pixmap(image) -> QPixmap:  # noqa: ANN001 - a PIL image
    rgb = image.convert("RGB")
    q = QImage(rgb.tobytes(), rgb.width, rgb.height, rgb.width * 3, QImage.Format.Format_RGB888)
    return QPixmap.fromImage(q.copy())


class FilmstripDialog(QDialog):
    def __init__(self, image: str, parent: QWidget | None = None):
        super().__init__(parent)
        self.setWindowTitle(f"How {Path(image).name} was made, step by step")
        self.path = filmstrip_path(Path(image))
        self.frames = read_filmstrip(self.path)
        self.remake = False  # the user asked to make the filmstrip (the caller queues it)
        layout = QVBoxLayout(self)
        self.view = QLabel()
        self.view.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.view.setMinimumSize(384, 384)
        layout.addWidget(self.view, 1)
        self.caption = QLabel()
        self.caption.setProperty("role", "hint")
        layout.addWidget(self.caption)
        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.slider.valueChanged.connect(self.show_frame)
        layout.addWidget(self.slider)
        row = QHBoxLayout()
        self.export_strip = QPushButton("Export strip…")
        self.export_strip.clicked.connect(lambda: self._export("strip"))
        self.export_animation = QPushButton("Export animation…")
        self.export_animation.clicked.connect(lambda: self._export("animation"))
        self.make = QPushButton("Make its filmstrip")
        self.make.setToolTip("Make this picture again from its recipe (same seed), keeping every step")
        self.make.clicked.connect(self._make)
        for b in (self.export_strip, self.export_animation, self.make):
            row.addWidget(b)
        row.addStretch(1)
        layout.addLayout(row)
        has = bool(self.frames)
        self.slider.setRange(1, max(1, len(self.frames)))
        self.slider.setEnabled(has)
        self.export_strip.setEnabled(has)
        self.export_animation.setEnabled(has)
        self.make.setVisible(not has)
        if has:
            self.slider.setValue(len(self.frames))
            self.show_frame(len(self.frames))
        else:
            self.view.setText("This picture was made without its filmstrip (the Denoising filmstrip box).")

    def show_frame(self, step: int) -> None:
        if not self.frames:
            return
        frame = self.frames[step - 1]
        pix = _pixmap(frame)
        self.view.setPixmap(pix.scaled(max(384, frame.width), max(384, frame.height),
                                       Qt.AspectRatioMode.KeepAspectRatio,
                                       Qt.TransformationMode.FastTransformation))  # fmt: skip
        what = "the picture" if step == len(self.frames) else "what the model predicts the picture will be"
        self.caption.setText(f"Step {step} of {len(self.frames)}: {what}")

    def _export(self, kind: str) -> None:
        stem = self.path.name.lstrip(".").replace(".steps.webp", "")
        if kind == "strip":
            target, _ = QFileDialog.getSaveFileName(
                self, "Export the strip", f"{stem}-steps.png", "PNG (*.png)"
            )
            if target:
                contact_strip(self.frames, every=max(1, len(self.frames) // 12)).save(target)
        else:
            target, _ = QFileDialog.getSaveFileName(self, "Export the animation", f"{stem}-steps.webp",
                                                    "Animated WebP (*.webp)")  # fmt: skip
            if target:
                shutil.copyfile(self.path, target)

    def _make(self) -> None:
        self.remake = True
        self.accept()
