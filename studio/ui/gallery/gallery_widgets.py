"""The Gallery's parts: the thumbnail delegate and grid, the recipe as HTML, and the side-by-side comparison."""

from __future__ import annotations

import time
from typing import Any

from PySide6.QtCore import QDate, QDateTime, QModelIndex, QPoint, QRect, QSize, Qt, QTime, Signal
from PySide6.QtGui import QColor, QImage, QPainter, QPalette
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QDialogButtonBox,
    QHBoxLayout,
    QLabel,
    QListView,
    QPushButton,
    QStyle,
    QStyledItemDelegate,
    QStyleOptionViewItem,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)

from studio.core.gallery.gallery_query import GalleryRow
from studio.core.image.content_claim import Verdict
from studio.core.image.from_image import recipe_facts
from studio.core.image.recipe_readers import Recipe
from studio.core.image.specs import GenerateSpec
from studio.ui.common.model_data import cell
from studio.ui.common.theme import fit_size, icon
from studio.ui.common.zoom_view import ZoomView
from studio.viewmodels.gallery_model import CredentialsRole, RowRole, ThumbRole

CELL = QSize(168, 196)
DATES = [("Any time", None), ("Today", 1), ("Last 7 days", 7), ("Last 30 days", 30), ("Last 365 days", 365)]


def date_span(choice: int, custom: tuple[QDate, QDate] | None) -> tuple[float | None, float | None]:
    """(from, to) in epoch seconds for the date filter's choice: one of ``DATES``, or the custom range after them."""
    if choice == len(DATES) and custom:
        first, last = custom
        return (float(QDateTime(first, QTime(0, 0)).toSecsSinceEpoch()),
                float(QDateTime(last.addDays(1), QTime(0, 0)).toSecsSinceEpoch()))  # fmt: skip
    if choice < len(DATES) and DATES[choice][1] is not None:
        days = DATES[choice][1] or 1
        start_of_today = time.mktime(time.localtime()[:3] + (0, 0, 0, 0, 0, -1))
        return start_of_today - (days - 1) * 86400, None
    return None, None


class ThumbDelegate(QStyledItemDelegate):
    def sizeHint(self, option: QStyleOptionViewItem, index: QModelIndex) -> QSize:  # noqa: N802
        return CELL

    def paint(self, p: QPainter, option: QStyleOptionViewItem, index: QModelIndex) -> None:
        p.save()
        r = option.rect.adjusted(4, 4, -4, -4)
        pal = option.palette
        selected = bool(option.state & QStyle.StateFlag.State_Selected)
        if selected:
            p.setPen(Qt.PenStyle.NoPen)
            p.setBrush(pal.color(QPalette.ColorRole.Highlight))
            p.drawRoundedRect(r, 6, 6)
        box = QRect(r.x() + 4, r.y() + 4, r.width() - 8, r.width() - 8)
        thumb: QImage | None = cell(index, ThumbRole)
        if thumb is None or thumb.isNull():
            p.setPen(Qt.PenStyle.NoPen)
            p.setBrush(pal.color(QPalette.ColorRole.AlternateBase))
            p.drawRect(box)
        else:
            s = min(box.width() / thumb.width(), box.height() / thumb.height())
            w, h = int(thumb.width() * s), int(thumb.height() * s)
            p.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, s < 2)
            p.drawImage(
                QRect(box.x() + (box.width() - w) // 2, box.y() + (box.height() - h) // 2, w, h), thumb
            )
        if cell(index, CredentialsRole) == Verdict.ALTERED:  # changed since it was signed: a badge
            badge = option.fontMetrics.boundingRect("⚠ Altered").adjusted(-5, -2, 5, 2)
            badge.moveTopLeft(box.topLeft() + QPoint(4, 4))
            p.setPen(Qt.PenStyle.NoPen)
            p.setBrush(QColor("#c62828"))
            p.drawRoundedRect(badge, 4, 4)
            p.setPen(QColor("white"))
            p.drawText(badge, Qt.AlignmentFlag.AlignCenter, "⚠ Altered")
        row: GalleryRow | None = cell(index, RowRole)
        if row is not None and row.starred:
            p.setPen(QColor("#f5b400"))
            f = p.font()
            f.setPointSizeF(f.pointSizeF() * 1.4)
            p.setFont(f)
            p.drawText(
                box.adjusted(4, 2, -4, 0), Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignTop, "★"
            )
            p.setFont(option.font)
        p.setPen(pal.color(QPalette.ColorRole.HighlightedText if selected else QPalette.ColorRole.Text))
        fm = option.fontMetrics
        text = fm.elidedText(cell(index) or "", Qt.TextElideMode.ElideRight, r.width() - 8)
        p.drawText(
            QRect(r.x() + 4, box.bottom() + 4, r.width() - 8, fm.height()), Qt.AlignmentFlag.AlignLeft, text
        )
        p.restore()


class GalleryGrid(QListView):
    """The thumbnail grid. Drag out gives the original files; dropping image files in imports them."""

    filesDropped = Signal(list)

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setViewMode(QListView.ViewMode.IconMode)
        self.setResizeMode(QListView.ResizeMode.Adjust)
        self.setMovement(QListView.Movement.Static)
        self.setUniformItemSizes(True)
        self.setGridSize(CELL)
        # lay out the first screenful at once and the rest of a 100 000-image grid in the background
        self.setLayoutMode(QListView.LayoutMode.Batched)
        self.setBatchSize(600)
        self.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.setDragEnabled(True)
        self.setAcceptDrops(True)
        self.setDragDropMode(QAbstractItemView.DragDropMode.DragDrop)
        self.setDefaultDropAction(Qt.DropAction.CopyAction)
        self.setVerticalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        self.verticalScrollBar().setSingleStep(40)
        self.setItemDelegate(ThumbDelegate(self))
        self.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)

    def dragEnterEvent(self, e) -> None:  # noqa: N802
        if e.source() is not self and e.mimeData().hasUrls():
            e.acceptProposedAction()
        else:
            super().dragEnterEvent(e)

    def dragMoveEvent(self, e) -> None:  # noqa: N802
        if e.source() is not self and e.mimeData().hasUrls():
            e.acceptProposedAction()
        else:
            e.ignore()

    def dropEvent(self, e) -> None:  # noqa: N802
        if e.source() is self:
            e.ignore()
            return
        paths = [u.toLocalFile() for u in e.mimeData().urls() if u.isLocalFile()]
        if paths:
            self.filesDropped.emit(paths)
            e.acceptProposedAction()


MODES = {"img2img": "Image to image", "inpaint": "Inpaint", "outpaint": "Extend canvas"}


def _spec(r: Recipe) -> GenerateSpec | None:
    """A Studio picture's own recipe, when it holds one that reads."""
    if not r.studio_spec:
        return None
    try:
        spec = GenerateSpec.from_dict(dict(r.studio_spec))
    except ValueError:
        return None
    return spec.replace(seed=r.seed) if r.seed is not None else spec


def recipe_html(r: Recipe, row: GalleryRow | None) -> str:
    def esc(t: object) -> str:
        return str(t).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("\n", "<br>")

    parts = [f"<p><b>Prompt</b><br>{esc(r.prompt) or '<i>(none)</i>'}</p>"]
    if r.negative_prompt:
        parts.append(f"<p><b>Negative prompt</b><br>{esc(r.negative_prompt)}</p>")
    spec = _spec(r)
    facts: list[tuple[str, object]]
    if spec is not None:  # Studio's own: every field the picture used, by the recipe's table
        facts = [("Mode", MODES[spec.mode])] if spec.mode != "txt2img" else []
        facts += [*recipe_facts(spec), ("Made with", r.source)]
    else:
        facts = [
            ("Steps", r.steps),
            ("Sampler", " ".join(x for x in (r.sampler, r.schedule) if x and x != "Automatic")),
            ("CFG scale", r.cfg_scale),
            ("Seed", r.seed),
            ("Size", f"{r.width}×{r.height}" if r.width else ""),
            ("Model", r.model),
            ("LoRAs", ", ".join(r.loras)),
            ("Made with", r.source),
        ]
    rows = "".join(
        f"<tr><td style='color:gray;padding-right:8px'>{k}</td><td>{esc(v)}</td></tr>"
        for k, v in facts
        if v not in (None, "")
    )
    parts.append(f"<table>{rows}</table>")
    if row is not None:
        parts.append(
            f"<p style='color:gray'>{time.strftime('%Y-%m-%d %H:%M', time.localtime(row.created))}"
            f" · {esc(row.rel)}</p>"
        )
    for problem in r.problems:
        parts.append(f"<p style='color:#e5484d'>{esc(problem)}</p>")
    return "".join(parts)


COMPARED = (("Prompt", "prompt"), ("Negative prompt", "negative_prompt"), ("Model", "model"), ("Sampler", "sampler"),
            ("Schedule", "schedule"), ("Steps", "steps"), ("CFG scale", "cfg_scale"), ("Seed", "seed"),
            ("Size", "size"), ("LoRAs", "loras"))  # fmt: skip


def recipe_differences(recipes: list[Recipe]) -> list[tuple[str, list[str]]]:
    """(field, each picture's value) for the recipe fields that differ between the pictures."""

    def value(r: Recipe, key: str) -> str:
        if key == "size":
            return f"{r.width}×{r.height}" if r.width else ""
        v = getattr(r, key, "")
        return ", ".join(v) if isinstance(v, list | tuple) else str(v if v is not None else "")

    out = []
    for label, key in COMPARED:
        values = [value(r, key) for r in recipes]
        if len(set(values)) > 1:
            out.append((label, values))
    return out


class CompareDialog(QDialog):
    def __init__(self, images: list[tuple[str, QImage, Recipe]], parent: QWidget | None = None):
        super().__init__(parent)
        self.setWindowTitle("Compare")
        fit_size(self, 1200, 720)
        outer = QVBoxLayout(self)
        lay = QHBoxLayout()
        for name, image, recipe in images:
            col = QVBoxLayout()
            view = ZoomView()
            view.set_image(image)
            col.addWidget(view, 1)
            text = QTextBrowser()
            text.setHtml(recipe_html(recipe, None))
            text.setMaximumHeight(200)
            col.addWidget(QLabel(name))
            col.addWidget(text)
            lay.addLayout(col)
        outer.addLayout(lay, 1)
        differ = recipe_differences([r for _, _, r in images])
        rows = "".join(f"<tr><td style='color:gray;padding-right:8px'>{label}</td>"
                       + "".join(f"<td style='padding-right:16px'>{_esc(v) or '—'}</td>" for v in values) + "</tr>"
                       for label, values in differ)  # fmt: skip
        self.differences = QLabel(f"<b>What differs</b><table>{rows}</table>" if differ else
                                  "The recipes are the same (the pictures differ by chance).", wordWrap=True)  # fmt: skip
        outer.addWidget(self.differences)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.close)
        outer.addWidget(buttons)


def _esc(t: object) -> str:
    return str(t).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


class GalleryViewer(QWidget):
    """The picture large (zoom and pan), what can be done with it, its lineage, and its recipe. ``on``: what each
    button does (use, init, copy, star, parent, child, upscale)."""

    def __init__(self, on: dict[str, Any], parent: QWidget | None = None):
        super().__init__(parent)
        v = QVBoxLayout(self)
        v.setContentsMargins(0, 0, 0, 0)
        self.view = ZoomView("Pick an image to see it large, with its recipe.\n\nDrop images here from other tools "
                             "to read their recipes.")  # fmt: skip
        v.addWidget(self.view, 3)
        self.use_btn = self._button(
            on["use"],
            "Use these settings",
            "use",
            "Fill the Image panel with this recipe, seed included (double-click does the same)",
        )
        self.init_btn = self._button(on["init"], "Use as init image", "image")
        self.copy_btn = self._button(on["copy"], "Copy prompt")
        self.star_btn = self._button(on["star"], "☆ Star")
        buttons = QHBoxLayout()
        for b in (self.use_btn, self.init_btn, self.copy_btn, self.star_btn):
            buttons.addWidget(b)
        v.addLayout(buttons)
        self.parent_btn = self._button(on["parent"], "← Made from")
        self.child_btn = self._button(on["child"], "Used for →")
        self.upscale_btn = self._button(on["upscale"], "Upscale…", tip="A larger copy (Lanczos, or an ESRGAN-family "
                                        "model), kept as this one's child")  # fmt: skip
        lineage = QHBoxLayout()
        lineage.addWidget(self.parent_btn)
        lineage.addWidget(self.child_btn)
        lineage.addStretch(1)
        lineage.addWidget(self.upscale_btn)
        v.addLayout(lineage)
        self.credentials = QLabel(objectName="credentials")  # the Content credentials panel: filled when read
        self.credentials.setWordWrap(True)
        self.credentials.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        v.addWidget(self.credentials)
        self.recipe = QTextBrowser()
        self.recipe.setOpenLinks(False)
        v.addWidget(self.recipe, 2)

    def show_credentials(self, report: Any | None) -> None:
        """The picture's Content credentials: a badge line (intact, altered, none) and what they say."""
        if report is None:
            self.credentials.setText("")
            return
        color, mark = {0: ("#2e7d32", "✔"), 1: ("#c62828", "⚠")}.get(int(report.verdict), ("#757575", "○"))
        rows = "".join(f"<br>{_esc(line)}" for line in report.lines())
        self.credentials.setText(f"<b>Content credentials</b> <span style='color:{color}'>{mark} "
                                 f"{_esc(report.summary)}</span><small>{rows}</small>")  # fmt: skip

    @staticmethod
    def _button(action: Any, text: str, icon_name: str = "", tip: str = "") -> QPushButton:
        b = QPushButton(icon(icon_name), text) if icon_name else QPushButton(text)
        if tip:
            b.setToolTip(tip)
        b.clicked.connect(action)
        return b
