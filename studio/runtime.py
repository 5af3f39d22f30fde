"""The one composition of Studio's back end, shared by the GUI and the CLI: stores, engine, runner."""

from __future__ import annotations

import hashlib
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from studio.core.gallery.gallery_store import GalleryStore
from studio.core.gallery.semantic import SemanticIndex
from studio.core.image.attention import AttentionSpec
from studio.core.image.detail_job import DetailSpec, LiveSpec
from studio.core.image.filmstrip import StepsSpec
from studio.core.image.plot import PlotSpec
from studio.core.image.selection import SegmentSpec
from studio.core.image.specs import ALL_BACKENDS, GenerateSpec, UpscaleSpec
from studio.core.image.tiled_refine import RefineUpscaleSpec
from studio.core.io.atomic import clean_stale_temps
from studio.core.io.hashing import HashCache
from studio.core.io.paths import StudioPaths, resolve_paths
from studio.core.io.settings import Settings, load_settings, save_settings
from studio.core.jobs.errors import ErrorKind, StudioError
from studio.core.jobs.events import Event
from studio.core.jobs.servers import Keys, endpoint_for, find_backend, servers_of
from studio.core.models.memory_plan import DeviceInfo
from studio.core.models.model_library import find_tiny_vae, find_vision_model
from studio.core.sound.specs import SoundSpec, SpeakSpec
from studio.core.text.text_explain import TextAttentionSpec
from studio.core.text.text_specs import ContextSpec, WriteSpec
from studio.core.train.text_train_specs import TextTrainSpec
from studio.core.train.train_specs import CaptionSpec, TrainSpec
from studio.engine.captioner import Captioner
from studio.engine.detailer import detail_job
from studio.engine.devices import choose_placement, choose_text_placement
from studio.engine.explain_jobs import attention, plot, steps
from studio.engine.image import ImageEngine
from studio.engine.live_painting import live_frame
from studio.engine.note_vectors import NoteVectors
from studio.engine.openvino_cache import cache_root as openvino_cache_root
from studio.engine.sound import SoundEngine
from studio.engine.text import TextEngine
from studio.engine.text_explain import text_attention
from studio.engine.tiled_refine import refine_upscale
from studio.engine.train_job import TrainJob
from studio.provenance.sealing import Policy, Sealer
from studio.remote.openai_text import OpenAIText
from studio.remote.servers import Servers
from studio.worker.runner import DEVICE, JobRunner

Listener = Callable[[Event], None]
# jobs that use the image engine's models: engine/explain_jobs.py, detailer.py, tiled_refine.py, live_painting.py
ENGINE_JOBS = ((PlotSpec, plot), (AttentionSpec, attention), (StepsSpec, steps), (DetailSpec, detail_job),
               (RefineUpscaleSpec, refine_upscale), (LiveSpec, live_frame))  # fmt: skip


@dataclass
class Runtime:
    paths: StudioPaths
    settings: Settings
    gallery: GalleryStore
    hashes: HashCache
    image_engine: ImageEngine
    text_engine: TextEngine
    runner: JobRunner
    trainer: TrainJob
    keys: Keys
    servers: Servers  # the saved servers and what can be asked of them: the one door to the network
    listeners: list[Listener] = field(default_factory=list)
    notices: list[str] = field(
        default_factory=list
    )  # repairs made at start, to be told once (window, stderr)
    semantic: SemanticIndex | None = None  # the prompts' meanings (search by meaning), made on first use
    device: DeviceInfo | None = None  # measured on the runner thread once torch is imported
    sound_engine: SoundEngine | None = None
    sealer: Sealer | None = None  # every saved picture's watermark and Content Credentials
    _lock: threading.RLock = field(default_factory=threading.RLock)

    def publish(self, event: Event) -> None:
        # Listeners are called under the lock, so that once ``unsubscribe`` returns the listener is never
        # called again (a closed window's bridge must not receive events from a job still winding down).
        with self._lock:
            for listener in list(self.listeners):
                listener(event)

    def subscribe(self, listener: Listener) -> None:
        with self._lock:
            self.listeners.append(listener)

    def unsubscribe(self, listener: Listener) -> None:
        with self._lock:
            if listener in self.listeners:
                self.listeners.remove(listener)

    def save_settings(self) -> None:
        save_settings(self.settings, self.paths.settings_file)

    def take_notices(self) -> list[str]:
        """What was repaired or could not be read at start (and since), each told once."""
        with self._lock:
            out = [*self.notices, *self.gallery.take_notices()]
            self.notices.clear()
        return out

    def warm_up(self) -> None:
        """Import the ML stack on the runner thread, ahead of the first job."""
        from studio.engine.pipelines import warm_up

        self.runner.call_soon(warm_up)
        self.measure_device()

    def measure_device(self) -> None:
        """Find the device and its free memory (on the runner thread, where torch lives); ``device`` holds it."""

        def measure() -> None:
            from studio.engine.devices import device_info

            self.device = device_info(self.settings.device, self.settings.dtype)

        self.runner.call_soon(measure)

    def check_model(self, path: str) -> None:
        """``StudioError`` when an image model cannot be loaded (missing, or a pickle not allowed): said before a
        job is queued."""
        from studio.engine.pipelines import check_model_path

        check_model_path(path, self.settings.allow_pickle)

    def resolve_text_model(self, path: str) -> Any:
        """The text model at ``path`` (a folder, a GGUF file, a hub name in the cache); ``StudioError`` when not."""
        from studio.engine.text import resolve_text_model

        return resolve_text_model(path)

    def close(self, timeout: float = 5.0) -> bool:
        stopped = self.runner.shutdown(timeout)
        if stopped:
            self.gallery.close()
        return stopped


def build_runtime(
    home: str | Path | None = None, *, settings: Settings | None = None, gallery_dir: Path | None = None
) -> Runtime:
    """Build the back end. ``gallery_dir`` redirects results (the CLI's ``--out``) to a plain folder.
    Raises ``StudioError`` (INVALID_INPUT) when the data folder or the output folder cannot be one."""
    from studio.core.io.pictures import lock_down

    lock_down()  # no Pillow plugin that runs a program (EPS → Ghostscript) is reachable from here on
    paths = ensure_paths(resolve_paths(home))
    # torch.compile's kernels ("maximum speed") are kept across runs, in Studio's cache
    os.environ.setdefault("TORCHINDUCTOR_CACHE_DIR", str(paths.cache_dir / "torch-compile"))
    settings = settings or load_settings(paths.settings_file)
    notices = list(settings.notices)
    clean_leftovers(paths)
    if gallery_dir:  # plain output folder: no index files beside the user's images
        out = Path(gallery_dir)
        if out.exists() and not out.is_dir():
            raise StudioError(
                ErrorKind.INVALID_INPUT, f"{out} is a file, not a folder: choose a folder for --out."
            )
        key = hashlib.sha1(str(out.resolve()).encode()).hexdigest()[:12]
        (paths.cache_dir / "outputs").mkdir(exist_ok=True)
        try:
            gallery = GalleryStore(out, paths.cache_dir / "outputs" / f"{key}.sqlite", dated=False)
        except OSError as e:
            raise StudioError(ErrorKind.INVALID_INPUT, f"Cannot write into {out}: {e.strerror or e}.") from e
    else:
        gallery = GalleryStore(paths.gallery_dir)
    hashes = HashCache(paths.cache_dir / "hashes.json")

    placement = lambda: choose_placement(settings.device, settings.dtype)  # noqa: E731 - read at each job
    sound = SoundEngine(gallery, lambda: placement().device)
    text = TextEngine(placement=lambda: choose_text_placement(settings.device, settings.dtype),
                      openvino_cache=lambda: openvino_cache_root(paths.models_dir))  # fmt: skip
    engine = ImageEngine(
        gallery,
        hashes,
        placement=placement,
        preview_interval=lambda: settings.preview_interval_s,
        make_room=lambda: (text.clear(), sound.clear()),
        options=settings.load_options,
        tiny_vae=lambda family: find_tiny_vae(family, [paths.models_dir, *map(Path, settings.model_folders)]),
        vision=lambda kind: find_vision_model(kind, [paths.models_dir, *map(Path, settings.model_folders)]),
        openvino_cache=lambda: openvino_cache_root(paths.models_dir),
    )
    sound.make_room, text.make_room = (lambda: (engine.clear(), text.clear())), (lambda: (engine.clear(), sound.clear()))  # fmt: skip  # one model in memory: loading one frees the others
    gallery.finish = sealer = sealer_for(paths, settings)
    keys = Keys()
    remote = OpenAIText(lambda base: endpoint_for(base, servers_of(settings.servers), keys))
    text.similar = remote.similar = note_meanings(paths, hashes, settings).similar  # notes, by meaning

    def write(spec: WriteSpec, cancel, emit):  # noqa: ANN001, ANN202 - a job runs where its engine says
        return (remote.write if spec.engine else text.write)(spec, cancel, emit)

    def preview(spec: ContextSpec, cancel, emit):  # noqa: ANN001, ANN202
        return (remote.preview_context if spec.engine else text.preview_context)(spec, cancel, emit)

    def generate(spec: GenerateSpec, cancel, emit):  # noqa: ANN001, ANN202 - here, on a server, or on all of them
        if not spec.backend:
            return engine.generate(spec, cancel, emit)
        if spec.backend == ALL_BACKENDS:
            from studio.worker.pool import run_pool

            return run_pool(spec, backend_lanes(spec, engine, settings, keys, emit), cancel, emit)
        from studio.remote.comfy import server_for

        server = find_backend(spec.backend, servers_of(settings.servers), "comfyui")
        return server_for(server.url, keys.get(server.url), server.insecure_tls, server.name).generate(
            spec, engine.store, cancel, emit
        )

    holder: list[Runtime] = []

    def training_beside() -> bool:  # see lane_of
        return training_lane(settings, holder[0].device if holder else None) != DEVICE

    # a run that waits for the device frees its models first; one beside the other jobs (on the CPU) must not
    trainer = TrainJob(make_room=lambda: None if training_beside() else (engine.clear(), text.clear(), sound.clear()))  # fmt: skip
    runner = JobRunner(
        lambda e: holder[0].publish(e) if holder else None,
        {
            GenerateSpec: generate,
            UpscaleSpec: engine.upscale,
            **{kind: on_engine(engine, run) for kind, run in ENGINE_JOBS},
            WriteSpec: write,
            ContextSpec: preview,
            TextAttentionSpec: lambda spec, cancel, emit: text_attention(text, spec, cancel, emit),
            TrainSpec: trainer,
            TextTrainSpec: trainer,  # the same trainer process, one run at a time
            CaptionSpec: Captioner(make_room=lambda: (engine.clear(), text.clear(), sound.clear())),
            SoundSpec: sound.generate,
            SpeakSpec: sound.speak,
            SegmentSpec: engine.detailer.selector,  # one set of SAM/OWLv2/ViTMatte models for both
        },
        lane_of=lambda spec: lane_of(spec, settings, holder[0].device if holder else None),
        priority_of=priority_of,
    )

    semantic = semantic_index(gallery, hashes)
    rt = Runtime(paths, settings, gallery, hashes, engine, text, runner, trainer, keys,
                 servers_of_settings(settings, keys), notices=notices, semantic=semantic, sealer=sealer,
                 sound_engine=sound)  # fmt: skip
    holder.append(rt)
    return rt


def sealer_for(paths: StudioPaths, settings: Settings) -> Sealer:
    """What every saved picture gets (the settings read at each save): the content filter's look when it is
    switched on, the invisible watermark, signed Content Credentials."""

    def policy() -> Policy:
        return Policy(settings.content_credentials, settings.watermark, settings.private_recipes)

    def screen(image: Any) -> str:
        if not settings.content_filter:
            return ""
        from studio.engine.content_filter import screen_picture

        return screen_picture(image, settings.content_filter_model)

    return Sealer(paths.credentials_dir, policy, screen)


def note_meanings(paths: StudioPaths, hashes: HashCache, settings: Settings) -> NoteVectors:
    """The meanings of the Writer's notes: a sentence-embedding model the user put in a models folder when there is
    one (bge, gte, e5…), else the packaged search-by-meaning model — loaded on the first note compared; the vectors
    kept in Studio's cache."""

    def make_embed():  # noqa: ANN202
        from studio.engine.sentence_embedding import LocalEmbedder, local_embedder, make_embed

        found = local_embedder([paths.models_dir, *map(Path, settings.model_folders)])
        return LocalEmbedder(found) if found is not None else make_embed(hashes)

    return NoteVectors(make_embed, paths.cache_dir / "note-vectors.npz")


def on_engine(engine: ImageEngine, run: Callable[..., Any]) -> Callable[..., Any]:
    """A handler for a job that runs on the image engine (its models, prompt cache and gallery)."""
    return lambda spec, cancel, emit: run(engine, spec, cancel, emit)


def semantic_index(gallery: GalleryStore, hashes: HashCache) -> SemanticIndex:
    """The prompts' meanings of a gallery (search by meaning), its model loaded on the first search."""

    def make_embed():  # noqa: ANN202
        from studio.engine.sentence_embedding import make_embed

        return make_embed(hashes)

    return SemanticIndex(gallery, make_embed)


def servers_of_settings(settings: Settings, keys: Keys) -> Servers:
    """The door to the saved servers (for a command that needs no runner: ``studio backends``, ``models list``)."""
    return Servers(settings, keys)


TOKENS = "tokens"  # counting tokens, what the model sees: a tokenizer, no device
TRAINING = "training"  # a fine-tuning run, in its own process, beside the device's jobs (on a CPU)


def lane_of(spec: object, settings: Settings | None = None, device: DeviceInfo | None = None) -> str:
    """Where a job waits its turn (the rule the README tells):

    - a job made on a server has that server's lane: it does not wait for this machine's device, nor the device
      for it;
    - counting tokens and *What the model sees* need a tokenizer, not the device: they run at once, in their lane;
    - a training run is a process of its own: on a CPU it runs beside the other jobs (they share the cores); on a
      GPU it waits for the device, since both would not fit its memory;
    - everything else runs on the device, one job at a time (``priority_of`` orders those that wait)."""
    if isinstance(spec, GenerateSpec) and spec.remote:
        return f"comfyui:{spec.backend}"
    if isinstance(spec, WriteSpec) and spec.engine:
        return f"openai:{spec.engine}"
    if isinstance(spec, ContextSpec):
        return TOKENS
    if isinstance(spec, TrainSpec | TextTrainSpec) and settings is not None:
        return training_lane(settings, device)
    return DEVICE


def training_lane(settings: Settings, device: DeviceInfo | None) -> str:
    on_cpu = device.device == "cpu" if device is not None else settings.device == "cpu"
    return TRAINING if on_cpu else DEVICE


def priority_of(spec: object) -> int:
    """Among jobs waiting for the device: text first (a continuation is seconds of work: it goes ahead of queued
    image batches), then pictures and the rest, training runs last (they take minutes to hours)."""
    if isinstance(spec, WriteSpec | ContextSpec | TextAttentionSpec):
        return 1
    if isinstance(spec, TrainSpec | TextTrainSpec):
        return -1
    return 0


def backend_lanes(
    spec: GenerateSpec, engine: ImageEngine, settings: Settings, keys: Keys, emit: Callable
) -> list:
    """This machine and every saved ComfyUI server that answers and can run ``spec`` (its model, LoRAs and VAE
    found there by file name); why a server is left out is said as a note."""
    import dataclasses

    from studio.core.image.comfy_workflow import refusals
    from studio.core.jobs.errors import StudioError
    from studio.core.jobs.events import Note
    from studio.remote.comfy import server_for
    from studio.worker.pool import Lane

    lanes = [
        Lane("this machine", lambda one, _i, cancel, on: engine.generate(one, cancel, on)[0], local=True)
    ]
    for server in (s for s in servers_of(settings.servers) if s.kind == "comfyui"):
        comfy = server_for(server.url, keys.get(server.url), server.insecure_tls, server.name)
        try:
            problems = refusals(dataclasses.replace(spec, backend=server.name), comfy.models())
        except StudioError as e:
            emit(Note(text=f"{comfy.label()} is left out: {e.user_message}"))
            continue
        if problems:
            emit(Note(text=f"{comfy.label()} is left out: {next(iter(problems.values()))}"))
            continue
        lanes.append(
            Lane(
                comfy.label(),
                lambda one, _i, cancel, on, c=comfy: c.generate(
                    dataclasses.replace(one, backend=c.name), engine.store, cancel, on
                )[0],
            )
        )
    return lanes


def ensure_paths(paths: StudioPaths) -> StudioPaths:
    """Create the data folders; a clear error when one of them is a file or cannot be made."""
    try:
        return paths.ensure()
    except OSError as e:
        where = Path(e.filename) if getattr(e, "filename", None) else paths.home
        what = (
            "is a file, not a folder"
            if where.exists() and not where.is_dir()
            else f"cannot be made ({e.strerror})"
        )
        raise StudioError(
            ErrorKind.INVALID_INPUT, f"Studio's data folder {where} {what}: choose another with --home."
        ) from e


def clean_leftovers(paths: StudioPaths) -> int:
    """Delete the temporary files of interrupted writes (Studio's own, a few minutes old at least) in the data
    folders; the gallery's are cleaned when it is reconciled. Returns the bytes freed."""
    freed = 0
    for folder, deep in ((paths.config_dir, False), (paths.home, False), (paths.writer_dir, False),
                         (paths.inputs_dir, False), (paths.models_dir, True), (paths.cache_dir, True),
                         (paths.training_dir, True)):  # fmt: skip
        freed += clean_stale_temps(folder, recursive=deep)
    return freed
