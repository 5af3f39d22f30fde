"""The model library as a Qt table: scanned off the GUI thread, filtered by kind."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QObject, QPersistentModelIndex, Qt, Signal

from studio.core.io.atomic import atomic_copy_new, free_name
from studio.core.io.hashing import HashCache
from studio.core.io.settings import Settings
from studio.core.io.trash import FOLDER as TRASH
from studio.core.io.trash import Trash, Trashed
from studio.core.io.words import size
from studio.core.models.model_library import LibraryEntry, describe_path, scan_library
from studio.viewmodels.background import in_background

COLUMNS = ("Name", "Kind", "Family / type", "Source", "Size", "Hash")
KIND_FOLDERS = {
    "lora": "loras",
    "embedding": "embeddings",
    "vae": "vae",
    "upscaler": "upscalers",
    "controlnet": "controlnet",
    "ip-adapter": "ipadapter",
}  # inside the models folder
EntryRole = Qt.ItemDataRole.UserRole + 1
Index = QModelIndex | QPersistentModelIndex


class ModelLibraryModel(QAbstractTableModel):
    scanned = Signal(int)  # how many entries
    hashed = Signal(str, str)  # (path, SHA-256)
    imported = Signal(str)  # the new path
    importFailed = Signal(str)  # a message
    fileMoved = Signal(
        str
    )  # what a rename, a move to the trash or an undo did, in a sentence (or why it failed)

    def __init__(
        self,
        models_dir: Path,
        extra_folders: list[str],
        hashes: HashCache | None = None,
        parent: QObject | None = None,
        settings: Settings | None = None,
    ):
        super().__init__(parent)
        self.settings = settings or Settings(model_folders=list(extra_folders))
        self.hashes = hashes
        self.search = ""
        self.models_dir = models_dir
        self.extra_folders = list(extra_folders)
        self.last_trashed: Trashed | None = None  # what Undo brings back
        self._all: list[LibraryEntry] = []
        self._shown: list[LibraryEntry] = []
        self._short: dict[str, str | None] = {}
        self.kind_filter = ""
        self.scanning = False
        self._again = False

    def rescan(self) -> None:
        """Scan every source in the background; ``scanned`` says when the table is up to date. Asked while a
        scan runs (a file added meanwhile), another follows it."""
        if self.scanning:
            self._again = True
            return
        self.scanning, self._again = True, False
        folders = [Path(p) for p in self.extra_folders]
        overrides, allow = dict(self.settings.family_overrides), self.settings.allow_pickle

        def failed(_e: BaseException) -> None:
            self.scanning = False

        in_background(
            self,
            lambda: scan_library(self.models_dir, folders, overrides=overrides, allow_pickle=allow),
            self._apply,
            name="studio-model-scan",
            on_error=failed,
        )

    def known_hash(self, path: Path) -> str | None:
        """The file's SHA-256 when already computed (hashing a model reads the whole file)."""
        if self.hashes is None or not path.is_file():
            return None
        return self.hashes.sha256(path) if self.hashes.known(path) else None

    def compute_hash(self, path: Path) -> None:
        """Hash the file in the background (streamed, cached by path, size and mtime); ``hashed`` answers."""
        hashes = self.hashes
        if hashes is None or not path.is_file():
            return

        in_background(self, lambda: hashes.sha256(path), lambda digest: self.hashed.emit(str(path), digest),
                      name="studio-hash")  # fmt: skip

    def add_folder(self, folder: str) -> bool:
        if not folder or folder in self.extra_folders or not Path(folder).is_dir():
            return False
        self.extra_folders.append(folder)
        self.rescan()
        return True

    def remove_folder(self, folder: str) -> None:
        if folder in self.extra_folders:
            self.extra_folders.remove(folder)
            self.rescan()

    def _apply(self, entries: list[LibraryEntry]) -> None:
        self.scanning = False
        self._all = entries
        self._short = {str(e.path): self.known_hash(e.path) for e in entries if e.path.is_file()}
        self.set_kind_filter(self.kind_filter)
        self.scanned.emit(len(entries))
        if self._again:
            self.rescan()

    @property
    def entries(self) -> list[LibraryEntry]:
        return list(self._all)

    def set_kind_filter(self, kind: str) -> None:
        self.kind_filter = kind
        self._refilter()

    def set_search(self, text: str) -> None:
        self.search = text
        self._refilter()

    def _refilter(self) -> None:
        words = self.search.lower().split()
        self.beginResetModel()
        self._shown = [
            e
            for e in self._all
            if (not self.kind_filter or e.kind == self.kind_filter)
            and all(w in f"{e.name} {e.label} {e.family} {e.path}".lower() for w in words)
        ]
        self.endResetModel()

    # -- the user's say ----------------------------------------------------------------------------------------
    def set_family(self, path: Path, family: str) -> None:
        """Override what the header suggested ("" goes back to it); remembered in settings."""
        if family:
            self.settings.family_overrides[str(path)] = family
        else:
            self.settings.family_overrides.pop(str(path), None)
        self.rescan()

    def set_default_vae(self, model: Path, vae: str) -> None:
        """The VAE this model's jobs use when the job names none ("" the model's own); remembered in settings."""
        if vae:
            self.settings.vae_defaults[str(model)] = vae
        else:
            self.settings.vae_defaults.pop(str(model), None)

    def vae_entries(self) -> list[LibraryEntry]:
        return sorted((e for e in self._all if e.kind == "vae"), key=lambda e: e.name.lower())

    def set_allow_pickle(self, allow: bool) -> None:
        self.settings.allow_pickle = allow
        self.rescan()

    def make_default(self, entry: LibraryEntry) -> None:
        if entry.kind == "checkpoint":
            self.settings.remember_model(str(entry.path))
        elif entry.kind == "text":
            self.settings.text_model = str(entry.path)

    def is_default(self, entry: LibraryEntry) -> bool:
        return str(entry.path) in (self.settings.image_model, self.settings.text_model)

    def import_file(self, source: Path, link: bool = False) -> None:
        """Copy (or link) a model file into the models folder, in the subfolder of its kind, off the GUI thread."""

        def failed(e: BaseException) -> None:
            why = e.strerror if isinstance(e, OSError) and e.strerror else str(e)
            self.importFailed.emit(f"Could not import {source.name}: {why}")

        in_background(self, lambda: import_model_file(source, self.models_dir, link),
                      lambda dest: self.imported.emit(str(dest)), name="studio-import", on_error=failed)  # fmt: skip

    # -- a model file's own commands: off the GUI thread (a move across drives copies gigabytes) -----------------
    def rename(self, path: Path, name: str) -> Path | None:
        """Rename a model file (same folder, same extension) in the background; the new path, or None (and
        ``fileMoved`` says why) when the name is empty or taken."""
        name = name.strip().replace("/", "").replace("\\", "")
        if not name:
            return None
        target = path.with_name(name + path.suffix)
        if target.exists():
            self.fileMoved.emit(f"{target.name} exists already.")
            return None
        self._move_then_rescan(lambda: path.rename(target), f"Renamed to {target.name}.")
        return target

    def trash(self, path: Path) -> None:
        """Move a model file into the models folder's trash (``core.io.trash``); ``undo_trash`` brings it back."""

        def work() -> None:
            self.last_trashed = Trash(self.models_dir).put(path)

        self._move_then_rescan(work, f"{path.name} is in the trash ({self.models_dir / TRASH}). Undo with Ctrl+Z "
                                     "or the Undo button.")  # fmt: skip

    def undo_trash(self) -> bool:
        item, self.last_trashed = self.last_trashed, None
        if item is None:
            return False
        self._move_then_rescan(lambda: Trash(self.models_dir).restore(item), f"{item.original.name} is back.")
        return True

    def _move_then_rescan(self, work: Any, said: str) -> None:
        def done(_: Any) -> None:
            self.fileMoved.emit(said)
            self.rescan()

        def failed(e: BaseException) -> None:
            self.fileMoved.emit(f"Could not move the file: {getattr(e, 'strerror', None) or e}.")

        in_background(self, work, done, name="studio-model-move", on_error=failed)

    def entry(self, row: int) -> LibraryEntry | None:
        return self._shown[row] if 0 <= row < len(self._shown) else None

    def rowCount(self, parent: Index | None = None) -> int:  # noqa: N802
        return 0 if parent is not None and parent.isValid() else len(self._shown)

    def columnCount(self, parent: Index | None = None) -> int:  # noqa: N802
        return len(COLUMNS)

    def headerData(
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> Any:  # noqa: N802
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return COLUMNS[section]
        return None

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        e = self.entry(index.row()) if index.isValid() else None
        if e is None:
            return None
        if role == EntryRole:
            return e
        if role == Qt.ItemDataRole.ToolTipRole:
            return f"{e.path}\n{e.reason}" if e.reason else str(e.path)
        if role == Qt.ItemDataRole.DisplayRole:
            short = (self._short.get(str(e.path)) or "")[:10]
            return (e.name, e.kind, e.label or e.family or "—", e.source, size(e.size), short)[index.column()]
        return None


def import_model_file(source: Path, models_dir: Path, link: bool = False) -> Path:
    """Put ``source`` into ``models_dir`` (or its loras/embeddings/vae subfolder): a symlink, or a copy written
    to a temporary name, flushed and published, so a half-copied model never appears. Never overwrites."""
    kind = describe_path(source)["kind"]
    folder = models_dir / KIND_FOLDERS.get(kind, "")
    if not link:
        return atomic_copy_new(source, folder, source.name)
    folder.mkdir(parents=True, exist_ok=True)
    for dest in free_name(folder, source.name):
        try:
            dest.symlink_to(source.resolve())
            return dest
        except FileExistsError:
            continue
    raise AssertionError("unreachable")
