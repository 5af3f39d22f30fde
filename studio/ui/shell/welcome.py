"""The first-run welcome: where work is kept, which device was found, which models are here, how to add more.
A window of its own beside the main one — never modal, closed with one click, reopened from Help."""

from __future__ import annotations

import html
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import Qt, QTimer, QUrl, Signal
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import QDialog, QDialogButtonBox, QLabel, QPushButton, QVBoxLayout, QWidget

from studio.core.models.memory_plan import GB, DeviceInfo


class WelcomePanel(QDialog):
    openModels = Signal()

    def __init__(
        self,
        places: list[tuple[str, Path]],
        device: Callable[[], DeviceInfo | None],
        models: Callable[[], list[str]],
        models_dir: Path,
        parent: QWidget | None = None,
    ):
        super().__init__(parent)
        self.setWindowTitle("Welcome to Studio")
        self.setModal(False)
        self.setWindowModality(Qt.WindowModality.NonModal)
        self.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self.device, self.models, self.models_dir = device, models, models_dir
        lay = QVBoxLayout(self)
        title = QLabel(
            "<h2>Welcome to Studio</h2>Images, writing and fine-tuning on your own machine — offline."
        )
        title.setWordWrap(True)
        lay.addWidget(title)
        rows = "".join(
            f"<tr><td>{html.escape(what)}&nbsp;&nbsp;</td><td><a href='{Path(p).as_uri()}'>"
            f"{html.escape(str(p))}</a></td></tr>"
            for what, p in places
        )
        self.places = QLabel(
            f"<b>Your work is kept here</b> (saved as it is made, with the recipe):<table>{rows}</table>"
        )
        self.places.setTextFormat(Qt.TextFormat.RichText)
        self.places.setOpenExternalLinks(False)
        self.places.linkActivated.connect(lambda url: QDesktopServices.openUrl(QUrl(url)))
        lay.addWidget(self.places)
        self.device_line = QLabel()
        self.device_line.setWordWrap(True)
        lay.addWidget(self.device_line)
        self.models_line = QLabel()
        self.models_line.setWordWrap(True)
        self.models_line.setTextFormat(Qt.TextFormat.RichText)
        lay.addWidget(self.models_line)
        how = QLabel(
            "<b>Adding real models</b>: in the Models room press <i>Download…</i> (Stable Diffusion 1.5, "
            "SDXL, text models and a captioner are listed by size), drop <tt>.safetensors</tt> files into "
            f"<a href='{models_dir.as_uri()}'>{html.escape(str(models_dir))}</a>, or add the models "
            "folder of AUTOMATIC1111, ComfyUI or InvokeAI to use it in place."
        )
        how.setWordWrap(True)
        how.linkActivated.connect(lambda url: QDesktopServices.openUrl(QUrl(url)))
        lay.addWidget(how)
        buttons = QDialogButtonBox()
        models_btn = QPushButton("Open the Models room")
        models_btn.clicked.connect(lambda: (self.openModels.emit(), self.close()))
        start = QPushButton("Start creating")
        start.setDefault(True)
        start.clicked.connect(self.close)
        buttons.addButton(models_btn, QDialogButtonBox.ButtonRole.ActionRole)
        buttons.addButton(start, QDialogButtonBox.ButtonRole.AcceptRole)
        lay.addWidget(buttons)
        self.setMinimumWidth(560)
        self._poll = QTimer(self, interval=400)
        self._poll.timeout.connect(self.refresh)
        self._poll.start()
        self.refresh()

    def refresh(self) -> None:
        """The device and the model list fill in as they are found (both are measured in the background)."""
        info = self.device()
        if info is None:
            self.device_line.setText("<b>Device</b>: looking…")
        else:
            free = f", {info.free / GB:.1f} GB free" if info.free else ""
            advice = (
                ""
                if info.device != "cpu"
                else (
                    " — no GPU was found: the built-in demos are quick, real "
                    "Stable Diffusion models take minutes per image on a CPU."
                )
            )
            self.device_line.setText(
                f"<b>Device</b>: {html.escape(info.name)} ({info.total / GB:.0f} GB{free}){advice}"
            )
        names = self.models()
        self.models_line.setText(
            "<b>Models here</b>: " + (html.escape(", ".join(names)) if names else "none yet")
        )
        if info is not None and names:
            self._poll.setInterval(2000)  # keep following a background scan, slowly
