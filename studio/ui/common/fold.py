"""A splitter's pane that folds away on a small window and comes back on a large one (unless the user folded it)."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QSplitter


class FoldBySize:
    """Call ``follow(width)`` from the owner's resizeEvent. Below ``below`` pixels the pane ``index`` folds (its
    room goes to its neighbour); at ``below`` or more the sizes ``restore(total)`` are set once, and again when it
    was the size that folded the pane — a pane the user dragged shut stays shut."""

    def __init__(
        self,
        split: QSplitter,
        index: int,
        below: int,
        restore: Callable[[int], list[int]],
        small: Callable[[int], list[int]] | None = None,
    ):
        """``small(total)``: the sizes when folding (the folded pane 0), where its room should not all go to
        its neighbour."""
        self.split, self.index, self.below, self.restore, self.small = split, index, below, restore, small
        self.folded_by_size = False
        self.laid_out = False
        self.width = 0

    def follow(self, width: int) -> None:
        self.width = width
        sizes = self.split.sizes()
        total = sum(sizes)
        if total <= 0:  # not laid out yet
            return
        if width < self.below:
            if sizes[self.index] > 0:
                self.folded_by_size = True
                neighbour = self.index + 1 if self.index == 0 else self.index - 1
                sizes[neighbour] += sizes[self.index]
                sizes[self.index] = 0
                self.split.setSizes(self.small(total) if self.small else sizes)
        elif not self.laid_out or (self.folded_by_size and sizes[self.index] == 0):
            self.laid_out, self.folded_by_size = True, False
            # once the window's new size has reached the splitter (nested layouts settle after this event)
            QTimer.singleShot(0, self._restore)

    def _restore(self) -> None:
        total = sum(self.split.sizes())
        if total > 0 and self.width >= self.below:  # still large (a quick shrink after the grow wins)
            self.split.setSizes(self.restore(total))
