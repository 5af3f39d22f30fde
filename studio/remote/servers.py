"""The saved servers and what can be asked of them: the one door to the network that the runtime hands to the
window's view-models and the CLI alike (neither imports an HTTP client). Blocking calls: the window makes them
off the GUI thread."""

from __future__ import annotations

from typing import Any

from studio.core.image.comfy_workflow import ServerModels, refusals
from studio.core.jobs.errors import StudioError
from studio.core.jobs.servers import Endpoint, Keys, Server, endpoint_for, find_backend, servers_of
from studio.remote.comfy import ComfyServer, describe, server_for
from studio.remote.openai_text import list_models


class Servers:
    """``settings.servers`` (untrusted) with the keys kept for them."""

    def __init__(self, settings: Any, keys: Keys):
        self.settings = settings
        self.keys = keys

    def saved(self) -> list[Server]:
        return servers_of(self.settings.servers)

    def endpoint(self, base: str) -> Endpoint:
        """A text server's endpoint by its base URL, with the key and TLS consent saved for it."""
        return endpoint_for(base, self.saved(), self.keys)

    def comfy(self, server: Server) -> ComfyServer:
        return server_for(server.url, self.keys.get(server.url), server.insecure_tls, server.name)

    def comfy_named(self, name: str) -> ComfyServer:
        """The saved ComfyUI server by its name; ``StudioError`` (the backend field) when there is none."""
        return self.comfy(find_backend(name, self.saved(), "comfyui"))

    def offered(self, server: Server) -> ServerModels:
        """What a ComfyUI server offers (``/object_info``)."""
        return self.comfy(server).models()

    def text_models(self, base: str) -> list[dict[str, Any]]:
        """A text server's models (``GET /v1/models``)."""
        return list_models(self.endpoint(base))

    def check(self, server: Server) -> dict[str, Any]:
        """Whether a server answers, and what it offers (``studio backends check``)."""
        if server.kind == "comfyui":
            return describe(self.comfy(server))
        try:
            models = self.text_models(server.url)
        except StudioError as e:
            return {"ok": False, "problem": e.user_message}
        return {"ok": True, "models": [m["id"] for m in models]}

    def refusals(self, spec: Any) -> dict[str, str]:
        """What the ComfyUI server a job is pinned to cannot do of it, by field (asked before it is queued)."""
        return refusals(spec, self.comfy_named(spec.backend).models())
