"""*Settings*: the one place for what applies everywhere — the device and its precision and memory, the theme, the
folders Studio keeps things in, the servers it can use. (The rooms keep their own settings beside their work.)"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QUrl
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from studio.core.io.settings import Settings
from studio.ui.common.theme import fit_size
from studio.ui.models.model_settings import DeviceMemorySettings
from studio.ui.shell.provenance_settings import ProvenanceSettings


class SettingsDialog(QDialog):
    def __init__(
        self,
        settings: Settings,
        folders: list[tuple[str, Path]],
        *,
        changed: Callable[[str], None],
        theme: Callable[[str], None],
        servers: Callable[[], None] | None = None,
        parent: QWidget | None = None,
    ):
        super().__init__(parent)
        self.setWindowTitle("Settings")
        lay = QVBoxLayout(self)
        self.device = DeviceMemorySettings(settings, changed)
        lay.addWidget(self.device)

        look = QGroupBox("Look")
        form = QFormLayout(look)
        self.theme = QComboBox()
        for name in ("system", "light", "dark"):
            self.theme.addItem(name.capitalize(), name)
        self.theme.setCurrentIndex(max(0, self.theme.findData(settings.theme)))
        self.theme.currentIndexChanged.connect(lambda _i: theme(self.theme.currentData()))
        form.addRow("Theme", self.theme)
        lay.addWidget(look)

        places = QGroupBox("Folders")
        form = QFormLayout(places)
        for label, path in folders:
            form.addRow(label, _folder_row(path))
        extra = ", ".join(Path(p).name for p in settings.model_folders) or "none"
        hint = QLabel(
            f"Other tools' model folders used in place: {extra} (add or remove them in the Models room)."
        )
        hint.setWordWrap(True)
        hint.setProperty("role", "hint")
        form.addRow(hint)
        lay.addWidget(places)

        self.provenance = ProvenanceSettings(settings, changed)
        lay.addWidget(self.provenance)

        if servers is not None:
            box = QGroupBox("Servers")
            row = QHBoxLayout(box)
            n = len(settings.servers)
            words = QLabel(
                f"{n} saved." if n else "None saved: ComfyUI servers and OpenAI-compatible servers."
            )
            row.addWidget(words, 1)
            button = QPushButton("Servers…")
            button.clicked.connect(servers)
            row.addWidget(button)
            lay.addWidget(box)

        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        lay.addWidget(buttons)
        fit_size(self, 560, 720)


def _folder_row(path: Path) -> QWidget:
    w = QWidget()
    row = QHBoxLayout(w)
    row.setContentsMargins(0, 0, 0, 0)
    label = QLabel(str(path))
    label.setToolTip(str(path))
    label.setWordWrap(True)
    row.addWidget(label, 1)
    show = QPushButton("Show")
    show.clicked.connect(lambda: QDesktopServices.openUrl(QUrl.fromLocalFile(str(path))))
    row.addWidget(show)
    return w
