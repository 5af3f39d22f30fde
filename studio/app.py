"""The GUI composition root: the runtime from ``build_runtime``, plus the bridge, view-models and window."""

from __future__ import annotations

import argparse
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from PySide6.QtCore import QObject, QTimer
from PySide6.QtWidgets import QApplication

from studio.core.image.queue_store import QueueStore
from studio.core.image.styles import StyleBook
from studio.core.jobs.errors import StudioError
from studio.core.jobs.events import ItemSaved
from studio.core.models.builtin_models import builtin_image_models, builtin_text_models
from studio.core.models.model_library import model_folders
from studio.core.text.writer_docs import DocumentStore
from studio.runtime import Runtime, build_runtime
from studio.ui.canvas.canvas_page import CanvasPage
from studio.ui.common.theme import app_icon, apply_theme, icon
from studio.ui.models.models_page import ModelsPage
from studio.ui.shell.main_window import MainWindow
from studio.ui.shell.welcome import WelcomePanel
from studio.ui.sound.sound_page import SoundPage
from studio.ui.text.read_aloud_bar import attach as attach_read_aloud
from studio.ui.text.writer_page import WriterPage
from studio.ui.train.finetune_page import FinetunePage
from studio.viewmodels.background import in_background
from studio.viewmodels.blind_compare import BlindComparison
from studio.viewmodels.bridge import EventBridge
from studio.viewmodels.canvas_session import CanvasSession
from studio.viewmodels.gallery_model import GalleryModel
from studio.viewmodels.generation_session import GenerationSession
from studio.viewmodels.job_queue import JobQueue
from studio.viewmodels.model_library_model import ModelLibraryModel
from studio.viewmodels.prompt_helper import PromptHelper
from studio.viewmodels.read_aloud import ReadAloud
from studio.viewmodels.server_book import ServerBook
from studio.viewmodels.sound_session import SoundSession
from studio.viewmodels.text_explain import TextExplainer
from studio.viewmodels.text_train_session import TextTrainSession
from studio.viewmodels.thumbnails import ThumbnailCache
from studio.viewmodels.train_session import TrainSession
from studio.viewmodels.writer_session import WriterSession


@dataclass
class StudioWindow:
    runtime: Runtime
    bridge: EventBridge
    queue: JobQueue
    session: GenerationSession
    window: MainWindow
    gallery: GalleryModel
    writer: WriterSession
    welcome: WelcomePanel | None = None

    def save(self) -> None:
        s = self.runtime.settings
        s.image_params = self.session.remembered()
        s.recent_models = list(self.session.recent_models)
        s.image_model = self.session.value("model")
        s.window = self.window.save_state()
        s.writer_params = self.writer.remembered()
        s.model_folders = list(self.window.models_page.model.extra_folders)
        s.text_model = self.writer.value("model")
        self.runtime.save_settings()

    def show_welcome(self) -> WelcomePanel:
        """The welcome beside the window (never modal); shown by itself on the first start only."""
        if self.welcome is not None:  # already open: bring it forward rather than open a second one
            self.welcome.raise_()
            self.welcome.activateWindow()
            return self.welcome
        paths, library = self.runtime.paths, self.window.models_page.model

        def models() -> list[str]:
            demos = [m.label for m in (*builtin_image_models(), *builtin_text_models())]
            own = list(
                dict.fromkeys(
                    e.name
                    for e in library.entries
                    if e.name not in demos and e.kind in ("checkpoint", "text", "lora", "captioner")
                )
            )
            return demos + own[:8] + ([f"and {len(own) - 8} more"] if len(own) > 8 else [])

        panel = WelcomePanel(
            [
                ("Images (the Gallery)", paths.gallery_dir),
                ("Documents (the Writer)", paths.writer_dir),
                ("Models and LoRAs", paths.models_dir),
                ("Fine-tuning", paths.training_dir),
            ],
            lambda: self.runtime.device,
            models,
            paths.models_dir,
            parent=self.window,
        )
        panel.openModels.connect(lambda: self.window.tabs.setCurrentWidget(self.window.models_page))
        panel.destroyed.connect(lambda: setattr(self, "welcome", None))  # closing deletes it
        panel.show()
        self.welcome = panel
        self.runtime.settings.welcome_shown = True
        self.runtime.save_settings()
        return panel

    def shutdown(self, timeout: float = 4.0) -> bool:
        """Save, stop the running job (it ends within a step) and the runner; detach the window."""
        self.save()
        # What was waiting or running now stays written down for next time; the cancellations that
        # closing causes must not erase it.
        self.queue.stop_persisting()
        stopped = self.runtime.close(timeout)
        self.runtime.unsubscribe(self.bridge.post)
        self.gallery.thumbs.close()
        return stopped


def reconcile_in_background(runtime: Runtime, owner: QObject, then: Callable[[], None]) -> threading.Thread:
    """Bring the gallery index in step with the files (added or removed by hand) without holding up the window;
    ``then`` runs on the GUI thread when anything changed (or was repaired)."""

    def done(stats: dict[str, int]) -> None:
        if any(stats.values()) or runtime.gallery.notices:
            then()

    # an error here is a store closed at shutdown: the next start reconciles again
    return in_background(
        owner, runtime.gallery.reconcile, done, name="studio-reconcile", on_error=lambda _e: None
    )


def create_window(runtime: Runtime, welcome: bool = False) -> StudioWindow:
    """The main window over ``runtime``; ``welcome``: show the first-run welcome if it was never shown."""
    from studio.ui.common.wheel_guard import install

    install(QApplication.instance())  # the wheel scrolls panels; it edits a field only once it has focus
    bridge = EventBridge()
    runtime.subscribe(bridge.post)
    pending = QueueStore(runtime.paths.queue_file)
    left_over = pending.take_left_over()  # jobs that were waiting when Studio last closed (or crashed)
    runtime.notices += left_over.problems
    queue = JobQueue(runtime.runner, bridge, persist=pending.save)
    s = runtime.settings
    params = dict(s.image_params)
    if s.image_model and not params.get("model"):
        params["model"] = s.image_model
    session = GenerationSession(
        queue,
        runtime.paths.inputs_dir,
        model_folders(runtime.paths.models_dir, s.model_folders),
        params,
        s.recent_models,
    )
    session.vae_defaults = s.vae_defaults  # the Models room's choices, seen by the next job at once
    session.wildcards_dir = runtime.paths.wildcards_dir
    session.cards.seen = s.model_cards_seen  # fmt: skip  # the models whose card's limits the user has read (saved with these)
    session.styles = StyleBook(runtime.paths.styles_file)
    gallery = GalleryModel(
        runtime.gallery, ThumbnailCache(runtime.paths.cache_dir / "thumbnails"), semantic=runtime.semantic
    )
    writer = WriterSession(
        queue,
        bridge,
        {**s.writer_params, **({"model": s.text_model} if s.text_model else {})},
        runner=runtime.runner,
    )
    writer.sealer = runtime.sealer  # the Writer's exports carry Content Credentials, as pictures do
    writer.lora_folders = [
        runtime.paths.models_dir / "loras"
    ]  # text LoRAs: "BASE + NAME" in the Writer's picker
    servers = ServerBook(runtime.settings, runtime.keys, runtime.servers)
    # pictures made on ComfyUI servers: the saved ones are offered beside this machine, the chosen one's checkpoints
    # are asked for (off the GUI thread) and fill the model picker; a server that cannot be asked says so
    session.library.set_backends([c.name for c in servers.comfy_servers()])
    servers.changed.connect(lambda: session.library.set_backends([c.name for c in servers.comfy_servers()]))
    session.changed.connect(
        lambda n: (
            n == "backend" and session.value("backend") and servers.list_checkpoints(session.value("backend"))
        )
    )
    servers.checkpointsListed.connect(
        lambda name, found: (
            session.library.set_backend_models(name, found)
            if isinstance(found, list)
            else name == session.value("backend") and session.report_error("backend", f"{name}: {found}")
        )
    )
    if session.value("backend"):
        servers.list_checkpoints(session.value("backend"))
    explainer = TextExplainer(writer, queue, bridge, runtime.runner)
    writer_page = WriterPage(
        writer,
        DocumentStore(runtime.paths.writer_dir),
        servers=servers,
        explainer=explainer,
        blind=BlindComparison(writer, queue, bridge),
        teacher=TextTrainSession(
            queue, bridge, runtime.paths.models_dir / "loras", runtime.paths.training_dir / "runs"
        ),
    )
    library = ModelLibraryModel(runtime.paths.models_dir, s.model_folders, runtime.hashes, settings=s)
    models_page = ModelsPage(library, device=lambda: runtime.device, servers=servers)
    models_page.settingsChanged.connect(lambda _name: runtime.measure_device())
    library.scanned.connect(lambda _n: session.library.use_library(library.entries))
    trainer = TrainSession(
        queue,
        bridge,
        runtime.paths.training_dir,
        runtime.paths.models_dir / "loras",
        default_base=params.get("model", ""),
        device=lambda: runtime.device,
        request_checkpoint=runtime.trainer.request_checkpoint,
        models_of=lambda kind: [e.path for e in library.entries if e.kind == kind],
    )
    finetune = FinetunePage(trainer, session.library.model_choices())
    session.modelsChanged.connect(lambda: finetune.set_base_choices(session.library.model_choices()))
    trainer.finished.connect(lambda _done: library.rescan())
    helper = PromptHelper(
        queue,
        bridge,
        writer.recipe_values,
        captioners=trainer.captions.captioners,
    )
    window = MainWindow(
        session,
        queue,
        gallery,
        writer_page,
        models_page,
        home=runtime.paths.home,
        models_dir=runtime.paths.models_dir,
        theme=s.theme,
        finetune=finetune,
        helper=helper,
        canvas=CanvasPage(CanvasSession(session, queue, bridge, runtime.paths.canvas_recovery_dir), session),
    )
    add_sound_room(window, queue, bridge, library)
    bridge.arrived.connect(window.explain.on_job_event)  # jobs the window waits for (word maps, steps)
    QTimer.singleShot(300, library.rescan)
    studio = StudioWindow(runtime, bridge, queue, session, window, gallery, writer)
    # New results appear in the gallery (debounced: a batch of images refreshes it once).
    refresh = QTimer(window, singleShot=True, interval=300)
    refresh.timeout.connect(window.gallery_page.refresh)
    bridge.arrived.connect(lambda ui: refresh.start() if isinstance(ui.event, ItemSaved) else None)
    reconcile_in_background(
        runtime, window, lambda: (window.gallery_page.refresh(), show_notices(runtime, window))
    )
    if welcome and not runtime.settings.welcome_shown:
        QTimer.singleShot(200, studio.show_welcome)

    def change_theme(name: str) -> None:
        runtime.settings.theme = name
        apply_theme(QApplication.instance(), name)

    window.themeRequested.connect(change_theme)
    window.welcomeRequested.connect(lambda: studio.show_welcome())
    window.closing.connect(studio.shutdown)
    window.restore_state(s.window)
    if left_over.specs:
        window.image_page.offer_left_over(left_over.specs)
    show_notices(runtime, window)
    return studio


def add_sound_room(
    window: MainWindow, queue: JobQueue, bridge: EventBridge, library: ModelLibraryModel
) -> SoundPage:
    """The Sound room, after the Writer: its session offers the built-in Tones and the library's sound models
    (again after each scan); and the Writer's reading row, with the library's voices."""
    page = SoundPage(
        SoundSession(queue, bridge, lambda: [e.path for e in library.entries if e.kind == "sound"])
    )
    library.scanned.connect(lambda _n: page.refresh_models())
    window.tabs.insertTab(window.tabs.indexOf(window.writer_page) + 1, page, icon("sound"), "Sound")
    window.sound_page = page
    window.gallery_page.openSound.connect(
        lambda path: (window.tabs.setCurrentWidget(page), page.open_file(path))
    )
    voices = ReadAloud(queue, bridge, lambda: [e.path for e in library.entries if e.kind == "speech"])
    window.read_aloud = attach_read_aloud(window.writer_page, voices)
    library.scanned.connect(lambda _n: window.read_aloud.refresh())
    return page


def show_notices(runtime: Runtime, window: MainWindow) -> None:
    """What Studio repaired or could not read, told once: in the window's notice bar and on stderr."""
    notices = runtime.take_notices()
    for text in notices:
        print(f"studio: {text}", file=sys.stderr)
    window.notices.add(notices)


def smoke_test(studio: StudioWindow, started: float) -> None:
    """Generate one picture through the window's own path; print the result (or the failure) and quit."""
    app = QApplication.instance()
    outcome: list[int] = []

    def shown() -> None:
        print(
            f"window shown after {time.perf_counter() - started:.3f} s: {studio.window.windowTitle()}",
            flush=True,
        )
        wait_for_model(60)

    def wait_for_model(tries: int) -> None:  # the default model is chosen once the model folders are scanned
        if not studio.session.value("model") and tries:
            QTimer.singleShot(250, lambda: wait_for_model(tries - 1))
        elif studio.session.generate() is None:  # the recipe was refused; the reasons are in the fields
            print(f"could not generate: {studio.session.errors}", flush=True)
            finish(1)

    def finish(code: int) -> None:
        if not outcome:
            outcome.append(code)
            studio.window.close()
            app.exit(code)

    def saved(_image: object, path: str) -> None:
        print(f"image saved: {path}", flush=True)
        finish(0)

    studio.queue.resultReady.connect(saved)
    studio.queue.jobFailed.connect(lambda message, *_: (print(f"failed: {message}", flush=True), finish(1)))
    QTimer.singleShot(0, shown)
    QTimer.singleShot(600_000, lambda: (print("timed out", flush=True), finish(1)))


def main(argv: list[str] | None = None) -> int:
    started = time.perf_counter()
    parser = argparse.ArgumentParser(prog="studio")
    parser.add_argument(
        "--home", help="the data folder (default: $STUDIO_HOME or the platform's user folder)"
    )
    parser.add_argument(
        "--quit-after-show", action="store_true", help=argparse.SUPPRESS
    )  # start-up benchmark
    parser.add_argument(
        "--smoke-test",
        action="store_true",
        help="start, generate one image with the default model in the window, print where it was "
        "saved and quit (checks an installation)",
    )
    args, qt_args = parser.parse_known_args(argv)
    app = QApplication.instance() or QApplication([sys.argv[0], *qt_args])
    app.setApplicationName("Studio")
    app.setWindowIcon(app_icon())
    try:
        runtime = build_runtime(args.home)
    except StudioError as e:
        print(f"studio: {e.user_message}", file=sys.stderr)
        return 2
    apply_theme(app, runtime.settings.theme)
    studio = create_window(runtime, welcome=not (args.quit_after_show or args.smoke_test))
    studio.window.show()
    if not runtime.settings.window.get("geometry"):
        studio.window.resize(1400, 880)
    if args.quit_after_show:

        def report() -> None:
            print(
                f"window shown after {time.perf_counter() - started:.3f} s; "
                f"torch imported: {'torch' in sys.modules}",
                flush=True,
            )
            studio.window.close()

        QTimer.singleShot(0, report)
    elif args.smoke_test:
        smoke_test(studio, started)
    else:
        # Import the ML stack on the runner thread (never two threads at once: diffusers' lazy modules
        # are not safe to initialise concurrently) after the window is up, so the first job starts sooner.
        QTimer.singleShot(500, runtime.warm_up)
    return app.exec()
