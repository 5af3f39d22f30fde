"""The Writer's reading row: a voice, *Read aloud* (the selection, else the whole story; the sentence being heard
lit up in the editor), *Stop*, and *Export reading…* (an audio file a chapter)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtGui import QColor, QTextCharFormat, QTextCursor
from PySide6.QtWidgets import QComboBox, QFileDialog, QHBoxLayout, QLabel, QPushButton, QTextEdit, QWidget

from studio.ui.common.theme import icon
from studio.viewmodels.read_aloud import ReadAloud

if TYPE_CHECKING:
    from studio.ui.text.writer_page import WriterPage

HEARD = QColor(255, 214, 102, 150)  # the sentence being heard


class ReadAloudBar(QWidget):
    def __init__(self, page: WriterPage, reader: ReadAloud):
        super().__init__()
        self.page, self.reader = page, reader
        self.voice = QComboBox()
        self.voice.setObjectName("voice")
        self.voice.setToolTip("The voice that reads (text-to-speech models from the Models room)")
        self.voice.currentIndexChanged.connect(
            lambda _i: setattr(reader, "voice", self.voice.currentData() or "")
        )
        self.read_btn = QPushButton(icon("speak"), "Read aloud")
        self.read_btn.setToolTip(
            "Read the selection, or the whole story, aloud; the sentence being read is lit up"
        )
        self.stop_btn = QPushButton(icon("stop"), "Stop reading")
        self.export_btn = QPushButton("Export reading…")
        self.export_btn.setToolTip(
            "The story as audio files (FLAC, OGG or WAV): one a chapter, numbered as tracks"
        )
        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(QLabel("Voice"))
        row.addWidget(self.voice, 1)
        for b in (self.read_btn, self.stop_btn, self.export_btn):
            row.addWidget(b)
        self.read_btn.clicked.connect(self.read)
        self.stop_btn.clicked.connect(reader.stop)
        self.export_btn.clicked.connect(lambda: self.export())
        reader.speaking.connect(self._light)
        reader.said.connect(page.status.setText)
        reader.busyChanged.connect(self._busy)
        page.doc.opened.connect(lambda path: reader.owner not in (None, path) and reader.stop())
        self._busy(False)
        self.refresh()

    def refresh(self) -> None:
        chosen = self.reader.voice
        self.voice.blockSignals(True)
        self.voice.clear()
        for path in self.reader.voices():
            self.voice.addItem(path.name, str(path))
        if not self.voice.count():
            self.voice.addItem("No voice model yet (Models room: MMS-TTS)", "")
        self.voice.setCurrentIndex(max(0, self.voice.findData(chosen)))
        self.voice.blockSignals(False)
        self.reader.voice = self.voice.currentData() or ""

    def read(self) -> bool:
        cursor = self.page.editor.textCursor()
        if cursor.hasSelection():
            start = cursor.selectionStart()
            text = self.page.editor.toPlainText()[start : cursor.selectionEnd()]
        else:
            start, text = 0, self.page.editor.toPlainText()
        return self.reader.read(text, start, owner=self.page.path)

    def export(self, target: Path | None = None) -> list[Path]:
        title = self.page.path.stem if self.page.path else "Story"
        if target is None:
            name, _ = QFileDialog.getSaveFileName(self, "Export reading", str(Path.home() / f"{title}.flac"),
                                                  "FLAC (*.flac);;OGG Vorbis (*.ogg);;WAV (*.wav)")  # fmt: skip
            if not name:
                return []
            target = Path(name) if Path(name).suffix else Path(name).with_suffix(".flac")
        return self.reader.export(self.page.editor.toPlainText(), title, target)

    def _busy(self, on: bool) -> None:
        self.stop_btn.setEnabled(on)
        self.read_btn.setEnabled(not on)

    def _light(self, start: int, end: int) -> None:
        """The sentence being heard, lit up and kept in view; (-1, -1) clears it."""
        if start < 0:
            self.page.editor.setExtraSelections([])
            return
        length = self.page.doc.document.characterCount() - 1
        cursor = QTextCursor(self.page.doc.document)
        cursor.setPosition(min(start, length))
        cursor.setPosition(min(end, length), QTextCursor.MoveMode.KeepAnchor)
        heard = QTextEdit.ExtraSelection()
        heard.cursor = cursor  # type: ignore[attr-defined]  # PySide6 exposes the struct's fields as attributes
        fmt = QTextCharFormat()
        fmt.setBackground(HEARD)
        heard.format = fmt  # type: ignore[attr-defined]
        self.page.editor.setExtraSelections([heard])
        if not self.page.editor.textCursor().hasSelection():  # the writer's own selection is left alone
            view = QTextCursor(cursor)
            view.setPosition(min(start, length))
            self.page.editor.setTextCursor(view)
            self.page.editor.ensureCursorVisible()


def attach(page: WriterPage, reader: ReadAloud) -> ReadAloudBar:
    """The reading row, under the Writer's editor (above its status line)."""
    bar = ReadAloudBar(page, reader)
    layout = page.status.parentWidget().layout()
    layout.insertWidget(layout.indexOf(page.status), bar)
    return bar
