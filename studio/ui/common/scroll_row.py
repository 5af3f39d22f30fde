"""A row of buttons or filters that never holds the window wide: on a narrow window it scrolls sideways instead
of clipping or overlapping (a laptop's smallest window still shows every control)."""

from __future__ import annotations

from PySide6.QtCore import QEvent, QObject, QSize, Qt
from PySide6.QtWidgets import QFrame, QLayout, QScrollArea, QSizePolicy, QWidget


class ScrollRow(QScrollArea):
    def __init__(self, row: QLayout, parent: QWidget | None = None):
        super().__init__(parent)
        inner = QWidget()
        inner.setLayout(row)
        self.setWidget(inner)
        self.setWidgetResizable(True)
        self.setFrameShape(QFrame.Shape.NoFrame)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAsNeeded)
        self.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        inner.installEventFilter(self)
        self._fit()

    def _fit(self) -> None:
        """Scroll rather than squeeze a control below its size: the row is as wide as its visible controls."""
        layout = self.widget().layout()
        if layout is not None:
            self.widget().setMinimumWidth(layout.sizeHint().width())

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 (Qt's name)
        if watched is self.widget() and event.type() == QEvent.Type.LayoutRequest:
            self._fit()  # a control was shown or hidden
        return super().eventFilter(watched, event)

    def sizeHint(self) -> QSize:  # noqa: N802 (Qt's name)
        inner = self.widget().sizeHint()
        bar = self.horizontalScrollBar().sizeHint().height()
        return QSize(inner.width(), inner.height() + bar)

    def minimumSizeHint(self) -> QSize:  # noqa: N802
        return QSize(120, self.sizeHint().height())
