"""The gallery as a Qt item model: ids of the matching images in memory, rows and thumbnails fetched lazily."""

from __future__ import annotations

import collections
import sqlite3
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from PySide6.QtCore import (
    QAbstractListModel,
    QMimeData,
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    Qt,
    QUrl,
    Signal,
)

from studio.core.gallery.gallery_query import GalleryFilter, GalleryRow
from studio.core.gallery.gallery_store import GalleryStore
from studio.core.gallery.semantic import SemanticIndex
from studio.core.io.trash import Trashed
from studio.viewmodels.background import in_background
from studio.viewmodels.thumbnails import ThumbnailCache, thumb_key

PAGE = 256
PAGES_KEPT = 64
RowRole = Qt.ItemDataRole.UserRole + 1
ThumbRole = Qt.ItemDataRole.UserRole + 2
PathRole = Qt.ItemDataRole.UserRole + 3
CredentialsRole = Qt.ItemDataRole.UserRole + 4  # the picture's Verdict, once it has been checked (else None)
Index = QModelIndex | QPersistentModelIndex


class GalleryModel(QAbstractListModel):
    """Rows are images in display order. Only the visible ones are ever read from the index."""

    filterChanged = Signal()
    trashedChanged = Signal(int)  # how many images are in the trash
    meaningStatus = Signal(str)  # what search by meaning is doing, or why it cannot ("" when it is done)

    def __init__(
        self,
        store: GalleryStore,
        thumbs: ThumbnailCache,
        parent: QObject | None = None,
        semantic: SemanticIndex | None = None,
    ):
        super().__init__(parent)
        self.store = store
        self.thumbs = thumbs
        self.semantic = semantic
        self.filter = GalleryFilter()
        self.scores: dict[int, float] = {}  # image id → how near its prompt is to a search by meaning
        self._meaning_ticket = 0  # the newest search by meaning; older answers are dropped
        self._meanings_kept: bool | None = None  # whether this gallery keeps its prompts' meanings up to date
        self._ids: list[int] = []
        self.verdicts: dict[str, int] = {}  # rel → what its Content Credentials said when last checked
        self._pages: collections.OrderedDict[int, list[GalleryRow]] = collections.OrderedDict()
        self._row_of_key: dict[str, int] = {}
        thumbs.ready.connect(self._thumb_ready)
        self.last_trashed: tuple[Trashed, ...] | None = None

    # -- querying ------------------------------------------------------------------------------------------------
    def set_filter(self, f: GalleryFilter) -> None:
        self.filter = f
        self.refresh()
        self.filterChanged.emit()

    def refresh(self) -> None:
        if self.filter.meaning and self.filter.text.strip():
            self._search_by_meaning()
            return
        self.scores = {}
        self._show(self.store.ids(self.filter))
        self._keep_meanings()

    def _search_by_meaning(self) -> None:
        """Off the GUI thread: the prompts' missing vectors (the first time, all of them), then the search."""
        semantic, f = self.semantic, self.filter
        if semantic is None:
            self.meaningStatus.emit("Search by meaning is not available here.")
            self._show([])
            return
        self._meaning_ticket += 1
        ticket = self._meaning_ticket
        self.meaningStatus.emit("Searching by meaning…")

        def progress(done: int, total: int) -> None:
            self.meaningStatus.emit(f"Reading the meaning of the prompts (once): {done:,} of {total:,}…")

        def work() -> list[tuple[int, float]]:
            semantic.update(progress=progress)
            return semantic.search(f.text, f)

        def done(found: list[tuple[int, float]]) -> None:
            if ticket != self._meaning_ticket or self.filter != f:
                return
            self._meanings_kept = True
            self.scores = dict(found)
            self._show([i for i, _ in found])
            self.meaningStatus.emit("")

        def failed(error: BaseException) -> None:
            if ticket == self._meaning_ticket:
                self._show([])
                self.meaningStatus.emit(
                    str(error) if isinstance(error, LookupError) else f"Search failed: {error}"
                )

        in_background(self, work, done, name="studio-meaning", on_error=failed)

    def _keep_meanings(self) -> None:
        """Once a gallery was searched by meaning, new prompts get their vectors as images arrive (off the GUI
        thread, a batch at a time)."""
        semantic = self.semantic
        if semantic is None or self.store.closed:
            return
        if self._meanings_kept is None:
            try:
                self._meanings_kept = semantic.covered() > 0
            except sqlite3.Error:
                self._meanings_kept = False
        if self._meanings_kept:
            in_background(self, semantic.update, name="studio-meaning-update", on_error=lambda _e: None)

    def _show(self, ids: list[int]) -> None:
        self.beginResetModel()
        self._ids = ids
        self._pages.clear()
        self._row_of_key.clear()
        self.endResetModel()

    def rowCount(self, parent: Index | None = None) -> int:  # noqa: N802
        return 0 if parent is not None and parent.isValid() else len(self._ids)

    def row(self, r: int) -> GalleryRow | None:
        if not 0 <= r < len(self._ids):
            return None
        page = r // PAGE
        rows = self._pages.get(page)
        if rows is None:
            ids = self._ids[page * PAGE : (page + 1) * PAGE]
            found = {row.id: row for row in self.store.rows(ids)}
            rows = [found.get(i) or _gone(i) for i in ids]
            self._pages[page] = rows
            while len(self._pages) > PAGES_KEPT:
                self._pages.popitem(last=False)
        else:
            self._pages.move_to_end(page)
        return rows[r % PAGE]

    def path(self, r: int) -> Path | None:
        row = self.row(r)
        return self.store.path(row.rel) if row else None

    def index_of_rel(self, rel: str) -> QModelIndex:
        found = self.store.row_by_rel(rel)
        if found is None or found.id not in self._ids:
            return QModelIndex()
        return self.index(self._ids.index(found.id))

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        row = self.row(index.row()) if index.isValid() else None
        if row is None:
            return None
        if role == Qt.ItemDataRole.DisplayRole:
            first = row.prompt.strip().splitlines()[0] if row.prompt.strip() else "(no prompt)"
            return first
        if role == ThumbRole:
            key = thumb_key(row.rel, row.created)
            self._row_of_key[key] = index.row()
            return self.thumbs.get(key, self.store.path(row.rel))
        if role == Qt.ItemDataRole.ToolTipRole:
            facts = ", ".join(
                x
                for x in (
                    row.model,
                    row.sampler,
                    f"seed {row.seed}" if row.seed else "",
                    f"{row.width}×{row.height}",
                )
                if x
            )
            near = self.scores.get(row.id)
            meaning = f"\nmeaning {near:.0%} near the search" if near is not None else ""
            return f"{row.prompt}\n{facts}{meaning}"
        if role == RowRole:
            return row
        if role == PathRole:
            return str(self.store.path(row.rel))
        if role == CredentialsRole:
            return self.verdicts.get(row.rel)
        return None

    def set_verdict(self, rel: str, verdict: int) -> None:
        """What a picture's Content Credentials said (the grid shows a badge on an altered one)."""
        self.verdicts[rel] = verdict
        i = self.index_of_rel(rel)
        if i.isValid():
            self.dataChanged.emit(i, i, [CredentialsRole])

    def _thumb_ready(self, key: str) -> None:
        r = self._row_of_key.pop(key, None)
        if r is not None and r < len(self._ids):
            i = self.index(r)
            self.dataChanged.emit(i, i, [ThumbRole])

    # -- drag out: the original files, metadata intact ----------------------------------------------------------
    def flags(self, index: Index) -> Qt.ItemFlag:
        base = super().flags(index)
        return base | Qt.ItemFlag.ItemIsDragEnabled if index.isValid() else base

    def mimeTypes(self) -> list[str]:  # noqa: N802
        return ["text/uri-list"]

    def mimeData(self, indexes: Sequence[QModelIndex]) -> QMimeData:  # noqa: N802
        mime = QMimeData()
        paths = [self.path(i.row()) for i in indexes]
        mime.setUrls([QUrl.fromLocalFile(str(p)) for p in paths if p is not None])
        return mime

    def supportedDragActions(self) -> Qt.DropAction:  # noqa: N802
        return Qt.DropAction.CopyAction

    # -- changing the library ------------------------------------------------------------------------------------
    def _changed_rows(self, rows: list[int]) -> None:
        for r in rows:
            self._pages.pop(r // PAGE, None)
        for r in rows:
            i = self.index(r)
            self.dataChanged.emit(i, i)

    def set_starred(self, rows: list[int], starred: bool) -> None:
        rels = [row.rel for row in (self.row(r) for r in rows) if row]
        self.store.set_starred(rels, starred)
        if self.filter.starred and not starred:
            self.refresh()
        else:
            self._changed_rows(rows)

    def trash(self, rows: list[int]) -> int:
        rels = [row.rel for row in (self.row(r) for r in rows) if row]
        self.last_trashed = self.store.trash(rels)
        self.refresh()
        self.trashedChanged.emit(self.store.trash_count())
        return len(rels)

    def undo_trash(self) -> int:
        if self.last_trashed is None:
            return 0
        restored = self.store.restore(self.last_trashed)
        self.last_trashed = None
        self.refresh()
        self.trashedChanged.emit(self.store.trash_count())
        return len(restored)

    def empty_trash(self) -> int:
        n = self.store.empty_trash()
        self.last_trashed = None
        self.trashedChanged.emit(0)
        return n


def _gone(i: int) -> GalleryRow:
    """A row whose image left the index since the ids were read (shown as removed until the next refresh)."""
    return GalleryRow(i, "", 0.0, "(removed)", "", "", "", "", 0, 0, 0, 0.0, "", "", "", False)
