"""The main window: one tab per room (Image, Gallery, Writer, Fine-tune, Models), menus and shortcuts."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QByteArray, Qt, QTimer, QUrl, Signal
from PySide6.QtGui import QAction, QActionGroup, QCloseEvent, QDesktopServices, QKeySequence, QShortcut
from PySide6.QtWidgets import QDialog, QLayout, QMainWindow, QMessageBox, QTabWidget, QVBoxLayout, QWidget

from studio import __version__
from studio.core.jobs.rooms import Room
from studio.ui.canvas.canvas_page import CanvasPage
from studio.ui.common.job_stop import ask_quit, confirm_stop, may_close
from studio.ui.common.notice_bar import NoticeBar
from studio.ui.common.theme import app_icon, icon
from studio.ui.gallery.gallery_page import GalleryPage
from studio.ui.image.image_page import ImagePage
from studio.ui.models.models_page import ModelsPage
from studio.ui.shell import shortcuts
from studio.ui.shell.explain_actions import ExplainActions
from studio.ui.shell.queue_dialog import QueueButton
from studio.ui.text.writer_page import WriterPage
from studio.ui.train.finetune_page import FinetunePage
from studio.viewmodels.gallery_model import GalleryModel
from studio.viewmodels.generation_session import GenerationSession
from studio.viewmodels.job_queue import JobQueue
from studio.viewmodels.prompt_helper import PromptHelper

MIN_SIZE = (720, 500)  # the window can always be made this small (each room folds itself to fit)


class MainWindow(QMainWindow):
    themeRequested = Signal(str)
    welcomeRequested = Signal()

    def __init__(
        self,
        session: GenerationSession,
        queue: JobQueue,
        gallery: GalleryModel,
        writer: WriterPage,
        models: ModelsPage,
        *,
        home: Path,
        models_dir: Path,
        theme: str = "system",
        finetune: FinetunePage | None = None,
        helper: PromptHelper | None = None,
        canvas: CanvasPage,
    ):
        super().__init__()
        self.setWindowTitle("Studio")
        self.setWindowIcon(app_icon())
        self.session, self.queue = session, queue
        self.home = home
        self.image_page = ImagePage(session, queue, models_dir)
        self.tabs = QTabWidget()
        self.tabs.setObjectName("pages")
        self.tabs.setDocumentMode(True)
        self.tabs.addTab(self.image_page, icon("paint"), "Image")
        self.canvas_page = canvas
        self.tabs.addTab(canvas, icon("canvas"), "Canvas")
        self.gallery_page = GalleryPage(gallery)
        self.gallery_page.useSettings.connect(self._use_settings)
        self.gallery_page.useAsInit.connect(self._use_as_init)
        self.gallery_page.upscaleRequested.connect(self.upscale)
        self.gallery_page.useAsGuide.connect(self._use_as_guide)
        self.gallery_page.variationsRequested.connect(self.make_variations)
        self.image_page.variationsRequested.connect(self.make_variations)
        self.helper = helper
        if helper is not None:
            helper.proposed.connect(self._propose)
            helper.failed.connect(lambda why: self.statusBar().showMessage(why, 10000))
            helper.busyChanged.connect(lambda on: self.image_page.prompt_panel.enhance.setEnabled(not on))
        self.image_page.prompt_panel.enhanceClicked.connect(self.enhance_prompt)
        self.gallery_page.describeRequested.connect(self.describe)
        self.image_page.describeRequested.connect(self.describe)
        self.explain = ExplainActions(self)  # Words and Steps: a picture made again to be explained
        self.image_page.filmstripRequested.connect(self.explain.remake_with_filmstrip)
        self.image_page.attentionRequested.connect(self.explain.word_attention)
        self.tabs.addTab(self.gallery_page, icon("gallery"), "Gallery")
        self.writer_page = writer
        writer.illustrateRequested.connect(self._illustrate)
        self.tabs.addTab(writer, icon("writer"), "Writer")
        self.finetune_page = finetune
        if finetune is not None:
            finetune.useLora.connect(self._use_trained_lora)
            self.tabs.addTab(finetune, icon("finetune"), "Fine-tune")
        self.models_page = models
        models.useImageModel.connect(self._use_image_model)
        models.useLora.connect(self._use_lora)
        models.useTextModel.connect(self._use_text_model)
        models.useServerModel.connect(self._use_server_model)
        models.useComfyModel.connect(self._use_comfy_model)
        self.tabs.addTab(models, icon("models"), "Models")
        self.notices = NoticeBar()
        central = QWidget()
        column = QVBoxLayout(central)
        column.setContentsMargins(0, 0, 0, 0)
        column.setSpacing(4)
        column.addWidget(self.notices)
        column.addWidget(self.tabs, 1)
        self.setCentralWidget(central)
        # The window's smallest size is a fixed one that fits a laptop's 800×560, not the sum of whatever its
        # widgets ask for at the moment (a long progress line, the wide layout before a room folds for a small
        # window): each room adapts to the room it is given.
        self.layout().setSizeConstraint(QLayout.SizeConstraint.SetNoConstraint)
        self.setMinimumSize(*MIN_SIZE)
        self.statusBar().showMessage("Ready")
        self.queue_button = QueueButton(  # the queue, from every room
            queue, lambda spec: (session.apply_spec(spec), self.tabs.setCurrentWidget(self.image_page))
        )
        self.statusBar().addPermanentWidget(self.queue_button)
        queue.statusChanged.connect(self._room_status)

        for keys in (shortcuts.GENERATE.keys, shortcuts.GENERATE_ENTER.keys):
            QShortcut(QKeySequence(keys), self, self._generate, context=Qt.ShortcutContext.WindowShortcut)
        # Esc stops the job of the room it is pressed in, and only there: in the Gallery or the Models room it is
        # the search box's (or the dialog's) Esc, never a Stop
        rooms: list[tuple[QWidget, Room]] = [(self.image_page, Room.IMAGE), (writer, Room.WRITER)]
        if finetune is not None:
            rooms.append((finetune, Room.FINETUNE))
        for page, room in rooms:
            QShortcut(QKeySequence(shortcuts.STOP.keys), page, lambda r=room: self.stop_room(r),
                      context=Qt.ShortcutContext.WidgetWithChildrenShortcut)  # fmt: skip
        self._menus(theme)

    def _use_trained_lora(self, path: str, words: str) -> None:
        """A fresh LoRA: the Image panel set up to try it alone — its trigger words as the prompt, the LoRA at 0.8, no
        LoRA or prompt left over from elsewhere (the model it was trained on is the Fine-tune room's base)."""
        self.session.set("loras", [])
        self.session.add_lora(path, 0.8)
        self.session.set("prompt", f"a photo of {words}" if words else "")
        self.tabs.setCurrentWidget(self.image_page)
        self.statusBar().showMessage("Your LoRA is in the Image panel at 0.8 (alone), its trigger words as the "
                                     "prompt.", 6000)  # fmt: skip

    def _use_settings(self, fields: dict) -> None:
        self.session.apply_fields(fields)
        self.tabs.setCurrentWidget(self.image_page)
        self.statusBar().showMessage("The recipe is in the Image panel, seed included.", 5000)

    def _use_image_model(self, path: str) -> None:
        self.session.choose_model(path)
        self.tabs.setCurrentWidget(self.image_page)

    def _use_lora(self, path: str) -> None:
        self.session.add_lora(path)
        self.tabs.setCurrentWidget(self.image_page)
        self.statusBar().showMessage("The LoRA is in the Image panel's list.", 5000)

    def _use_text_model(self, path: str) -> None:
        self.writer_page.use_model(path)
        self.tabs.setCurrentWidget(self.writer_page)

    def _use_server_model(self, url: str, model: str) -> None:
        self.writer_page.use_server_model(url, model)
        self.tabs.setCurrentWidget(self.writer_page)

    def _use_comfy_model(self, server: str, checkpoint: str) -> None:
        """Make pictures with a ComfyUI server's checkpoint, there."""
        self.session.set("backend", server)
        self.session.set("model", checkpoint)
        self.tabs.setCurrentWidget(self.image_page)

    def _illustrate(self, passage: str) -> None:
        """The Writer's *Illustrate*: the Writer's model turns the passage into a prompt (proposed, to edit)."""
        if self.helper is not None and self.helper.expand(
            passage, self.session.library.model_family(), "illustrate"
        ):
            self.statusBar().showMessage("Writing a prompt for the passage…", 6000)
            return
        self.session.set("prompt", passage)
        self.tabs.setCurrentWidget(self.image_page)

    def enhance_prompt(self) -> str | None:
        """*Enhance*: the prompt, as a short idea, written out in detail by the Writer's model."""
        if self.helper is None:
            return None
        job = self.helper.expand(self.session.value("prompt"), self.session.library.model_family(), "enhance")
        if job:
            self.statusBar().showMessage("The Writer's model is writing a detailed prompt…", 6000)
        return job

    def describe(self, path: str) -> str | None:
        """*Describe this image*: a captioner's description, proposed as a prompt."""
        if self.helper is None:
            return None
        job = self.helper.describe(path)
        if job:
            self.statusBar().showMessage(f"Describing {Path(path).name}…", 6000)
        return job

    def _propose(self, source: str, proposal: str, why: str) -> None:
        from studio.ui.image.prompt_proposal import PromptProposalDialog

        dialog = PromptProposalDialog(source, proposal, why, self)
        if dialog.exec() and dialog.text():
            self.session.set("prompt", dialog.text())
            self.session.set("idea", source if why != "describe" else "")
            self.tabs.setCurrentWidget(self.image_page)
            self.statusBar().showMessage("The prompt is in the Image panel.", 5000)

    def upscale(self, path: str) -> str | None:
        """*Upscale…*: the dialog, then the job in the queue. Returns its id (None: cancelled)."""
        from studio.ui.image.upscale_dialog import UpscaleDialog

        dialog = UpscaleDialog(self.session, path, self)
        self.upscale_dialog = dialog
        dialog.exec()
        return dialog.job

    def make_variations(self, path: str, count: int = 4) -> str | None:
        """Four pictures near this one (its recipe, fresh variation seeds at strength 0.25), queued."""
        done = self.session.jobs.make_variations(path, count)
        if isinstance(done, dict):
            self.statusBar().showMessage("No variations: " + " ".join(done.values()), 8000)
            return None
        self.statusBar().showMessage(f"{count} variations of {Path(path).name} are queued.", 5000)
        return done

    def plot(self) -> str | None:
        """*X/Y/Z plot…*: the dialog, then the plot in the queue."""
        from studio.ui.image.plot_dialog import PlotDialog

        dialog = PlotDialog(self.session, self)
        if dialog.exec() and dialog.job:
            self.statusBar().showMessage(
                "The plot is queued: its cells, then the grid, appear in the gallery.", 6000
            )
            self.tabs.setCurrentWidget(self.image_page)
        return dialog.job

    def _use_as_guide(self, path: str, kind: str) -> None:
        if kind == "controls":
            self.session.guidance.add_control(path)
        else:
            self.session.guidance.add_reference(path)
        self.tabs.setCurrentWidget(self.image_page)

    def _use_as_init(self, path: str, rel: str) -> None:
        if self.session.set_init_image(path, parent=rel):
            self.tabs.setCurrentWidget(self.image_page)

    def _menus(self, theme: str) -> None:
        file = self.menuBar().addMenu("&File")
        file.addAction(icon("folder"), "Open model folder…", self.image_page.parameters._open_model_folder)
        file.addAction(icon("file"), "Open checkpoint file…", self.image_page.parameters._open_model_file)
        file.addAction(icon("image"), "Open init image…", self.image_page.parameters._choose_init)
        file.addSeparator()
        file.addAction(
            "Show data folder", lambda: QDesktopServices.openUrl(QUrl.fromLocalFile(str(self.home)))
        )
        file.addSeparator()
        file.addAction("Settings…", self.open_settings).setShortcut(QKeySequence(shortcuts.SETTINGS.keys))
        file.addSeparator()
        quit_action = file.addAction("Quit", self.close)
        quit_action.setShortcut(QKeySequence(shortcuts.QUIT.keys))

        gen = self.menuBar().addMenu("&Generate")
        a = gen.addAction(icon("generate"), "Generate", self._generate)
        a.setShortcut(QKeySequence("Ctrl+Return"))
        a.setShortcutContext(Qt.ShortcutContext.WidgetShortcut)  # the window-wide shortcut does the work
        s = gen.addAction(icon("stop"), "Stop", lambda: self.stop_room(Room.IMAGE))
        s.setShortcut(QKeySequence(Qt.Key.Key_Escape))
        s.setShortcutContext(Qt.ShortcutContext.WidgetShortcut)
        gen.addAction(icon("generate"), "X/Y/Z plot…", self.plot)
        gen.addAction(icon("dice"), "Random seed", self.session.randomize_seed)
        gen.addAction(icon("recycle"), "Reuse last seed", self.session.reuse_last_seed)

        view = self.menuBar().addMenu("&View")
        view.addAction(self.image_page.params_dock.toggleViewAction())
        view.addAction(self.image_page.queue_dock.toggleViewAction())
        queue_view = view.addAction(
            icon("queue"), "Queue of every room…", lambda: self.queue_button.open_view()
        )
        queue_view.setShortcut(QKeySequence(shortcuts.QUEUE.keys))
        themes = view.addMenu("Theme")
        group = QActionGroup(self)
        for name in ("system", "light", "dark"):
            act = QAction(name.capitalize(), self, checkable=True)
            act.setChecked(name == theme)
            act.triggered.connect(lambda _=False, n=name: self.themeRequested.emit(n))
            group.addAction(act)
            themes.addAction(act)

        help_menu = self.menuBar().addMenu("&Help")
        help_menu.addAction("Welcome…", self.welcomeRequested.emit)
        help_menu.addAction("Keyboard shortcuts", self.show_shortcuts).setShortcut(
            QKeySequence(shortcuts.HELP.keys)
        )
        help_menu.addAction("About Studio", self._about)

    def _generate(self) -> None:
        """Ctrl+Return: Continue in the Writer, a sound in the Sound room, a picture everywhere else."""
        if (page := self.tabs.currentWidget()) is self.writer_page:
            return self.writer_page.continue_at_cursor()
        if getattr(page, "room", None) is Room.SOUND:
            return page.generate()  # type: ignore[attr-defined]  # the Sound room's page
        self.tabs.setCurrentWidget(self.image_page)
        self.image_page.generate()

    def current_room(self) -> Room:
        page = self.tabs.currentWidget()
        pages = {self.image_page: Room.IMAGE, self.gallery_page: Room.GALLERY, self.writer_page: Room.WRITER,
                 self.finetune_page: Room.FINETUNE, self.models_page: Room.MODELS}  # fmt: skip
        return pages.get(page, getattr(page, "room", Room.IMAGE))

    def stop_room(self, room: Room) -> bool:
        """Stop ``room``'s running job (Esc, or its Stop button) — asked first when it has run over a minute, since
        a long batch or a training run is not started again in a moment."""
        if not confirm_stop(self, self.queue.running_in(room)):
            return False
        if room is Room.WRITER:
            self.writer_page.session.stop()
        return self.queue.cancel_running(room) or room is Room.WRITER

    def _room_status(self, room: str, text: str) -> None:
        here = room == self.current_room().value
        self.statusBar().showMessage(text if here else f"{room}: {text}", 0 if here else 8000)

    def open_settings(self) -> QDialog:
        """*Settings*: device, precision and memory, theme, folders, servers — in one place."""
        from studio.ui.shell.window_dialogs import open_settings

        self.settings_dialog = open_settings(self)
        return self.settings_dialog

    def show_shortcuts(self) -> QDialog:
        self.shortcuts_dialog = shortcuts.ShortcutsDialog(self)
        self.shortcuts_dialog.open()
        return self.shortcuts_dialog

    def _about(self) -> None:
        QMessageBox.about(
            self,
            "About Studio",
            f"<b>Studio {__version__}</b><p>Local generative AI: images, "
            "writing and fine-tuning on your own machine, offline.</p>",
        )

    # -- state ---------------------------------------------------------------------------------------------
    def save_state(self) -> dict[str, str]:
        return {
            "geometry": bytes(self.saveGeometry().toBase64()).decode(),
            "image_page": bytes(self.image_page.saveState().toBase64()).decode(),
            "tab": str(self.tabs.currentIndex()),
        }

    def restore_state(self, state: dict[str, str]) -> None:
        if state.get("geometry"):
            self.restoreGeometry(QByteArray.fromBase64(state["geometry"].encode()))
        if state.get("image_page"):
            self.image_page.restoreState(QByteArray.fromBase64(state["image_page"].encode()))
        tab = state.get("tab", "")
        if tab.isdigit() and len(tab) < 4:
            self.tabs.setCurrentIndex(int(tab))

    closing = Signal()
    quit_question = staticmethod(ask_quit)  # (window, running rows, waiting count) → a QUIT_ word
    quit_when_idle: QTimer | None = (
        None  # "Finish, then quit" was chosen: closes the window once nothing runs
    )

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802
        """Quit — asked first when jobs are under way (finish them, keep the waiting ones, or stop)."""
        if not may_close(self, self.queue):
            event.ignore()
            return
        self.writer_page.save()
        self.closing.emit()
        super().closeEvent(event)
