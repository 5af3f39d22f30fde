"""The Canvas room: a layered picture to paint on and generate into (InvokeAI's Canvas, Krita AI Diffusion). The
prompt is the Image room's (one draft, typed in either room); the box says where the next picture goes; results
wait in the staging area to be accepted (Enter), cycled (← →) or discarded (Esc). Saved as OpenRaster."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QButtonGroup,
    QCheckBox,
    QColorDialog,
    QDoubleSpinBox,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QSplitter,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from studio.ui.canvas.canvas_view import CanvasView
from studio.ui.canvas.layers_panel import LayersPanel
from studio.ui.common.theme import tool_button as _tool
from studio.viewmodels.canvas_session import CanvasSession
from studio.viewmodels.generation_session import GenerationSession

TOOL_WORDS = {"brush": "Brush (B)", "eraser": "Eraser (E)", "box": "Box: where the next picture goes (G)",
              "move": "Move the layer (M)", "select": "Select by clicking on a thing (S): a mask layer of it, "
              "found by Segment Anything"}  # fmt: skip


class CanvasPage(QWidget):
    def __init__(self, session: CanvasSession, draft: GenerationSession):
        super().__init__()
        self.session, self.draft = session, draft
        session.setParent(self)  # the room owns its state: freed with it, on the GUI thread
        self.view = CanvasView(session)
        self.layers = LayersPanel(session)
        column = QVBoxLayout(self)
        column.setContentsMargins(6, 6, 6, 6)
        column.addLayout(self._file_row())
        column.addLayout(self._tool_row())
        split = QSplitter()
        split.addWidget(self.view)
        split.addWidget(self.layers)
        split.setStretchFactor(0, 1)
        split.setSizes([900, 260])
        column.addWidget(split, 1)
        column.addLayout(self._staging_row())
        self.status = QLabel()
        self.status.setObjectName("canvas-status")
        self.status.setWordWrap(True)
        column.addWidget(self.status)
        session.statusChanged.connect(self.status.setText)
        session.failed.connect(lambda why: self.status.setText(f"⚠ {why}"))
        session.stagingChanged.connect(self._show_staging)
        self.destroyed.connect(
            session.writer.close
        )  # the recovery copy's last state written, its thread ended
        if session.recovered:
            self.status.setText(
                "The canvas you were painting was brought back (it is saved after every stroke)."
            )
        self._shortcuts()
        self._show_staging()

    def _file_row(self) -> QHBoxLayout:
        row = QHBoxLayout()
        self.prompt = QLineEdit(str(self.draft.value("prompt")))
        self.prompt.setPlaceholderText("The prompt (the Image room's): what the box should show")
        self.prompt.textEdited.connect(lambda text: self.draft.set("prompt", text))
        self.draft.changed.connect(lambda name: name == "prompt" and self.prompt.text() != self.draft.value("prompt")
                                   and self.prompt.setText(self.draft.value("prompt")))  # fmt: skip
        row.addWidget(self.prompt, 1)
        self.generate = QPushButton("Generate in the box")
        self.generate.setToolTip(
            "Ctrl+Return: a picture for the box, from what is under it (or from nothing)"
        )
        self.generate.clicked.connect(self.session.generate)
        row.addWidget(self.generate)
        for icon, tip, action in (("file", "Open an OpenRaster (.ora) canvas…", self.open_file),
                                  ("down", "Save the canvas as OpenRaster (.ora)…", self.save_file),
                                  ("image", "Export the flattened picture (PNG, with its recipe)…", self.export_file)):  # fmt: skip
            button = _tool(icon, tip)
            button.clicked.connect(action)
            row.addWidget(button)
        return row

    def _tool_row(self) -> QHBoxLayout:
        row = QHBoxLayout()
        self.tools = QButtonGroup(self)
        for name, icon in (("brush", "brush"), ("eraser", "eraser"), ("box", "box"), ("move", "move"),
                           ("select", "select")):  # fmt: skip
            button = _tool(icon, TOOL_WORDS[name])
            button.setCheckable(True)
            button.setObjectName(f"tool-{name}")
            button.setChecked(name == self.view.tool)
            button.clicked.connect(lambda _=False, n=name: self.view.set_tool(n))
            self.tools.addButton(button)
            row.addWidget(button)
        self.colour = QToolButton()
        self.colour.setToolTip("The brush's colour")
        self.colour.clicked.connect(self._pick_colour)
        self._show_colour()
        row.addWidget(self.colour)
        row.addWidget(QLabel("Size"))
        self.size = QSpinBox()
        self.size.setRange(1, 500)
        self.size.setValue(self.view.size)
        self.size.valueChanged.connect(lambda v: setattr(self.view, "size", v))
        row.addWidget(self.size)
        for icon, tip, action in (("undo", "Undo (Ctrl+Z)", self.session.undo), ("redo", "Redo (Ctrl+Shift+Z)",
                                  self.session.redo), ("fit", "Fit the canvas in the view", self.view.fit)):  # fmt: skip
            button = _tool(icon, tip)
            button.clicked.connect(action)
            row.addWidget(button)
        self.words = QLineEdit()
        self.words.setPlaceholderText("Select by words…")
        self.words.setToolTip("A mask layer of what the words name (a face, the sky, a red car): an open-vocabulary "
                              "detector finds it, Segment Anything outlines it; Enter")  # fmt: skip
        self.words.setMaximumWidth(200)
        self.words.returnPressed.connect(lambda: self.session.selection.select_words(self.words.text()))
        row.addWidget(self.words)
        self.live = QCheckBox("Live")
        self.live.setToolTip("Live painting: after every stroke the box is redrawn from what is painted, at the "
                             "live strength (best with a few-step model: LCM, Turbo, Lightning)")  # fmt: skip
        self.live.toggled.connect(self.session.live.set_on)
        row.addWidget(self.live)
        self.live_strength = QDoubleSpinBox()
        self.live_strength.setRange(0.05, 1.0)
        self.live_strength.setSingleStep(0.05)
        self.live_strength.setValue(self.session.live.strength)
        self.live_strength.setToolTip("How much a live frame may change what is painted")
        self.live_strength.valueChanged.connect(lambda v: setattr(self.session.live, "strength", round(v, 2)))
        row.addWidget(self.live_strength)
        row.addStretch(1)
        return row

    def _staging_row(self) -> QHBoxLayout:
        row = QHBoxLayout()
        self.staged = QLabel()
        row.addWidget(self.staged)
        self.staging_buttons = []
        for text, tip, action in (("◀", "The previous result (←)", lambda: self.session.cycle(-1)),
                                  ("▶", "The next result (→)", lambda: self.session.cycle(+1)),
                                  ("Accept", "Keep this result as a layer with its recipe (Enter)", self.session.accept),
                                  ("Discard", "Drop the results (Esc)", self.session.discard)):  # fmt: skip
            button = QPushButton(text)
            button.setToolTip(tip)
            button.clicked.connect(action)
            row.addWidget(button)
            self.staging_buttons.append(button)
        row.addStretch(1)
        return row

    def _show_staging(self) -> None:
        s = self.session
        self.staged.setText(
            f"Result {s.staged + 1} of {len(s.staging)}" if s.staging else "No result waiting"
        )
        for button in self.staging_buttons:
            button.setEnabled(bool(s.staging))

    def _shortcuts(self) -> None:
        for keys, action in (("Ctrl+Return", self.session.generate), ("Ctrl+Enter", self.session.generate),
                             ("Ctrl+Z", self.session.undo), ("Ctrl+Shift+Z", self.session.redo),
                             ("Return", self.session.accept), ("Left", lambda: self.session.cycle(-1)),
                             ("Right", lambda: self.session.cycle(+1)), ("Escape", self._escape),
                             ("B", lambda: self._tool("brush")), ("E", lambda: self._tool("eraser")),
                             ("G", lambda: self._tool("box")), ("M", lambda: self._tool("move")),
                             ("S", lambda: self._tool("select"))):  # fmt: skip
            shortcut = QShortcut(QKeySequence(keys), self)
            shortcut.setContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
            shortcut.activated.connect(action)

    def _escape(self) -> None:
        """Esc: discard the results waiting, else stop this room's job."""
        if self.session.staging:
            self.session.discard()
        else:
            self.session.stop()

    def _tool(self, name: str) -> None:
        self.view.set_tool(name)
        for button in self.tools.buttons():
            button.setChecked(button.objectName() == f"tool-{name}")

    def _pick_colour(self) -> None:
        colour = QColorDialog.getColor(self.view.colour, self, "The brush's colour")
        if colour.isValid():
            self.view.colour = colour
            self._show_colour()

    def _show_colour(self) -> None:
        self.colour.setStyleSheet(f"background: {QColor(self.view.colour).name()}; min-width: 22px;")

    def open_file(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Open a canvas", "", "OpenRaster (*.ora)")
        if path:
            self.session.files.open(path)

    def save_file(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Save the canvas", self.session.source or "canvas.ora",
                                              "OpenRaster (*.ora)")  # fmt: skip
        if path:
            self.session.files.save(path if path.lower().endswith(".ora") else path + ".ora")

    def export_file(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Export the picture", "canvas.png", "PNG (*.png)")
        if path:
            self.session.files.export_png(path if path.lower().endswith(".png") else path + ".png")
