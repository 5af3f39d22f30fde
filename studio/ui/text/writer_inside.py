"""The Writer's Inside tab: what the model does with your text. The next token at the cursor as a ranked list
(the model's own probabilities, and what your sampler settings make of them — recomputed as you move a slider),
the same start written with different settings side by side, and which earlier words a token attended to."""

from __future__ import annotations

import html
import math
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QModelIndex, QPersistentModelIndex, QRect, Qt, Signal
from PySide6.QtGui import QColor, QPainter, QTextCursor, QTextDocument
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QStyledItemDelegate,
    QStyleOptionViewItem,
    QTableWidget,
    QTableWidgetItem,
    QTextBrowser,
    QTextEdit,
    QVBoxLayout,
    QWidget,
)

from studio.core.text.next_token import after_sampling
from studio.core.text.text_explain import COMPARE_DEFAULTS, COMPARE_FIELDS
from studio.ui.common.theme import ACCENT, fit_size
from studio.viewmodels.text_explain import TextExplainer

SHOWN = 20  # candidates in the list
SAMPLER_FIELDS = ("temperature", "top_k", "top_p", "min_p")
BarRole = Qt.ItemDataRole.UserRole + 1


class _Bar(QStyledItemDelegate):
    """A probability as a bar behind its number."""

    def paint(
        self, painter: QPainter, option: QStyleOptionViewItem, index: QModelIndex | QPersistentModelIndex
    ) -> None:
        value = index.data(BarRole)
        if isinstance(value, float) and value > 0:
            r = option.rect.adjusted(2, 3, -2, -3)  # type: ignore[attr-defined]
            colour = QColor(ACCENT)
            colour.setAlpha(110)
            painter.fillRect(QRect(r.left(), r.top(), max(1, int(r.width() * value)), r.height()), colour)
        super().paint(painter, option, index)


def token_label(text: str) -> str:
    """A token as a reader can see it: spaces and line breaks made visible."""
    return text.replace("\n", "↵").replace(" ", "·") or "∅"


class InsidePanel(QWidget):
    highlight = Signal(object)  # [(start, end, strength 0..1)] of the editor's text; [] clears
    insertRequested = Signal(str)  # a token to write at the cursor

    def __init__(
        self, explainer: TextExplainer, where: Callable[[], tuple[str, int]], parent: QWidget | None = None
    ):
        """``where()``: the editor's text and the cursor's position in it."""
        super().__init__(parent)
        self.explainer, self.session, self._where = explainer, explainer.session, where
        self._candidates: list[tuple[str, float]] = []
        v = QVBoxLayout(self)
        v.addWidget(self._next_box(), 3)
        v.addWidget(self._compare_box())
        v.addWidget(self._attention_box())
        self.status = QLabel(objectName="hint", wordWrap=True)
        v.addWidget(self.status)
        explainer.said.connect(self.status.setText)
        explainer.nextReady.connect(self.show_candidates)
        explainer.compareStarted.connect(self._compare_started)
        explainer.compareToken.connect(self._compare_token)
        explainer.compareEnded.connect(self._compare_ended)
        explainer.attentionReady.connect(self.show_attention)
        self.session.changed.connect(lambda name: name in SAMPLER_FIELDS and self._fill_table())
        self.compare_dialog: QDialog | None = None
        self._columns: list[QTextBrowser] = []

    # -- the next token ------------------------------------------------------------------------------------------
    def _next_box(self) -> QGroupBox:
        box = QGroupBox("Next token at the cursor")
        v = QVBoxLayout(box)
        self.next_btn = QPushButton("What comes next?")
        self.next_btn.setToolTip(
            "The model's probabilities for the token after the cursor, as it would see the story (Memory, "
            "Lorebook and Author's Note included)"
        )
        self.next_btn.clicked.connect(self.ask_next)
        v.addWidget(self.next_btn)
        self.settings_line = QLabel(objectName="hint", wordWrap=True)
        v.addWidget(self.settings_line)
        self.table = QTableWidget(0, 3)
        self.table.setHorizontalHeaderLabels(["Token", "Model", "Your settings"])
        self.table.horizontalHeaderItem(1).setToolTip("The model's own probability (before the sampler)")
        self.table.horizontalHeaderItem(2).setToolTip(
            "The chance it is written with your temperature, top-k, top-p and min-p (0: never)"
        )
        self.table.verticalHeader().setVisible(False)
        self.table.verticalHeader().setDefaultSectionSize(self.fontMetrics().height() + 8)
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QTableWidget.SelectionBehavior.SelectRows)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        for c in (1, 2):
            header.setSectionResizeMode(c, QHeaderView.ResizeMode.ResizeToContents)
            self.table.setItemDelegateForColumn(c, _Bar(self.table))
        self.table.cellDoubleClicked.connect(self._write_candidate)
        self.table.setToolTip("Double-click a token to write it at the cursor")
        v.addWidget(self.table, 1)
        self._fill_table()
        return box

    def ask_next(self) -> None:
        text, pos = self._where()
        self.explainer.next_token(text[:pos])

    def show_candidates(self, candidates: list[tuple[str, float]]) -> None:
        self._candidates = list(candidates)
        self._fill_table()

    def sampled(self) -> list[float]:
        s = self.session
        return after_sampling(
            [lp for _, lp in self._candidates],
            float(s.value("temperature")),
            int(s.value("top_k")),
            float(s.value("top_p")),
            float(s.value("min_p")),
        )

    def _fill_table(self) -> None:
        s = self.session
        off = lambda v, none: "off" if v == none else f"{v:g}"  # noqa: E731
        self.settings_line.setText(
            f"Your settings: temperature {s.value('temperature'):g} · top-k {off(s.value('top_k'), 0)} · "
            f"top-p {off(s.value('top_p'), 1.0)} · min-p {off(s.value('min_p'), 0.0)} — change them in "
            "Settings and the last column follows."
        )
        after = self.sampled()
        rows = list(zip(self._candidates, after, strict=True))[:SHOWN]
        peaks = {
            1: max((math.exp(lp) for (_, lp), _ in rows), default=1.0),
            2: max(after[:SHOWN], default=1.0),
        }
        self.table.setRowCount(len(rows))
        for r, ((text, logprob), p_after) in enumerate(rows):
            token = QTableWidgetItem(token_label(text))
            token.setData(Qt.ItemDataRole.UserRole, text)
            token.setToolTip(repr(text))
            self.table.setItem(r, 0, token)
            for c, p in ((1, math.exp(logprob)), (2, p_after)):
                item = QTableWidgetItem(f"{p:.1%}" if p >= 0.001 or p == 0 else "<0.1%")
                item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                item.setData(BarRole, float(p) / (peaks[c] or 1.0))  # bars: against the column's likeliest
                if c == 2 and p == 0:
                    item.setForeground(QColor("#888888"))
                self.table.setItem(r, c, item)

    def rows(self) -> list[tuple[str, str, str]]:
        """The table as shown (token, model, with your settings)."""
        return [
            tuple(self.table.item(r, c).text() for c in range(3))  # type: ignore[misc]
            for r in range(self.table.rowCount())
        ]

    def _write_candidate(self, row: int, _column: int) -> None:
        item = self.table.item(row, 0)
        if item is not None:
            self.insertRequested.emit(str(item.data(Qt.ItemDataRole.UserRole)))

    # -- same start, different settings --------------------------------------------------------------------------
    def _compare_box(self) -> QGroupBox:
        box = QGroupBox("Same start, different settings")
        v = QVBoxLayout(box)
        row = QHBoxLayout()
        self.field_box = QComboBox()
        for name in COMPARE_FIELDS:
            self.field_box.addItem(name.replace("_", "-"), name)
        self.field_box.currentIndexChanged.connect(
            lambda _: self.values_edit.setText(COMPARE_DEFAULTS[self.field_box.currentData()])
        )
        self.values_edit = QLineEdit(COMPARE_DEFAULTS["temperature"])
        self.values_edit.setToolTip("The values to compare, separated by commas (2 to 6)")
        row.addWidget(self.field_box)
        row.addWidget(self.values_edit, 1)
        v.addLayout(row)
        self.compare_btn = QPushButton("Write side by side")
        self.compare_btn.setToolTip(
            "The model continues from the cursor once per value, from the same seed: the setting is the only "
            "difference"
        )
        self.compare_btn.clicked.connect(self.compare)
        v.addWidget(self.compare_btn)
        return box

    def compare(self) -> None:
        text, pos = self._where()
        self.explainer.compare(text[:pos], str(self.field_box.currentData()), self.values_edit.text())

    def _compare_started(self, labels: list[str]) -> None:
        dialog = QDialog(self.window())
        dialog.setWindowTitle("Same start, different settings")
        dialog.setModal(False)
        v = QVBoxLayout(dialog)
        text, pos = self._where()
        start = QLabel(
            f"<i>…{html.escape(text[:pos][-160:])}</i><br><span style='color:#888'>{self.explainer.last_seed_note}"
            "</span>",
            wordWrap=True,
        )
        v.addWidget(start)
        row = QHBoxLayout()
        self._columns = []
        for label in labels:
            col = QVBoxLayout()
            col.addWidget(QLabel(f"<b>{html.escape(label)}</b>"))
            view = QTextBrowser()
            col.addWidget(view, 1)
            use = QPushButton("Use this")
            use.setToolTip("Write this continuation at the cursor")
            use.clicked.connect(lambda _=False, w=view: self.insertRequested.emit(w.toPlainText()))
            col.addWidget(use)
            row.addLayout(col, 1)
            self._columns.append(view)
        v.addLayout(row, 1)
        foot = QHBoxLayout()
        foot.addStretch(1)
        stop = QPushButton("Stop")
        stop.clicked.connect(self.explainer.stop_compare)
        foot.addWidget(stop)
        v.addLayout(foot)
        fit_size(dialog, min(1200, 320 * len(labels)), 460)
        dialog.show()
        self.compare_dialog = dialog
        self.compare_btn.setEnabled(False)

    def _compare_token(self, column: int, piece: str) -> None:
        if 0 <= column < len(self._columns):
            view = self._columns[column]
            view.setPlainText(view.toPlainText() + piece)

    def _compare_ended(self, column: int, why: str) -> None:
        if why and 0 <= column < len(self._columns):
            self._columns[column].append(f"\n[{why}]")
        self.compare_btn.setEnabled(not self.explainer.comparing)

    def compared(self) -> list[str]:
        return [view.toPlainText() for view in self._columns]

    # -- attention -----------------------------------------------------------------------------------------------
    def _attention_box(self) -> QGroupBox:
        box = QGroupBox("What a token looked at")
        v = QVBoxLayout(box)
        row = QHBoxLayout()
        self.attention_btn = QPushButton("At the cursor")
        self.attention_btn.setToolTip(
            "Which earlier words the model attended to when it read the token at the cursor (averaged over "
            "its heads and layers), highlighted in the text"
        )
        self.attention_btn.clicked.connect(self.ask_attention)
        clear = QPushButton("Clear")
        clear.clicked.connect(lambda: (self.highlight.emit([]), self.attention_label.setText("")))
        row.addWidget(self.attention_btn, 1)
        row.addWidget(clear)
        v.addLayout(row)
        self.attention_label = QLabel(wordWrap=True)
        self.attention_label.setTextFormat(Qt.TextFormat.RichText)
        v.addWidget(self.attention_label)
        return box

    def ask_attention(self) -> None:
        text, pos = self._where()
        if pos >= len(text) or (pos > 0 and not text[pos].strip()):
            pos -= 1  # the cursor after a word: that word
        self.explainer.attention(text, max(0, pos))

    def show_attention(self, result: Any) -> None:
        text, _ = self._where()
        top = result.strongest(6)
        peak = max((w for _, _, w in result.spans), default=0.0) or 1.0
        self.highlight.emit([(a, b, w / peak) for a, b, w in result.spans])
        words = ", ".join(f"“{html.escape(text[a:b].strip())}” {w:.0%}" for a, b, w in top)
        self.attention_label.setText(
            f"<b>“{html.escape(result.token.strip())}”</b> looked most at: {words or '(nothing before it)'}"
            f"<br><span style='color:#888'>{result.layers} layers × {result.heads} heads, averaged; the first "
            f"position's raw share: {result.sink:.0%}</span>"
        )


def attention_selections(document: QTextDocument, spans: list[tuple[int, int, float]]) -> list[Any]:
    """The editor's shading of earlier tokens by how much a token attended to them (the strongest fully)."""
    size = max(0, document.characterCount() - 1)
    selections = []
    for start, end, strength in spans:
        if strength < 0.05:
            continue
        sel = QTextEdit.ExtraSelection()
        sel.cursor = QTextCursor(document)
        sel.cursor.setPosition(min(start, size))
        sel.cursor.setPosition(min(end, size), QTextCursor.MoveMode.KeepAnchor)
        sel.format.setBackground(QColor(255, 140, 40, int(30 + 170 * strength)))
        sel.format.setToolTip(f"{strength:.0%} of the strongest")
        selections.append(sel)
    return selections
