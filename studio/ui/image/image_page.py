"""The Image room: prompt on top, the canvas in the middle, parameters and queue in docks."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import QEvent, QSize, Qt, Signal
from PySide6.QtGui import QImage, QPixmap
from PySide6.QtWidgets import (
    QButtonGroup,
    QDockWidget,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QMainWindow,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QSlider,
    QStackedWidget,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from studio.ui.common.elided_label import ElidedLabel
from studio.ui.common.image_canvas import ImageView, MaskCanvas
from studio.ui.common.queue_panel import QueuePanel
from studio.ui.common.scroll_row import ScrollRow
from studio.ui.common.theme import icon, picture_icon
from studio.ui.image.model_card_dialog import show_limits
from studio.ui.image.parameters_panel import ParametersPanel
from studio.ui.image.prompt_panel import PromptPanel
from studio.viewmodels.generation_session import GenerationSession
from studio.viewmodels.job_queue import JobQueue

EMPTY_RESULT = (
    "Your images appear here.\n\nWrite a prompt and press Ctrl+Return to generate. "
    "Queue as many as you like; Esc stops the running one."
)
NO_MODEL = (
    "No image model yet.\n\nOpen a Stable Diffusion model (a diffusers folder or a .safetensors "
    "checkpoint) with the folder button beside Model, or put models in {dir}."
)
BUILTIN = (
    "You are using Shapes, Studio's built-in demo model: it paints coloured shapes on coloured "
    'backgrounds at 64×64, e.g. "a red circle on a blue background".\n\nPress Ctrl+Return to try it. '
    "For real pictures, open a Stable Diffusion model or put one in {dir}."
)
EMPTY_INPUT = (
    "Drop an image here to start from it (image to image).\n\nThen paint over the part to repaint (inpaint)."
)


def _segment(text: str, tip: str) -> QToolButton:
    b = QToolButton()
    b.setText(text)
    b.setToolTip(tip)
    b.setCheckable(True)
    b.setAutoRaise(True)
    return b


def _action_button(icon_name: str, text: str, tip: str) -> QToolButton:
    b = QToolButton()
    b.setIcon(icon(icon_name))
    b.setText(text)
    b.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
    b.setToolTip(tip)
    b.setAutoRaise(True)
    return b


class ImagePage(QMainWindow):
    """A nested main window so its docks (parameters, queue) can be moved and their layout remembered."""

    variationsRequested = Signal(str)  # a result's path
    describeRequested = Signal(str)  # a result's path
    attentionRequested = Signal(str)  # a result's path: where its words act
    filmstripRequested = Signal(str)  # a result's path: make it again with its filmstrip

    def __init__(
        self, session: GenerationSession, queue: JobQueue, models_dir: Path, parent: QWidget | None = None
    ):
        super().__init__(parent)
        self.session, self.queue = session, queue
        self._models_dir = models_dir
        self._last_result: tuple[QImage, str] | None = None  # what comes back into view after Stop
        self.setObjectName("ImagePage")
        self.setDockOptions(QMainWindow.DockOption.AnimatedDocks | QMainWindow.DockOption.AllowTabbedDocks)

        self.prompt_panel = PromptPanel(session)
        session.cards.toRead.connect(lambda model, text: show_limits(self, session.cards, model, text))
        self.result_view = ImageView(EMPTY_RESULT)
        self.input_view = MaskCanvas(EMPTY_INPUT)
        self.stack = QStackedWidget()
        self.stack.addWidget(self.result_view)
        self.stack.addWidget(self.input_view)

        self._view_switcher()
        self._result_actions()
        self._input_tools_row()
        toolbar = self._toolbar()
        banner_row, left_row = self._message_rows()
        progress_row = self._progress_row()
        self._results_strip()
        central = QWidget()
        lay = QVBoxLayout(central)
        lay.setContentsMargins(0, 0, 0, 6)
        lay.setSpacing(6)
        lay.addWidget(self.prompt_panel)
        self.actions_row = ScrollRow(toolbar)  # a narrow window scrolls the actions, never clips them
        self.actions_row.installEventFilter(
            self
        )  # and they drop their words when the row has no room for them
        self._actions_full = toolbar.sizeHint().width()
        lay.addWidget(self.actions_row)
        lay.addLayout(left_row)
        lay.addLayout(banner_row)
        notes_row = QHBoxLayout()
        notes_row.setContentsMargins(10, 0, 10, 0)
        notes_row.addWidget(self.notes)
        lay.addLayout(notes_row)
        lay.addWidget(self.stack, 1)
        lay.addLayout(progress_row)
        lay.addWidget(self.results)
        self.setCentralWidget(central)

        self.parameters = ParametersPanel(session)
        self.params_dock = self._dock("Parameters", self.parameters, Qt.DockWidgetArea.LeftDockWidgetArea)
        self.queue_panel = QueuePanel(queue)
        self.queue_panel.useSettings.connect(session.apply_spec)
        self.queue_panel.setMinimumWidth(200)
        self.queue_dock = self._dock("Queue", self.queue_panel, Qt.DockWidgetArea.RightDockWidgetArea)
        self._dock_widths = [
            self.parameters.sizeHint().width(),
            260,
        ]  # the form's own width: no field clipped
        self.resizeDocks([self.params_dock, self.queue_dock], self._dock_widths, Qt.Orientation.Horizontal)

        # wiring
        self.prompt_panel.generateClicked.connect(self.generate)
        self.prompt_panel.stopClicked.connect(self.stop)
        queue.previewChanged.connect(lambda img: self._show(img, ""))
        queue.resultReady.connect(self._on_result)
        queue.progressChanged.connect(self._on_progress)
        queue.busyChanged.connect(self.prompt_panel.stop.setEnabled)
        queue.busyChanged.connect(lambda busy: busy or self._back_to_last_result())
        queue.jobFailed.connect(self._on_failed)
        queue.noted.connect(self._on_note)
        self.result_view.imageDropped.connect(self._dropped)
        self.input_view.imageDropped.connect(self._dropped)
        self.input_view.maskChanged.connect(session.set_mask)
        session.changed.connect(self._on_field)
        session.modelsChanged.connect(self._update_placeholder)
        self._on_field("init_image")
        self._update_placeholder()
        self._update_tools()

    # -- building ---------------------------------------------------------------------------------------------
    def _view_switcher(self) -> None:
        """Result or Input: which picture the canvas shows."""
        self.show_result = _segment("Result", "The live preview and the latest result")
        self.show_input = _segment("Input", "The init image; paint on it to inpaint")
        group = QButtonGroup(self)
        group.setExclusive(True)
        group.addButton(self.show_result)
        group.addButton(self.show_input)
        self.show_result.setChecked(True)
        self.show_result.toggled.connect(lambda on: on and self.stack.setCurrentWidget(self.result_view))
        self.show_input.toggled.connect(lambda on: on and self.stack.setCurrentWidget(self.input_view))
        self.stack.currentChanged.connect(self._update_tools)

    def _result_actions(self) -> None:
        """What can be done with the result in view."""
        self.use_as_init = _action_button(
            "image", "Use as input", "Start from this result: image to image, or paint a mask to inpaint"
        )
        self.use_as_init.clicked.connect(self._use_result_as_init)
        self.use_settings = _action_button(
            "use", "Use these settings", "Fill the prompt and every parameter from this result, seed included"
        )
        self.use_settings.clicked.connect(self._use_result_settings)
        self.variations = _action_button(
            "dice",
            "Make variations",
            "Four pictures near this result: its recipe with new variation seeds (0.25)",
        )
        self.steps = _action_button(
            "generate", "Steps", "How this result was made, step by step (its filmstrip)"
        )
        self.steps.clicked.connect(self._show_steps)
        self.words = _action_button("brush", "Words", "Where each word of the prompt acts in this result")
        self.words.clicked.connect(lambda: self.result_view.path() and self.attentionRequested.emit(
            self.result_view.path()))  # fmt: skip
        self.describe = _action_button(
            "writer", "Describe", "A captioner describes this result: a prompt to edit"
        )
        self.describe.clicked.connect(lambda: self.result_view.path() and self.describeRequested.emit(
            self.result_view.path()))  # fmt: skip
        self.variations.clicked.connect(lambda: self.result_view.path() and self.variationsRequested.emit(
            self.result_view.path()))  # fmt: skip

    def _input_tools_row(self) -> None:
        """The mask's brush, eraser, size and clear."""
        self.brush = QToolButton()
        self.brush.setIcon(icon("brush"))
        self.brush.setToolTip("Brush: paint the area to repaint")
        self.eraser = QToolButton()
        self.eraser.setIcon(icon("eraser"))
        self.eraser.setToolTip("Eraser: unpaint the mask")
        tools = QButtonGroup(self)
        for b in (self.brush, self.eraser):
            b.setCheckable(True)
            b.setAutoRaise(True)
            tools.addButton(b)
        self.brush.setChecked(True)
        self.eraser.toggled.connect(lambda on: setattr(self.input_view, "erasing", on))
        self.brush_size = QSlider(Qt.Orientation.Horizontal)
        self.brush_size.setRange(1, 256)
        self.brush_size.setValue(self.input_view.brush_size)
        self.brush_size.setFixedWidth(110)
        self.brush_size.setToolTip("Brush size (image pixels)")
        self.brush_size.valueChanged.connect(lambda v: setattr(self.input_view, "brush_size", v))
        self.clear_mask = QToolButton()
        self.clear_mask.setIcon(icon("clear"))
        self.clear_mask.setToolTip("Clear the mask (back to image to image)")
        self.clear_mask.setAutoRaise(True)
        self.clear_mask.clicked.connect(lambda: self.input_view.clear_mask())

    def _toolbar(self) -> QHBoxLayout:
        """The view switcher, then the result's actions or the input's tools."""
        toolbar = QHBoxLayout()
        toolbar.setContentsMargins(10, 0, 10, 0)
        toolbar.addWidget(self.show_result)
        toolbar.addWidget(self.show_input)
        toolbar.addSpacing(12)
        self._result_tools = [self.use_as_init, self.use_settings, self.variations, self.steps, self.words,
                              self.describe]  # fmt: skip
        self._input_tools = [self.brush, self.eraser, self.brush_size, self.clear_mask]
        for w in self._result_tools + self._input_tools:
            toolbar.addWidget(w)
        toolbar.addStretch(1)
        return toolbar

    def _message_rows(self) -> tuple[QHBoxLayout, QHBoxLayout]:
        """The banner (a failure, with its details), the last job's notes, and the jobs left over from the last
        session (offered back, never run without asking)."""
        self.banner = QLabel()
        self.banner.setObjectName("banner")
        self.banner.setWordWrap(True)
        self.banner.hide()
        self.details = QPushButton("Details")
        self.details.hide()
        self.details.clicked.connect(self._show_details)
        self._details_text = ""
        self.notes = QLabel()  # what the last job wants said (a prompt read differently, a field not used)
        self.notes.setProperty("role", "hint")
        self.notes.setWordWrap(True)
        self.notes.hide()
        banner_row = QHBoxLayout()
        banner_row.setContentsMargins(10, 0, 10, 0)
        banner_row.addWidget(self.banner, 1)
        banner_row.addWidget(self.details)
        # Jobs left waiting when Studio last closed: offered back, never run without asking.
        self.left_over_label = QLabel()
        self.left_over_label.setObjectName("notice")
        self.left_over_run = QPushButton("Queue them again")
        self.left_over_drop = QPushButton("Discard")
        self.left_over_run.clicked.connect(self._requeue_left_over)
        self.left_over_drop.clicked.connect(self._discard_left_over)
        left_row = QHBoxLayout()
        left_row.setContentsMargins(10, 0, 10, 0)
        left_row.addWidget(self.left_over_label, 1)
        left_row.addWidget(self.left_over_run)
        left_row.addWidget(self.left_over_drop)
        self._left_over_widgets = [self.left_over_label, self.left_over_run, self.left_over_drop]
        for w in self._left_over_widgets:
            w.hide()
        return banner_row, left_row

    def _progress_row(self) -> QHBoxLayout:
        """The job's progress bar and its words (elided: a long line never widens the window)."""
        self.progress = QProgressBar()
        self.progress.setRange(0, 1000)
        self.progress.setTextVisible(False)
        self.progress_label = ElidedLabel("Ready")  # a long progress line never widens the window
        self.progress_label.setProperty("role", "hint")
        progress_row = QHBoxLayout()
        progress_row.setContentsMargins(10, 0, 10, 0)
        progress_row.addWidget(self.progress, 1)
        progress_row.addWidget(self.progress_label)
        return progress_row

    def _results_strip(self) -> None:
        """This session's results as thumbnails."""
        self.results = QListWidget()
        self.results.setViewMode(QListWidget.ViewMode.IconMode)
        self.results.setFlow(QListWidget.Flow.LeftToRight)
        self.results.setWrapping(False)
        self.results.setIconSize(QSize(72, 72))
        self.results.setGridSize(QSize(80, 80))  # no text under the thumbnails: no empty band either
        self.results.setMovement(QListWidget.Movement.Static)
        # the picture in view framed, not tinted
        self.results.setStyleSheet(
            "QListWidget::item { border: 2px solid transparent; border-radius: 3px; }"
            "QListWidget::item:selected { background: transparent; border: 2px solid palette(highlight); }"
        )
        # the thumbnails, their margins and a scroll bar below them: nothing clipped
        self.results.setFixedHeight(80 + 8 + self.results.horizontalScrollBar().sizeHint().height())
        self.results.setToolTip("This session's results: click one to show it")
        self.results.itemClicked.connect(self._show_result_item)
        self.results.hide()
        self.prompt_panel.setMaximumHeight(200)

    # -- small windows --------------------------------------------------------------------------------------------
    WIDE_WIDTH = 1300  # from here: the parameters get the width their form needs
    STACKED_WIDTH = 1100  # below: the queue is a tab beside the parameters instead of a column of its own

    def resizeEvent(self, event: Any) -> None:  # noqa: N802 (Qt's name)
        super().resizeEvent(event)
        self.fit_width(self.width())

    def showEvent(self, event: Any) -> None:  # noqa: N802 (Qt's name)
        super().showEvent(event)
        self.fit_width(self.width())

    def eventFilter(self, watched: Any, event: Any) -> bool:  # noqa: N802 (Qt's name)
        if watched is self.actions_row and event.type() == QEvent.Type.Resize:
            self._fit_actions()
        return super().eventFilter(watched, event)

    def _fit_actions(self) -> None:
        """The result actions show their words when the row has room for them all, else their icons only (their
        tooltips say what they do) — measured on the row itself, whatever the docks beside it take."""
        texts = [b for b in self._result_tools if isinstance(b, QToolButton)]
        layout = self.actions_row.widget().layout()
        if texts and texts[0].toolButtonStyle() == Qt.ToolButtonStyle.ToolButtonTextBesideIcon and layout:
            layout.invalidate()  # measured now, not the size cached before the buttons last changed style
            self._actions_full = layout.sizeHint().width()  # what the words need (fonts and themes differ)
        compact = self.actions_row.width() < self._actions_full
        style = (
            Qt.ToolButtonStyle.ToolButtonIconOnly if compact else Qt.ToolButtonStyle.ToolButtonTextBesideIcon
        )
        for b in texts:
            if b.toolButtonStyle() != style:
                b.setToolButtonStyle(style)

    def _widen_parameters(self) -> None:
        """Side by side with room to spare, the parameters get the width their form needs (none clipped)."""
        if self.params_dock.width() < self._dock_widths[0]:
            self.resizeDocks(
                [self.params_dock, self.queue_dock], self._dock_widths, Qt.Orientation.Horizontal
            )

    def fit_width(self, width: int) -> None:
        stacked = width < self.STACKED_WIDTH
        if stacked and not self.tabifiedDockWidgets(self.params_dock):
            self.tabifyDockWidget(self.params_dock, self.queue_dock)
            self.params_dock.raise_()
        elif not stacked and self.tabifiedDockWidgets(self.params_dock):
            self.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, self.queue_dock)
        if not stacked and width >= self.WIDE_WIDTH:
            self._widen_parameters()

    def _dock(self, title: str, widget: QWidget, area: Qt.DockWidgetArea) -> QDockWidget:
        dock = QDockWidget(title, self)
        dock.setObjectName(f"dock-{title.lower()}")
        dock.setWidget(widget)
        dock.setFeatures(
            QDockWidget.DockWidgetFeature.DockWidgetMovable
            | QDockWidget.DockWidgetFeature.DockWidgetFloatable
        )
        self.addDockWidget(area, dock)
        return dock

    # -- commands --------------------------------------------------------------------------------------------
    def generate(self) -> None:
        self._hide_banner()
        self.notes.hide()
        self.notes.clear()
        if self.session.generate() is not None:
            self.show_result.setChecked(True)

    def stop(self) -> None:
        """The Image room's running job (not the Writer's, not a training run)."""
        from studio.core.jobs.rooms import Room
        from studio.ui.common.job_stop import confirm_stop

        if confirm_stop(self, self.queue.running_in(Room.IMAGE)):
            self.queue.cancel_running(Room.IMAGE)

    def offer_left_over(self, specs: list) -> None:
        self.queue.hold(specs)
        n = len(specs)
        self.left_over_label.setText(
            f"{n} job{'s were' if n != 1 else ' was'} still waiting when Studio last closed."
        )
        for w in self._left_over_widgets:
            w.show()

    def _requeue_left_over(self) -> None:
        self.queue.release_held()
        for w in self._left_over_widgets:
            w.hide()

    def _discard_left_over(self) -> None:
        self.queue.drop_held()
        for w in self._left_over_widgets:
            w.hide()

    # -- reactions -------------------------------------------------------------------------------------------
    def _show(self, image: QImage, path: str) -> None:
        self.result_view.set_image(image, path)
        self._update_tools()

    def _back_to_last_result(self) -> None:
        """The queue stopped with a half-made preview in view (Stop): the last finished picture comes back."""
        if self.result_view.path():
            return
        if self._last_result is None:  # nothing finished yet: the empty canvas, not a half-made picture
            self.result_view.set_image(QImage())
            self._update_tools()
            return
        self._show(*self._last_result)

    def _on_result(self, image: QImage, path: str) -> None:
        self._last_result = (image, path)
        self._show(image, path)
        thumb = QPixmap.fromImage(
            image.scaled(
                144, 144, Qt.AspectRatioMode.KeepAspectRatio, Qt.TransformationMode.SmoothTransformation
            )
        )
        item = QListWidgetItem(picture_icon(thumb), "")  # the highlight is the frame, not a tint
        item.setData(Qt.ItemDataRole.UserRole, path)
        item.setToolTip(path)
        self.results.insertItem(0, item)
        self.results.setCurrentRow(0)  # the strip's highlight follows the picture in view
        self.results.show()

    def _show_result_item(self, item: QListWidgetItem) -> None:
        path = item.data(Qt.ItemDataRole.UserRole)
        self._show(QImage(path), path)
        self.show_result.setChecked(True)

    def _on_progress(self, fraction: float, text: str) -> None:
        self.progress.setValue(int(fraction * 1000))
        self.progress_label.set_full_text(text)

    def _show_steps(self) -> None:
        from studio.ui.image.filmstrip_dialog import FilmstripDialog

        path = self.result_view.path()
        if not path:
            return
        dialog = FilmstripDialog(path, self)
        if dialog.exec() and dialog.remake:
            self.filmstripRequested.emit(path)

    def _on_note(self, text: str) -> None:
        lines = [ln for ln in self.notes.text().split("\n") if ln][-3:] if self.notes.isVisible() else []
        if text not in lines:
            lines.append(text)
        self.notes.setText("\n".join(lines[-4:]))
        self.notes.show()

    def _on_failed(self, message: str, details: str, field: str) -> None:
        self.banner.setText(message)
        self.banner.show()
        self._details_text = details
        self.details.setVisible(bool(details))
        if field:
            self.session.report_error(field, message)

    def _hide_banner(self) -> None:
        self.banner.hide()
        self.details.hide()

    def _show_details(self) -> None:
        box = QMessageBox(QMessageBox.Icon.Warning, "What went wrong", self.banner.text(), parent=self)
        box.setDetailedText(self._details_text)
        box.exec()

    def _dropped(self, path: str) -> None:
        if self.session.set_init_image(path):
            self.show_input.setChecked(True)

    def _use_result_as_init(self) -> None:
        path = self.result_view.path()  # the result links back to the picture it was made from
        if path and self.session.set_init_image(path, parent=path):
            self.show_input.setChecked(True)

    def _use_result_settings(self) -> None:
        from PIL import Image

        from studio.core.image.image_metadata import spec_of_image

        path = self.result_view.path()
        if not path:
            return
        with Image.open(path) as im:
            spec = spec_of_image(im)
        if spec is not None:
            self.session.apply_spec(spec)

    def _on_field(self, name: str) -> None:
        if name == "init_image":
            path = self.session.value("init_image")
            image = QImage(path) if path else QImage()
            self.input_view.set_image(image, path or "")
            if not image.isNull():
                self._fit_brush(image.width(), image.height())
        elif name == "mask" and not self.session.value("mask"):
            self.input_view.clear_mask(emit=False)
        if name == "model":
            self._update_placeholder()

    def _fit_brush(self, width: int, height: int) -> None:
        """The brush sized to the picture: from 1 px to half its shorter side, a tenth of it to start with (a
        64 px picture gets a 6 px brush, not half its width)."""
        side = max(2, min(width, height))
        self.brush_size.setRange(1, max(2, side // 2))
        self.brush_size.setValue(max(1, side // 10))

    def _update_placeholder(self) -> None:
        has_model = bool(self.session.value("model")) or bool(self.session.library.model_choices())
        if not has_model:
            text = NO_MODEL.format(dir=self._models_dir)
        elif self.session.using_builtin:
            text = BUILTIN.format(dir=self._models_dir)
        else:
            text = EMPTY_RESULT
        self.result_view.set_placeholder(text)

    def _update_tools(self, *_: object) -> None:
        on_result = self.stack.currentWidget() is self.result_view
        for w in self._result_tools:
            w.setVisible(on_result)
            w.setEnabled(bool(self.result_view.path()))
        for w in self._input_tools:
            w.setVisible(not on_result)
