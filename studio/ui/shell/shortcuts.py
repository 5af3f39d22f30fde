"""Every keyboard shortcut, where it works and what it does: the window binds its own from this table and
*Help ▸ Keyboard shortcuts* lists it, so the list is never out of date."""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtGui import QKeySequence, QShowEvent
from PySide6.QtWidgets import QDialog, QDialogButtonBox, QTableWidget, QTableWidgetItem, QVBoxLayout, QWidget

from studio.ui.common.theme import fit_size


@dataclass(frozen=True)
class Shortcut:
    keys: str  # as QKeySequence reads it
    where: str
    what: str

    def shown(self) -> str:
        return QKeySequence(self.keys).toString(QKeySequence.SequenceFormat.NativeText) or self.keys


GENERATE = Shortcut(
    "Ctrl+Return", "Image, Writer", "Generate (the Image room) or Continue at the cursor (Writer)"
)
GENERATE_ENTER = Shortcut("Ctrl+Enter", "Image, Writer", "The same as Ctrl+Return")
STOP = Shortcut("Esc", "Image, Writer, Fine-tune", "Stop this room's running job (asked first past a minute); in "
                "the Gallery and the Models room it stops nothing")  # fmt: skip
QUEUE = Shortcut("Ctrl+Shift+Q", "everywhere", "The queue of every room")
SETTINGS = Shortcut("Ctrl+,", "everywhere", "Settings: device, precision, theme, folders, servers")
QUIT = Shortcut("Ctrl+Q", "everywhere", "Quit (asked first when jobs are under way)")
HELP = Shortcut("F1", "everywhere", "This list")
GALLERY_DELETE = Shortcut("Del", "Gallery", "Move the selected pictures to the trash")
GALLERY_UNDO = Shortcut("Ctrl+Z", "Gallery", "Bring the last deleted pictures back")
GALLERY_COPY = Shortcut("Ctrl+C", "Gallery", "Copy the picture")
GALLERY_STAR = Shortcut("S", "Gallery", "Star or unstar the picture")
WRITER_UNDO = Shortcut("Ctrl+Z", "Writer", "Undo (a whole generation is one step)")

ALL = (GENERATE, GENERATE_ENTER, STOP, QUEUE, SETTINGS, QUIT, HELP, GALLERY_DELETE, GALLERY_UNDO, GALLERY_COPY,
       GALLERY_STAR, WRITER_UNDO)  # fmt: skip


class ShortcutsDialog(QDialog):
    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setWindowTitle("Keyboard shortcuts")
        lay = QVBoxLayout(self)
        self.table = QTableWidget(len(ALL), 3)
        self.table.setHorizontalHeaderLabels(["Keys", "Where", "What it does"])
        self.table.verticalHeader().hide()
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.table.setWordWrap(True)
        for row, s in enumerate(ALL):
            for col, text in enumerate((s.shown(), s.where, s.what)):
                self.table.setItem(row, col, QTableWidgetItem(text))
        self.table.horizontalHeader().setStretchLastSection(True)
        self.table.resizeColumnsToContents()
        self.table.resizeRowsToContents()
        lay.addWidget(self.table)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        lay.addWidget(buttons)
        fit_size(self, 760, 480)

    def showEvent(self, event: QShowEvent) -> None:  # noqa: N802 (Qt's name): rows fit their wrapped text
        super().showEvent(event)
        self.table.resizeRowsToContents()
