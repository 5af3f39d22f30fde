"""The Writer's reading controls: a voice (and its speaker, where it has several), *Read aloud* (the selection, else
the whole story; the sentence being heard lit up in the editor), *Stop*, and *Export reading…* (a file a chapter)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QTextCharFormat, QTextCursor
from PySide6.QtWidgets import (
    QComboBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QMenu,
    QPushButton,
    QTextEdit,
    QToolButton,
    QWidget,
    QWidgetAction,
)

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
        self.voice.currentIndexChanged.connect(self._voice_chosen)
        self.speaker = QComboBox()
        self.speaker.setObjectName("speaker")
        self.speaker.setToolTip("The speaker, for a voice model with several")
        self.speaker.currentIndexChanged.connect(self._speaker_chosen)
        self.read_btn = QToolButton()
        self.read_btn.setIcon(icon("speak"))
        self.read_btn.setText("Read aloud")
        self.read_btn.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.read_btn.setPopupMode(QToolButton.ToolButtonPopupMode.MenuButtonPopup)
        self.read_btn.setToolTip("Read the selection, or the whole story, aloud; the sentence being read is lit up. "
                                 "The arrow: the voice, and Export reading…")  # fmt: skip
        self.read_btn.setMenu(self._menu())
        self.stop_btn = QPushButton(icon("stop"), "Stop reading")
        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.read_btn)
        row.addWidget(self.stop_btn)
        self.read_btn.clicked.connect(self.read)
        self.stop_btn.clicked.connect(reader.stop)
        reader.speakersKnown.connect(self._speakers)
        reader.speaking.connect(self._light)
        reader.said.connect(page.status.setText)
        reader.busyChanged.connect(self._busy)
        page.doc.opened.connect(lambda path: reader.owner not in (None, path) and reader.stop())
        self._busy(False)
        self.refresh()

    def _menu(self) -> QMenu:
        """The voice (and speaker), then *Export reading…*: kept under Read aloud's arrow so the Writer's rows stay
        as wide as they were."""
        menu = QMenu(self)
        choice = QWidget()
        self.voices_form = QFormLayout(choice)
        self.voices_form.addRow("Voice", self.voice)
        self.voices_form.addRow("Speaker", self.speaker)
        holder = QWidgetAction(menu)
        holder.setDefaultWidget(choice)
        menu.addAction(holder)
        menu.addSeparator()
        self.export_action = menu.addAction("Export reading…", lambda: self.export())
        self.export_action.setToolTip(
            "The story as audio files (FLAC, OGG or WAV): one a chapter, numbered as tracks"
        )
        return menu

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
        self._voice_chosen()

    def _voice_chosen(self, _index: int = 0) -> None:
        """The voice model; its speakers follow when the view-model has read them (``speakersKnown``)."""
        self.reader.choose_voice(self.voice.currentData() or "")

    def _speakers(self, voice: str, count: int) -> None:
        if voice != self.reader.voice:
            return  # another voice was chosen meanwhile
        self.speaker.blockSignals(True)
        self.speaker.clear()
        for i in range(count if count > 1 else 0):
            self.speaker.addItem(f"Speaker {i}", str(i))
        self.speaker.blockSignals(False)
        self.voices_form.setRowVisible(self.speaker, count > 1)
        self._speaker_chosen()

    def _speaker_chosen(self, _index: int = 0) -> None:
        self.reader.voice_name = self.speaker.currentData() or ""

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
    """The reading controls, at the end of the Writer's second row of buttons (the looking row: what the model
    sees, Illustrate): no new row, so the Writer keeps its height and a small window still shows every control
    (the rows scroll sideways rather than clip)."""
    bar = ReadAloudBar(page, reader)
    rows = page.illustrate_btn.parentWidget().layout()
    for i in range(rows.count()):
        row = rows.itemAt(i).layout()
        if row is not None and row.indexOf(page.illustrate_btn) >= 0:
            row.insertWidget(row.indexOf(page.illustrate_btn) + 1, bar)
            return bar
    raise LookupError("the Writer has no row with Illustrate")  # a changed Writer: said at once, in the tests
