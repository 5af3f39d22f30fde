"""The Gallery room: search and filters, a virtualised thumbnail grid, and a viewer with the recipe beside it."""

from __future__ import annotations

from PySide6.QtCore import QDate, QModelIndex, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QGuiApplication, QImage, QKeySequence
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDateEdit,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QFrame,
    QHBoxLayout,
    QInputDialog,
    QLabel,
    QLineEdit,
    QMenu,
    QMessageBox,
    QPushButton,
    QSplitter,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from studio.core.gallery.gallery_query import GalleryFilter, GalleryRow
from studio.core.image.recipe_readers import Recipe, read_recipe, recipe_fields
from studio.ui.common.scroll_row import ScrollRow
from studio.ui.common.theme import icon
from studio.ui.gallery.gallery_widgets import (
    DATES,
    CompareDialog,
    GalleryGrid,
    GalleryViewer,
    date_span,
    recipe_html,
)
from studio.viewmodels.gallery_actions import GalleryActions
from studio.viewmodels.gallery_model import GalleryModel


class GalleryPage(QWidget):
    useSettings = Signal(dict)  # image-panel fields
    openSound = Signal(str)  # a sound's file, for the Sound room
    useAsInit = Signal(str, str)  # (image path, gallery rel of the parent)
    upscaleRequested = Signal(str)  # the image path
    useAsGuide = Signal(str, str)  # (image path, "controls" | "references")
    variationsRequested = Signal(str)  # the image path
    describeRequested = Signal(str)  # the image path

    def __init__(
        self, model: GalleryModel, actions: GalleryActions | None = None, parent: QWidget | None = None
    ):
        super().__init__(parent)
        self.model = model
        self.actions = actions or GalleryActions(model, self)  # what the room asks of the gallery
        self.actions.imported.connect(self._imported)
        self.actions.loaded.connect(self._loaded)
        self.actions.verified.connect(self._verified)
        self.actions.reindexed.connect(self.refresh)
        self.actions.exported.connect(
            lambda n, folder: self._say(f"Exported {n} image{'s' if n != 1 else ''} to {folder}.")
        )
        self.actions.failed.connect(self._say)
        self._current: GalleryRow | None = None
        self._recipe = Recipe()
        self._recipe_rel = ""  # the picture whose recipe _recipe is (read off the GUI thread)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(8, 8, 8, 8)
        lay.addWidget(ScrollRow(self._filters()))  # the filters scroll on a narrow window
        self.undo_bar = self._undo_bar()
        lay.addWidget(self.undo_bar)

        self.grid = GalleryGrid()
        self.grid.setModel(model)
        self.grid.selectionModel().currentChanged.connect(lambda cur, _: self.show_row(cur.row()))
        self.grid.customContextMenuRequested.connect(self._context_menu)
        self.grid.filesDropped.connect(self.import_files)
        self.grid.doubleClicked.connect(lambda _: self.use_settings())
        self.empty = QLabel()
        self.empty.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.empty.setWordWrap(True)
        self.empty.setObjectName("emptyHint")

        split = QSplitter(Qt.Orientation.Horizontal)
        left = QWidget()
        ll = QVBoxLayout(left)
        ll.setContentsMargins(0, 0, 0, 0)
        ll.addWidget(self.grid, 1)
        ll.addWidget(self.empty)
        split.addWidget(left)
        split.addWidget(self._viewer())
        split.setStretchFactor(0, 3)
        split.setStretchFactor(1, 2)
        lay.addWidget(split, 1)
        self.count_label = QLabel()
        self.meaning_label = QLabel(objectName="hint")  # what search by meaning is doing, or why it cannot
        self.meaning_label.setWordWrap(True)
        foot = QHBoxLayout()
        foot.addWidget(self.count_label)
        foot.addWidget(self.meaning_label, 1)
        lay.addLayout(foot)
        model.meaningStatus.connect(self.meaning_label.setText)
        self._actions()
        model.modelReset.connect(self._update_counts)
        model.trashedChanged.connect(lambda n: self.empty_trash_btn.setText(f"Empty trash ({n})"))
        self._debounce = QTimer(self, singleShot=True, interval=120)
        self._debounce.timeout.connect(self.apply_filter)
        self.search.textChanged.connect(lambda _: self._debounce.start())
        self.apply_filter()
        QTimer.singleShot(0, self.refresh_choices)  # the filter lists come right after the first paint

    # -- building ------------------------------------------------------------------------------------------------
    def _filters(self) -> QHBoxLayout:
        row = QHBoxLayout()
        self.search = QLineEdit(placeholderText="Search prompts…", clearButtonEnabled=True)
        self.search.setToolTip("Every word must appear in the prompt (case does not matter).")
        row.addWidget(self.search, 3)
        self.meaning_btn = QToolButton(text="≈ Meaning", checkable=True, autoRaise=False)
        self.meaning_btn.setToolTip(
            "Search by meaning, best match first: “vehicle” finds car, truck and bus; “calm” finds serene "
            "landscapes (a sentence-embedding model, all-MiniLM-L6-v2, reads each prompt once)"
        )
        self.meaning_btn.toggled.connect(lambda _: self.apply_filter())
        row.addWidget(self.meaning_btn)
        self.model_box, self.sampler_box, self.size_box, self.lora_box = (
            QComboBox(),
            QComboBox(),
            QComboBox(),
            QComboBox(),
        )
        self.date_box, self.board_box, self.sort_box = QComboBox(), QComboBox(), QComboBox()
        for label, _ in DATES:
            self.date_box.addItem(label)
        self.date_box.addItem("Custom range…")
        self.custom_range: tuple[QDate, QDate] | None = None
        self.date_box.activated.connect(lambda i: i == len(DATES) and self.choose_range())
        self.sort_box.addItems(["Newest first", "Oldest first"])
        self.starred_box = QCheckBox("★ Starred")
        for w, tip in (
            (self.model_box, "Only images from this model"),
            (self.sampler_box, "Only this sampler"),
            (self.size_box, "Only this size"),
            (self.lora_box, "Only images that used this LoRA"),
            (self.date_box, "Only images made in this period"),
            (self.board_box, "Show a board"),
            (self.sort_box, "Order by date"),
        ):
            w.setToolTip(tip)
            w.currentIndexChanged.connect(self.apply_filter)
            row.addWidget(w, 1)
        self.starred_box.toggled.connect(self.apply_filter)
        row.addWidget(self.starred_box)
        more = QToolButton(text="⋯", toolTip="Boards, trash, index")
        more.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        menu = QMenu(more)
        menu.addAction("New board…", self.new_board)
        menu.addAction("Delete this board", self.delete_board)
        menu.addSeparator()
        menu.addAction("Rebuild the index from the files", self.reindex)
        more.setMenu(menu)
        row.addWidget(more)
        self.empty_trash_btn = QPushButton(f"Empty trash ({self.actions.trash_count()})")
        self.empty_trash_btn.setToolTip("Delete the images in the trash for good")
        self.empty_trash_btn.clicked.connect(self.empty_trash)
        row.addWidget(self.empty_trash_btn)
        return row

    def _undo_bar(self) -> QFrame:
        bar = QFrame(objectName="banner")
        h = QHBoxLayout(bar)
        h.setContentsMargins(8, 4, 8, 4)
        self.undo_label = QLabel()
        h.addWidget(self.undo_label, 1)
        undo = QPushButton("Undo")
        undo.clicked.connect(self.undo_delete)
        h.addWidget(undo)
        close = QToolButton(icon=icon("close"), autoRaise=True)
        close.clicked.connect(bar.hide)
        h.addWidget(close)
        bar.hide()
        return bar

    def _viewer(self) -> QWidget:
        v = GalleryViewer({"use": self.use_settings, "init": self.use_as_init, "copy": self.copy_prompt,
                           "star": self.toggle_star, "parent": self.go_parent, "child": self.go_child,
                           "upscale": self.upscale})  # fmt: skip
        self.view, self.recipe, self.viewer = v.view, v.recipe, v
        self.use_btn, self.init_btn, self.copy_btn, self.star_btn = v.use_btn, v.init_btn, v.copy_btn, v.star_btn  # fmt: skip
        self.parent_btn, self.child_btn, self.upscale_btn = v.parent_btn, v.child_btn, v.upscale_btn
        self._set_viewer_enabled(False)
        return v

    def _actions(self) -> None:
        for seq, slot in (
            (QKeySequence.StandardKey.Delete, self.delete_selected),
            (QKeySequence.StandardKey.Copy, self.copy_image),
            (QKeySequence("S"), self.toggle_star),
            (QKeySequence.StandardKey.Undo, self.undo_delete),  # Ctrl+Z brings the last deleted back
        ):
            a = QAction(self.grid)
            a.setShortcut(seq)
            a.setShortcutContext(Qt.ShortcutContext.WidgetShortcut)
            a.triggered.connect(slot)
            self.grid.addAction(a)

    def _set_viewer_enabled(self, on: bool) -> None:
        for b in (self.use_btn, self.init_btn, self.copy_btn, self.star_btn, self.upscale_btn):
            b.setEnabled(on)
        self.parent_btn.setEnabled(False)
        self.child_btn.setEnabled(False)

    # -- filters -------------------------------------------------------------------------------------------------
    def refresh_choices(self) -> None:
        if self.actions.closed:  # a late timer after Studio closed
            return

        def fill(box: QComboBox, first: str, items: list[tuple[str, object]]) -> None:
            current = box.currentData()
            box.blockSignals(True)
            box.clear()
            box.addItem(first, None)
            for label, data in items:
                box.addItem(label, data)
            i = box.findData(current)
            box.setCurrentIndex(max(0, i))
            box.blockSignals(False)

        offered = self.actions.choices()
        for box, first, key in ((self.model_box, "All models", "model"), (self.sampler_box, "All samplers", "sampler"),
                                (self.size_box, "All sizes", "size"), (self.lora_box, "Any LoRA", "lora"),
                                (self.board_box, "All images", "board")):  # fmt: skip
            fill(box, first, offered[key])

    def choose_range(self, first: QDate | None = None, last: QDate | None = None) -> None:
        """Images made from ``first`` to ``last`` (whole days, inclusive); asks when not given."""
        if first is None or last is None:
            dialog = QDialog(self)
            dialog.setWindowTitle("Date range")
            form = QFormLayout(dialog)
            today = QDate.currentDate()
            a = QDateEdit(
                self.custom_range[0] if self.custom_range else today.addDays(-7), calendarPopup=True
            )
            b = QDateEdit(self.custom_range[1] if self.custom_range else today, calendarPopup=True)
            form.addRow("From", a)
            form.addRow("To", b)
            buttons = QDialogButtonBox(
                QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
            )
            buttons.accepted.connect(dialog.accept)
            buttons.rejected.connect(dialog.reject)
            form.addRow(buttons)
            if dialog.exec() != QDialog.DialogCode.Accepted:
                if self.custom_range is None:
                    self.date_box.setCurrentIndex(0)
                return
            first, last = a.date(), b.date()
        if last < first:
            first, last = last, first
        self.custom_range = (first, last)
        self.date_box.setItemText(
            len(DATES), f"{first.toString('yyyy-MM-dd')} – {last.toString('yyyy-MM-dd')}"
        )
        self.date_box.setCurrentIndex(len(DATES))
        self.apply_filter()

    def current_filter(self) -> GalleryFilter:
        date_from, date_to = date_span(self.date_box.currentIndex(), self.custom_range)
        return GalleryFilter(
            text=self.search.text(),
            model=self.model_box.currentData() or "",
            sampler=self.sampler_box.currentData() or "",
            size=self.size_box.currentData(),
            lora=self.lora_box.currentData() or "",
            date_from=date_from,
            date_to=date_to,
            starred=self.starred_box.isChecked(),
            board=self.board_box.currentData(),
            newest_first=self.sort_box.currentIndex() == 0,
            meaning=self.meaning_btn.isChecked(),
        )

    def apply_filter(self) -> None:
        if self.actions.closed:
            return
        self.model.set_filter(self.current_filter())
        if self.model.rowCount():
            self.grid.setCurrentIndex(self.model.index(0))
        else:
            self.show_row(-1)

    def refresh(self) -> None:
        """New images arrived (or the index was reconciled): keep the filter, show them."""
        if self.actions.closed:
            return
        current = self._current.rel if self._current else None
        self.refresh_choices()
        self.model.refresh()
        i = self.model.index_of_rel(current) if current else QModelIndex()
        if not i.isValid() and self.model.rowCount():
            i = self.model.index(0)
        if i.isValid():
            self.grid.setCurrentIndex(i)

    def _update_counts(self) -> None:
        n, total = self.model.rowCount(), self.actions.count()
        self.count_label.setText(f"{n:,} of {total:,} images" if n != total else f"{total:,} images")
        if self.model.scores:
            self.count_label.setText(self.count_label.text() + " · best match first")
        # a search answered later (by meaning): show its best
        if n and not self.grid.currentIndex().isValid():
            self.grid.setCurrentIndex(self.model.index(0))
        self.grid.setVisible(n > 0)
        self.empty.setVisible(n == 0)
        if total == 0:
            self.empty.setText(
                f"No images yet. Everything you generate is kept here with its recipe, in\n"
                f"{self.actions.root}\n\nDrop images from other tools here to import them."
            )
        else:
            self.empty.setText("No image matches the search and filters.")

    # -- the viewer ----------------------------------------------------------------------------------------------
    def selected_rows(self) -> list[int]:
        rows = sorted(i.row() for i in self.grid.selectionModel().selectedIndexes())
        if not rows and self.grid.currentIndex().isValid():
            rows = [self.grid.currentIndex().row()]
        return rows

    def show_row(self, r: int) -> None:
        row = self.model.row(r) if r >= 0 else None
        self._current = row
        self.viewer.show_credentials(None)
        if row is None or not row.rel:
            self.view.set_image(QImage())
            self.recipe.clear()
            self._set_viewer_enabled(False)
            return
        self.actions.load(row.rel)  # the picture and its recipe come off the GUI thread: _loaded
        for b in (self.init_btn, self.star_btn, self.upscale_btn):  # what needs the file's place only
            b.setEnabled(True)
        self.use_btn.setEnabled(False)  # what needs its recipe: when it has been read
        self.copy_btn.setEnabled(False)
        self.star_btn.setText("★ Starred" if row.starred else "☆ Star")
        self.parent_btn.setEnabled(self.actions.has_parent(row))
        self.child_btn.setEnabled(bool(self.actions.made_from(row.rel)))

    def _loaded(self, rel: str, image: QImage, recipe: Recipe) -> None:
        row = self._current
        if row is None or row.rel != rel:
            return  # another picture was chosen meanwhile
        self.view.set_image(image)
        self._recipe, self._recipe_rel = recipe, rel
        self.recipe.setHtml(recipe_html(recipe, row))
        self.use_btn.setEnabled(True)
        self.use_btn.setText("Play in the Sound room" if recipe.source == "sound" else "Use settings")
        self.copy_btn.setEnabled(True)

    def _verified(self, rel: str, report: object) -> None:
        if self._current is not None and self._current.rel == rel:
            self.viewer.show_credentials(report)

    def _select_rel(self, rel: str) -> None:
        i = self.model.index_of_rel(rel)
        if not i.isValid():  # outside the current filter: clear the filters to show it
            self.search.clear()
            for box in (self.model_box, self.sampler_box, self.size_box, self.lora_box, self.date_box,
                        self.board_box):  # fmt: skip
                box.setCurrentIndex(0)
            self.starred_box.setChecked(False)
            self.apply_filter()
            i = self.model.index_of_rel(rel)
        if i.isValid():
            self.grid.setCurrentIndex(i)
            self.grid.scrollTo(i)

    def go_parent(self) -> None:
        if self._current and self._current.parent:
            self._select_rel(self.actions.parent_rel(self._current))

    def go_child(self) -> None:
        if self._current:
            kids = self.actions.made_from(self._current.rel)
            if kids:
                self._select_rel(kids[0].rel)

    def use_settings(self) -> None:
        """*Use settings*: a picture's recipe into the Image room; a sound into the Sound room, to play."""
        if (
            self._current is not None
            and self._recipe_rel == self._current.rel
            and self._recipe.source == "sound"
        ):
            self.openSound.emit(str(self.actions.path(self._current.rel)))
        elif self._current is not None and self._recipe_rel == self._current.rel:
            self.useSettings.emit(recipe_fields(self._recipe))

    def use_as_init(self) -> None:
        if self._current is not None:
            self.useAsInit.emit(str(self.actions.path(self._current.rel)), self._current.rel)

    def describe(self) -> None:
        if self._current is not None:
            self.describeRequested.emit(str(self.actions.path(self._current.rel)))

    def make_variations(self) -> None:
        if self._current is not None:
            self.variationsRequested.emit(str(self.actions.path(self._current.rel)))

    def use_as_guide(self, kind: str) -> None:
        """A new ControlNet unit or reference image in the Image panel, from this picture."""
        if self._current is not None:
            self.useAsGuide.emit(str(self.actions.path(self._current.rel)), kind)

    def upscale(self) -> None:
        if self._current is not None:
            self.upscaleRequested.emit(str(self.actions.path(self._current.rel)))

    def copy_prompt(self) -> None:
        if self._current is not None and self._recipe_rel == self._current.rel:
            QGuiApplication.clipboard().setText(self._recipe.prompt)

    def copy_image(self) -> None:
        if self._current is not None:
            QGuiApplication.clipboard().setImage(QImage(str(self.actions.path(self._current.rel))))

    def toggle_star(self) -> None:
        rows = self.selected_rows()
        if not rows:
            return
        first = self.model.row(rows[0])
        self.model.set_starred(rows, not (first and first.starred))
        cur = self.grid.currentIndex()
        if cur.isValid():
            self.show_row(cur.row())

    # -- trash -----------------------------------------------------------------------------------------------------
    def delete_selected(self) -> None:
        rows = self.selected_rows()
        if not rows:
            return
        n = self.model.trash(rows)
        self.undo_label.setText(f"Moved {n} image{'s' if n != 1 else ''} to the trash.")
        self.undo_bar.show()
        if self.model.rowCount():
            self.grid.setCurrentIndex(self.model.index(min(rows[0], self.model.rowCount() - 1)))

    def undo_delete(self) -> None:
        n = self.model.undo_trash()
        self.undo_bar.hide()
        self.refresh_choices()
        if n:
            self.undo_label.setText("")

    def empty_trash(self) -> None:
        n = self.actions.trash_count()
        if not n:
            return
        answer = QMessageBox.question(self, "Empty trash", f"Delete the {n} images in the trash for good?")
        if answer == QMessageBox.StandardButton.Yes:
            self.model.empty_trash()
            self.undo_bar.hide()

    # -- boards, import, export, compare --------------------------------------------------------------------------
    def new_board(self) -> int | None:
        name, ok = QInputDialog.getText(self, "New board", "Name:")
        if not ok or not name.strip():
            return None
        bid = self.actions.create_board(name)
        self.refresh_choices()
        return bid

    def delete_board(self) -> None:
        bid = self.board_box.currentData()
        if bid is not None:
            self.actions.delete_board(bid)
            self.refresh_choices()
            self.apply_filter()

    def reindex(self) -> None:
        """Rebuild the index from the files (off the GUI thread; the grid refreshes when it is done)."""
        self.actions.reindex()

    def import_files(self, paths: list[str]) -> None:
        """Copy dropped pictures into the gallery (the originals untouched) and index them, off the GUI thread."""
        self.actions.import_files(paths)

    def _imported(self, n: int) -> None:
        if n:
            self.refresh()
        self._say(f"Imported {n} image{'s' if n != 1 else ''}." if n else "Nothing to import: drop PNG, JPEG or "
                  "WebP pictures.")  # fmt: skip

    def export_selected(self, folder: str | None = None, with_metadata: bool = True, fmt: str = "") -> bool:
        """Copy the selected pictures to a folder (off the GUI thread); False when nothing is exported."""
        rows = self.selected_rows()
        if not rows:
            return False
        if folder is None:
            folder = QFileDialog.getExistingDirectory(self, "Export to folder")
            if not folder:
                return False
        paths = [p for p in (self.model.path(r) for r in rows) if p is not None]
        self.actions.export(paths, folder, with_metadata, fmt)
        return True

    def _say(self, text: str) -> None:
        self.count_label.setText(text)
        QTimer.singleShot(6000, self._update_counts)

    def compare_selected(self) -> None:
        rows = self.selected_rows()[:2]
        if len(rows) != 2:
            return
        items = []
        for r in rows:
            path = self.model.path(r)
            if path is not None:
                items.append((path.name, QImage(str(path)), read_recipe(path)))
        CompareDialog(items, self).show()

    def _context_menu(self, pos) -> None:
        rows = self.selected_rows()
        if not rows:
            return
        m = QMenu(self)
        m.addAction("Use these settings", self.use_settings)
        m.addAction("Use as init image", self.use_as_init)
        m.addAction("Make variations", self.make_variations)
        m.addAction("Describe as a prompt", self.describe)
        m.addAction("Use as ControlNet image", lambda: self.use_as_guide("controls"))
        m.addAction("Use as reference image", lambda: self.use_as_guide("references"))
        m.addAction("Upscale…", self.upscale)
        m.addAction("Copy prompt", self.copy_prompt)
        m.addAction("Copy image", self.copy_image)
        m.addSeparator()
        m.addAction("Star / unstar\tS", self.toggle_star)
        boards = m.addMenu("Add to board")
        for bid, name, _ in self.actions.boards():
            boards.addAction(name, lambda b=bid: self._add_to_board(b))
        boards.addAction("New board…", lambda: self._add_to_board(self.new_board()))
        if self.board_box.currentData() is not None:
            m.addAction("Remove from this board", self._remove_from_board)
        if len(rows) == 2:
            m.addAction("Compare side by side", self.compare_selected)
        m.addSeparator()
        m.addAction("Export…", lambda: self.export_selected(None, True))
        m.addAction("Export without metadata…", lambda: self.export_selected(None, False))
        m.addAction("Export as JPEG…", lambda: self.export_selected(None, True, "jpeg"))
        m.addAction("Export as WebP…", lambda: self.export_selected(None, True, "webp"))
        m.addSeparator()
        m.addAction(icon("trash"), "Move to trash\tDel", self.delete_selected)
        m.exec(self.grid.viewport().mapToGlobal(pos))

    def _add_to_board(self, bid: int | None) -> None:
        if bid is None:
            return
        rels = [row.rel for row in (self.model.row(r) for r in self.selected_rows()) if row]
        self.actions.add_to_board(bid, rels)
        self.refresh_choices()

    def _remove_from_board(self) -> None:
        bid = self.board_box.currentData()
        rels = [row.rel for row in (self.model.row(r) for r in self.selected_rows()) if row]
        self.actions.remove_from_board(bid, rels)
        self.refresh_choices()
        self.apply_filter()
