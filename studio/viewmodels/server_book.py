"""The servers a user added (OpenAI-compatible: llama.cpp, Ollama, LM Studio, vLLM, koboldcpp, transformers
serve…): add, remove, and ask one for its models — off the GUI thread. Studio connects to nothing until a server is
added here; keys go to the system keyring."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QObject, Signal

from studio.core.io.settings import Settings
from studio.core.jobs.servers import (
    Keys,
    Server,
    comfy_root,
    normalise_base,
    servers_of,
    url_problem,
)
from studio.viewmodels.background import in_background


class ServerBook(QObject):
    changed = Signal()
    modelsListed = Signal(str, object)  # (base URL, [model ids]) or (base URL, an error sentence)
    checkpointsListed = Signal(
        str, object
    )  # (a ComfyUI server's name, [checkpoints]) or (name, an error sentence)

    def __init__(self, settings: Settings, keys: Keys, door: Any, parent: QObject | None = None):
        """``door``: the runtime's ``Servers`` — what can be asked of a server (this class makes no request)."""
        super().__init__(parent)
        self.settings = settings
        self.keys = keys
        self.door = door
        self.models: dict[str, list[str]] = {}  # what each server listed last
        self.errors: dict[str, str] = {}  # why a server could not be asked, the last time
        self.comfy_models: dict[str, Any] = {}  # a ComfyUI server's offer (ServerModels) by its name

    def servers(self) -> list[Server]:
        """The text servers (OpenAI-compatible); ComfyUI servers run image jobs."""
        return [s for s in servers_of(self.settings.servers) if s.kind == "openai"]

    def all_servers(self) -> list[Server]:
        """Every saved server: text (OpenAI-compatible) and images (ComfyUI)."""
        return servers_of(self.settings.servers)

    def add(
        self, name: str, url: str, key: str = "", insecure_tls: bool = False, kind: str = "openai"
    ) -> str:
        """Save a server (its key in the keyring). Returns '' or why it cannot be saved."""
        name, url = name.strip(), url.strip()
        if not name:
            return "Give the server a name."
        if name.lower() in ("all", "local"):
            return f"“{name}” is a word of Studio's own (all backends, this machine): choose another name."
        if problem := url_problem(url):
            return problem
        base = comfy_root(url) if kind == "comfyui" else normalise_base(url)
        entries = [s for s in servers_of(self.settings.servers) if s.name != name]
        entries.append(Server(name, base, kind, insecure_tls))
        self.settings.servers = [s.as_dict() for s in entries]
        note = ""
        if key and not self.keys.set(base, key):
            note = f"Saved, but {self.keys.problem}."
        self.changed.emit()
        return note

    def remove(self, name: str) -> None:
        gone = [s for s in self.all_servers() if s.name == name]
        self.settings.servers = [s.as_dict() for s in servers_of(self.settings.servers) if s not in gone]
        for s in gone:
            self.keys.set(s.url, None)
        self.changed.emit()

    def list_models(self, base: str) -> None:
        """Ask the server for its models in the background; ``modelsListed`` answers."""

        def done(models: list[dict[str, Any]]) -> None:
            self.models[base] = [m["id"] for m in models]
            self.errors.pop(base, None)
            self.modelsListed.emit(base, self.models[base])

        def failed(e: BaseException) -> None:
            self.errors[base] = getattr(e, "user_message", str(e))
            self.modelsListed.emit(base, self.errors[base])

        in_background(self, lambda: self.door.text_models(base), done, name="studio-server-models",
                      on_error=failed)  # fmt: skip

    def comfy_servers(self) -> list[Server]:
        return [s for s in servers_of(self.settings.servers) if s.kind == "comfyui"]

    def list_checkpoints(self, name: str) -> None:
        """Ask a ComfyUI server what it offers (``/object_info``) in the background: ``comfy_models[name]`` holds
        it (or ``errors[name]`` why not); ``checkpointsListed`` answers with its checkpoints or the sentence."""
        server = next((s for s in self.comfy_servers() if s.name == name), None)
        if server is None:
            return

        def done(models: Any) -> None:
            self.comfy_models[name] = models
            self.errors.pop(name, None)
            self.checkpointsListed.emit(name, list(models.checkpoints))

        def failed(e: BaseException) -> None:
            self.errors[name] = getattr(e, "user_message", str(e))
            self.comfy_models.pop(name, None)
            self.checkpointsListed.emit(name, self.errors[name])

        in_background(
            self, lambda: self.door.offered(server), done, name="studio-comfy-models", on_error=failed
        )
