"""The story's branches as a tree: every generation, retry, rewrite and token branch, the path in place in bold.
Choosing a branch puts its text in place (one undo step); the tree is saved with the story."""

from __future__ import annotations

import time

from PySide6.QtCore import Qt
from PySide6.QtGui import QFont
from PySide6.QtWidgets import QLabel, QTreeWidget, QTreeWidgetItem, QVBoxLayout, QWidget

from studio.viewmodels.document_session import DocumentSession

KIND_WORDS = {
    "continue": "Continued",
    "retry": "Retry",
    "rewrite": "Rewrite",
    "original": "Original passage",
    "token": "From a token",
}


def _when(created: float) -> str:
    if not created:
        return ""
    t = time.localtime(created)
    return time.strftime("%H:%M" if time.localtime()[:3] == t[:3] else "%d %b %H:%M", t)


class BranchesPanel(QWidget):
    def __init__(self, doc: DocumentSession, parent: QWidget | None = None):
        super().__init__(parent)
        self.doc = doc
        v = QVBoxLayout(self)
        hint = QLabel(
            "Every generation, retry and rewrite of this story. Choose one to put its text in place."
        )
        hint.setWordWrap(True)
        hint.setObjectName("hint")
        v.addWidget(hint)
        self.tree = QTreeWidget()
        self.tree.setHeaderLabels(["Branch", "When"])
        self.tree.setColumnWidth(0, 250)
        self.tree.itemActivated.connect(self._chosen)
        self.tree.itemClicked.connect(self._chosen)
        v.addWidget(self.tree, 1)
        self.empty = QLabel("No branches yet: press Continue.")
        self.empty.setObjectName("hint")
        v.addWidget(self.empty)
        doc.treeChanged.connect(self.refresh)
        self.refresh()

    def refresh(self) -> None:
        tree = self.doc.tree
        on_path = {n.id for n in tree.path(tree.active)}
        self.tree.clear()
        items: dict[str, QTreeWidgetItem] = {}

        def add(parent_id: str, parent_item: QTreeWidgetItem | None) -> None:
            for node in tree.children(parent_id):
                item = QTreeWidgetItem(
                    [f"{KIND_WORDS.get(node.kind, node.kind)}: {node.label}", _when(node.created)]
                )
                item.setData(0, Qt.ItemDataRole.UserRole, node.id)
                item.setToolTip(0, node.text[:600] + (f"\n\n— {node.model}" if node.model else ""))
                if node.id in on_path:
                    font = QFont(item.font(0))
                    font.setBold(True)
                    item.setFont(0, font)
                if parent_item is None:
                    self.tree.addTopLevelItem(item)
                else:
                    parent_item.addChild(item)
                items[node.id] = item
                add(node.id, item)

        add("", None)
        self.tree.expandAll()
        if tree.active in items:
            self.tree.setCurrentItem(items[tree.active])
        self.empty.setVisible(not tree.nodes)

    def _chosen(self, item: QTreeWidgetItem) -> None:
        node_id = item.data(0, Qt.ItemDataRole.UserRole)
        if node_id and node_id != self.doc.tree.active:
            self.doc.pick(node_id)

    def items(self) -> list[tuple[str, str]]:
        """(node id, label) of every row, depth first (what the view lists)."""
        out: list[tuple[str, str]] = []

        def walk(item: QTreeWidgetItem) -> None:
            out.append((item.data(0, Qt.ItemDataRole.UserRole), item.text(0)))
            for i in range(item.childCount()):
                walk(item.child(i))

        for i in range(self.tree.topLevelItemCount()):
            walk(self.tree.topLevelItem(i))
        return out
