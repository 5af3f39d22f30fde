"""The Models room's list of what each server the user added offers (text models; a ComfyUI server's checkpoints,
LoRAs and VAEs), asked off the GUI thread."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QPushButton,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from studio.ui.common.theme import icon
from studio.viewmodels.server_book import ServerBook


class ServerModelsPanel(QWidget):
    """The models of the servers the user added, beside the local ones; asked only when the user refreshes (or
    first opens this room with servers saved)."""

    useServerModel = Signal(str, str)
    useComfyModel = Signal(str, str)  # (a ComfyUI server's name, its checkpoint)

    def __init__(self, book: ServerBook, parent: QWidget | None = None):
        super().__init__(parent)
        self.book = book
        v = QVBoxLayout(self)
        v.setContentsMargins(0, 8, 0, 0)
        row = QHBoxLayout()
        row.addWidget(QLabel("<b>On your servers</b>"))
        row.addStretch(1)
        self.refresh_btn = QPushButton(icon("recycle"), "Refresh")
        self.refresh_btn.setToolTip("Ask each server you added for its models")
        self.refresh_btn.clicked.connect(self.refresh)
        row.addWidget(self.refresh_btn)
        servers_btn = QPushButton("Servers…")
        servers_btn.setToolTip("Add or remove servers: text (OpenAI-compatible) and pictures (ComfyUI)")
        servers_btn.clicked.connect(self.edit_servers)
        row.addWidget(servers_btn)
        v.addLayout(row)
        self.tree = QTreeWidget()
        self.tree.setHeaderHidden(True)
        self.tree.setMinimumHeight(90)
        self.tree.itemDoubleClicked.connect(lambda item, _c: self._use(item))
        v.addWidget(self.tree)
        self.use_btn = QPushButton("Write with this server model")
        self.use_btn.clicked.connect(lambda: self._use(self.tree.currentItem()))
        self.tree.currentItemChanged.connect(lambda item, _prev: self._follow(item))
        v.addWidget(self.use_btn)
        self._asked = False
        book.changed.connect(self.fill)
        book.modelsListed.connect(lambda _url, _models: self.fill())
        book.checkpointsListed.connect(lambda _name, _found: self.fill())
        self.fill()

    def showEvent(self, event) -> None:  # noqa: ANN001, N802 (Qt's name)
        super().showEvent(event)
        if not self._asked and (self.book.servers() or self.book.comfy_servers()):
            self.refresh()

    def edit_servers(self) -> None:
        from studio.ui.common.servers_dialog import ServersDialog

        ServersDialog(self.book, self).exec()
        self.refresh()

    def refresh(self) -> None:
        self._asked = True
        for server in self.book.servers():
            self.book.list_models(server.url)
        for server in self.book.comfy_servers():
            self.book.list_checkpoints(server.name)

    def fill(self) -> None:
        self.tree.clear()
        servers = self.book.servers()
        if not servers and not self.book.comfy_servers():
            hint = QTreeWidgetItem(["No servers yet: add one with Servers… (or studio backends add)"])
            hint.setFlags(Qt.ItemFlag.NoItemFlags)
            self.tree.addTopLevelItem(hint)
        for server in servers:
            top = QTreeWidgetItem([f"{server.name} — {server.url}"])
            self.tree.addTopLevelItem(top)
            error = self.book.errors.get(server.url)
            models = self.book.models.get(server.url)
            if error:
                child = QTreeWidgetItem([f"unreachable: {error}"])
                child.setToolTip(0, error)
                child.setFlags(Qt.ItemFlag.NoItemFlags)
                top.addChild(child)
            elif models is None:
                child = QTreeWidgetItem(["(not asked yet: Refresh)"])
                child.setFlags(Qt.ItemFlag.NoItemFlags)
                top.addChild(child)
            for model in models or []:
                child = QTreeWidgetItem([model])
                child.setData(0, Qt.ItemDataRole.UserRole, (server.url, model))
                top.addChild(child)
        for server in self.book.comfy_servers():
            self._fill_comfy(server)
        self.tree.expandAll()

    def _fill_comfy(self, server: Any) -> None:
        """A ComfyUI server: its checkpoints (double-click: make pictures with it there), LoRAs and VAEs."""
        top = QTreeWidgetItem([f"{server.name} — {server.url} (ComfyUI)"])
        self.tree.addTopLevelItem(top)
        offer, error = self.book.comfy_models.get(server.name), self.book.errors.get(server.name)
        if error or offer is None:
            child = QTreeWidgetItem([f"unreachable: {error}" if error else "(not asked yet: Refresh)"])
            child.setToolTip(0, error or "")
            child.setFlags(Qt.ItemFlag.NoItemFlags)
            top.addChild(child)
            return
        for label, names, usable in (("Checkpoints", offer.checkpoints, True), ("LoRAs", offer.loras, False),
                                     ("VAEs", offer.vaes, False)):  # fmt: skip
            group = QTreeWidgetItem([f"{label} ({len(names)})"])
            group.setFlags(Qt.ItemFlag.ItemIsEnabled)
            top.addChild(group)
            for name in names[:2000]:
                item = QTreeWidgetItem([name])
                if usable:
                    item.setData(0, Qt.ItemDataRole.UserRole, ("comfy", server.name, name))
                    item.setToolTip(0, "Double-click: make pictures with it on this server")
                group.addChild(item)

    def _follow(self, item: QTreeWidgetItem | None) -> None:
        data = item.data(0, Qt.ItemDataRole.UserRole) if item is not None else None
        comfy = bool(data) and data[0] == "comfy"
        self.use_btn.setText("Make pictures with it there" if comfy else "Write with this server model")
        self.use_btn.setEnabled(bool(data))

    def _use(self, item: QTreeWidgetItem | None) -> None:
        data = item.data(0, Qt.ItemDataRole.UserRole) if item is not None else None
        if data and data[0] == "comfy":
            self.useComfyModel.emit(data[1], data[2])
        elif data:
            self.useServerModel.emit(*data)
