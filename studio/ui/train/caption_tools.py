"""The Fine-tune room's caption tools: *Auto-caption* (sentences or tags, the pictures without a caption or
all), and the tag editor — every tag of the captions with how many carry it, a tag added to or removed from the
selected pictures (or all) at once."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QEvent
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from studio.core.io.words import count
from studio.core.train.caption_tags import tag_counts
from studio.viewmodels.train_session import TrainSession


class CaptionTools(QWidget):
    def __init__(self, session: TrainSession, selected: Callable[[], list[int]], say: Callable[[str], None],
                 parent: QWidget | None = None):  # fmt: skip
        super().__init__(parent)
        self.session, self.selected, self.say = session, selected, say
        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        self.caption_btn = QPushButton("Auto-caption")
        self.caption_btn.setToolTip("Write captions with a local captioning model (Florence-2, BLIP, GIT…) from the "
                                    "Models room")  # fmt: skip
        self.caption_btn.clicked.connect(self._caption)
        self.style = QComboBox()
        self.style.addItem("as sentences", "sentences")
        self.style.addItem("as tags", "tags")
        self.style.setToolTip("Tags: the caption's phrases, comma-separated (kohya's way)")
        self.caption_all = QCheckBox("replace mine too")
        self.caption_all.setToolTip("Off: only pictures without a caption are captioned")
        tags = QPushButton("Edit tags…")
        tags.setToolTip("Add a tag to many pictures or take one away (the selected pictures, or all)")
        tags.clicked.connect(self.edit_tags)
        for w in (self.caption_btn, self.style, self.caption_all, tags):
            row.addWidget(w)
        row.addStretch(1)
        session.captioning.connect(lambda busy: self.caption_btn.setEnabled(not busy))
        self.dialog: TagEditor | None = None

    def _caption(self) -> None:
        problem = self.session.caption(overwrite=self.caption_all.isChecked(), style=self.style.currentData())
        self.say(problem or "Captioning… (it waits for the device like any job)")

    def edit_tags(self) -> TagEditor:
        self.dialog = TagEditor(self.session, self.selected, self)
        self.dialog.show()
        return self.dialog


class TagEditor(QDialog):
    def __init__(
        self, session: TrainSession, selected: Callable[[], list[int]], parent: QWidget | None = None
    ):
        super().__init__(parent)
        self.session, self.selected = session, selected
        self.setWindowTitle("Tags")
        lay = QVBoxLayout(self)
        self.scope = QLabel()
        lay.addWidget(self.scope)
        self.tags = QListWidget()
        self.tags.currentTextChanged.connect(lambda t: self.tag.setText(t.rsplit(" (", 1)[0]))
        lay.addWidget(self.tags, 1)
        self.tag = QLineEdit()
        self.tag.setPlaceholderText("a tag (choose one above, or type a new one)")
        lay.addWidget(self.tag)
        row = QHBoxLayout()
        self.add_btn = QPushButton("Add")
        self.add_btn.clicked.connect(lambda: self._apply(add=True))
        self.remove_btn = QPushButton("Remove")
        self.remove_btn.clicked.connect(lambda: self._apply(add=False))
        row.addWidget(self.add_btn)
        row.addWidget(self.remove_btn)
        row.addStretch(1)
        lay.addLayout(row)
        self.result = QLabel()
        lay.addWidget(self.result)
        session.datasetChanged.connect(self.refresh)
        self.resize(420, 460)
        self.refresh()

    def event(self, e: QEvent) -> bool:
        if e.type() == QEvent.Type.WindowActivate:  # back from choosing other pictures in the list
            self.refresh()
        return super().event(e)

    def rows(self) -> list[int]:
        return self.selected() or list(range(len(self.session.dataset.images)))

    def refresh(self) -> None:
        rows = self.rows()
        images = self.session.dataset.images
        self.scope.setText(f"Tags of the {count(len(rows), 'selected picture')}" if self.selected() else
                           f"Tags of all {len(images)} pictures (select some in the list to edit only those)")  # fmt: skip
        self.tags.clear()
        for tag, n in tag_counts([images[r].caption for r in rows if r < len(images)]):
            self.tags.addItem(f"{tag} ({n})")

    def _apply(self, add: bool) -> None:
        tag = self.tag.text().strip()
        if not tag:
            self.result.setText("Type a tag first.")
            return
        n = self.session.edit_tags(self.rows(), tag, add)
        done = "added to" if add else "removed from"
        self.result.setText(f"“{tag}” {done} {n} caption{'s' if n != 1 else ''}.")
