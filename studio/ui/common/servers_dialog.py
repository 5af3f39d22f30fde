"""Add or remove the servers Studio runs jobs on: OpenAI-compatible servers the Writer writes with (llama.cpp's
server, Ollama, LM Studio, vLLM, koboldcpp, transformers serve, a hosted API) and ComfyUI servers that make
pictures: name, kind, address, API key (kept in the system keyring), and the explicit consent a self-signed
certificate needs. *Check* asks the server what it offers."""

from __future__ import annotations

from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from studio.ui.common.theme import fit_size
from studio.viewmodels.server_book import ServerBook


class ServersDialog(QDialog):
    def __init__(self, book: ServerBook, parent: QWidget | None = None):
        super().__init__(parent)
        self.setWindowTitle("Servers")
        self.book = book
        v = QVBoxLayout(self)
        intro = QLabel("Studio writes with models running on servers you already have — llama.cpp, Ollama, LM "
                       "Studio, vLLM, koboldcpp — through their OpenAI-compatible API, and makes pictures on ComfyUI "
                       "servers. Studio connects only to the servers listed here.")  # fmt: skip
        intro.setWordWrap(True)
        v.addWidget(intro)
        self.list = QListWidget()
        v.addWidget(self.list, 1)
        form = QFormLayout()
        self.name = QLineEdit(placeholderText="e.g. llama.cpp on the desk PC")
        self.url = QLineEdit(placeholderText="http://127.0.0.1:8080 (Ollama: http://127.0.0.1:11434)")
        self.key = QLineEdit(placeholderText="only if the server asks for one")
        self.key.setEchoMode(QLineEdit.EchoMode.Password)
        self.insecure = QCheckBox("I trust this server's self-signed certificate")
        self.insecure.setToolTip(
            "Only for https servers whose certificate no authority signed (your own machine)"
        )
        self.kind = QComboBox()
        self.kind.addItem("Text: OpenAI-compatible (llama.cpp, Ollama, LM Studio, vLLM…)", "openai")
        self.kind.addItem("Pictures: ComfyUI", "comfyui")
        self.kind.currentIndexChanged.connect(self._kind_changed)
        form.addRow("Kind", self.kind)
        form.addRow("Name", self.name)
        form.addRow("Address", self.url)
        form.addRow("API key", self.key)
        form.addRow("", self.insecure)
        v.addLayout(form)
        row = QHBoxLayout()
        self.add_btn = QPushButton("Add")
        self.add_btn.clicked.connect(self._add)
        self.check_btn = QPushButton("Check")
        self.check_btn.setToolTip("Ask the selected server for its models")
        self.check_btn.clicked.connect(self._check)
        self.remove_btn = QPushButton("Remove")
        self.remove_btn.clicked.connect(self._remove)
        for b in (self.add_btn, self.check_btn, self.remove_btn):
            row.addWidget(b)
        row.addStretch(1)
        v.addLayout(row)
        self.status = QLabel()
        self.status.setWordWrap(True)
        v.addWidget(self.status)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        v.addWidget(buttons)
        book.changed.connect(self._fill)
        book.modelsListed.connect(self._listed)
        book.checkpointsListed.connect(
            lambda name, found: self._listed(name, found if isinstance(found, str) else [*found])
        )
        self._fill()
        fit_size(self, 560, 460)

    def _kind_changed(self) -> None:
        comfy = self.kind.currentData() == "comfyui"
        self.name.setPlaceholderText("e.g. the GPU box" if comfy else "e.g. llama.cpp on the desk PC")
        self.url.setPlaceholderText(
            "http://gpu-box:8188" if comfy else "http://127.0.0.1:8080 (Ollama: http://127.0.0.1:11434)"
        )

    def _fill(self) -> None:
        self.list.clear()
        for s in self.book.all_servers():
            self.list.addItem(f"{s.name} — {s.url} ({'ComfyUI' if s.kind == 'comfyui' else 'text'})")
        self.check_btn.setEnabled(self.list.count() > 0)
        self.remove_btn.setEnabled(self.list.count() > 0)

    def _selected(self):  # noqa: ANN202
        row = self.list.currentRow()
        servers = self.book.all_servers()
        return servers[row] if 0 <= row < len(servers) else (servers[-1] if servers else None)

    def _add(self) -> None:
        problem = self.book.add(self.name.text(), self.url.text(), self.key.text(), self.insecure.isChecked(),
                                self.kind.currentData())  # fmt: skip
        if problem and not problem.startswith("Saved"):
            self.status.setText(problem)
            return
        self.status.setText(problem or f"Saved {self.name.text().strip()}. Press Check to see its models.")
        self.key.clear()
        self.list.setCurrentRow(self.list.count() - 1)

    def _check(self) -> None:
        server = self._selected()
        if server is not None:
            self.status.setText(f"Asking {server.url}…")
            if server.kind == "comfyui":
                self.book.list_checkpoints(server.name)
            else:
                self.book.list_models(server.url)

    def _listed(self, url: str, models: object) -> None:
        if isinstance(models, str):
            self.status.setText(models)
        else:
            names = ", ".join(models[:8]) + (f" and {len(models) - 8} more" if len(models) > 8 else "")
            self.status.setText(f"{url} offers: {names or 'no models'}.")

    def _remove(self) -> None:
        server = self._selected()
        if server is not None:
            self.book.remove(server.name)
            self.status.setText(f"Removed {server.name} (and its key).")
