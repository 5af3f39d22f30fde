"""The servers a user added (OpenAI-compatible: llama.cpp, Ollama, LM Studio, vLLM, koboldcpp, transformers
serve…): add, remove, and ask one for its models — off the GUI thread. Studio connects to nothing until a server is
added here; keys go to the system keyring."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QObject, Signal

from studio.core.settings import Settings
from studio.remote.http import Endpoint, normalise_base, url_problem
from studio.remote.servers import Keys, Server, servers_of
from studio.viewmodels.background import in_background


class ServerBook(QObject):
    changed = Signal()
    modelsListed = Signal(str, object)  # (base URL, [model ids]) or (base URL, an error sentence)

    def __init__(self, settings: Settings, keys: Keys, parent: QObject | None = None):
        super().__init__(parent)
        self.settings = settings
        self.keys = keys
        self.models: dict[str, list[str]] = {}  # what each server listed last
        self.errors: dict[str, str] = {}  # why a server could not be asked, the last time

    def servers(self) -> list[Server]:
        """The text servers (OpenAI-compatible); ComfyUI servers run image jobs."""
        return [s for s in servers_of(self.settings.servers) if s.kind == "openai"]

    def add(self, name: str, url: str, key: str = "", insecure_tls: bool = False) -> str:
        """Save a server (its key in the keyring). Returns '' or why it cannot be saved."""
        name, url = name.strip(), url.strip()
        if not name:
            return "Give the server a name."
        if problem := url_problem(url):
            return problem
        base = normalise_base(url)
        entries = [s for s in servers_of(self.settings.servers) if s.name != name]
        entries.append(Server(name, base, "openai", insecure_tls))
        self.settings.servers = [s.as_dict() for s in entries]
        note = ""
        if key and not self.keys.set(base, key):
            note = f"Saved, but {self.keys.problem}."
        self.changed.emit()
        return note

    def remove(self, name: str) -> None:
        gone = [s for s in self.servers() if s.name == name]
        self.settings.servers = [s.as_dict() for s in servers_of(self.settings.servers) if s not in gone]
        for s in gone:
            self.keys.set(s.url, None)
        self.changed.emit()

    def endpoint(self, base: str) -> Endpoint:
        server = next((s for s in self.servers() if s.url == base), None)
        return Endpoint(base, self.keys.get(base), server.insecure_tls if server else False)

    def list_models(self, base: str) -> None:
        """Ask the server for its models in the background; ``modelsListed`` answers."""
        from studio.remote.openai_text import list_models

        def done(models: list[dict[str, Any]]) -> None:
            self.models[base] = [m["id"] for m in models]
            self.errors.pop(base, None)
            self.modelsListed.emit(base, self.models[base])

        def failed(e: BaseException) -> None:
            self.errors[base] = getattr(e, "user_message", str(e))
            self.modelsListed.emit(base, self.errors[base])

        in_background(self, lambda: list_models(self.endpoint(base)), done, name="studio-server-models",
                      on_error=failed)  # fmt: skip
