"""The Writer's *Notes* row: the story's notes folder (characters, places, earlier chapters), chosen here; the most
similar in meaning to the text before the cursor go into the context."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import QFileDialog, QHBoxLayout, QLabel, QPushButton, QWidget

from studio.viewmodels.writer_session import WriterSession


class NotesFolderRow(QWidget):
    def __init__(self, session: WriterSession, parent: QWidget | None = None):
        super().__init__(parent)
        self.session = session
        lay = QHBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        self.label = QLabel("none")
        self.label.setWordWrap(True)
        self.label.setToolTip("A folder of .md/.txt notes; those most similar in meaning to the text before the "
                              "cursor go into the context (What the model sees shows which, and why)")  # fmt: skip
        lay.addWidget(self.label, 1)
        choose = QPushButton("Folder…")
        choose.clicked.connect(lambda: self.choose())
        lay.addWidget(choose)
        session.notes.changed.connect(self._read)
        session.changed.connect(lambda name: name == "notes_folder" and self._read(0, ""))
        self._read(len(session.notes.notes), "")

    def choose(self, folder: str | None = None) -> None:
        folder = folder if folder is not None else QFileDialog.getExistingDirectory(self, "The story's notes")
        if folder:
            self.session.set("notes_folder", folder)

    def _read(self, passages: int, problem: str) -> None:
        folder = self.session.value("notes_folder")
        words = f"{Path(folder).name}: {passages} passage{'s' if passages != 1 else ''}" if folder else "none"
        self.label.setText(words + (f" ({problem})" if problem else ""))
