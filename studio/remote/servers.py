"""The servers a user saved (``settings.servers``: name, base URL, kind, whether a self-signed certificate is
accepted) and their API keys, which live in the system keyring — never in the settings file. Without a usable
keyring a key is kept for this session only, and the user is told."""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass
from typing import Any

from studio.core.untrusted import obj, text
from studio.remote.http import Endpoint, comfy_root, normalise_base

KEYRING_SERVICE = "Studio"
KINDS = ("openai", "comfyui")  # text on OpenAI-compatible servers, images on ComfyUI


@dataclass(frozen=True)
class Server:
    name: str
    url: str  # the base URL: …/v1 for an OpenAI-compatible server, the root for ComfyUI
    kind: str = "openai"
    insecure_tls: bool = False

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "url": self.url, "kind": self.kind, "insecure_tls": self.insecure_tls}


def servers_of(raw: list[Any]) -> list[Server]:
    """The saved servers (settings are untrusted: entries of another shape are skipped)."""
    out = []
    for item in raw[:100]:
        d = obj(item)
        name, url = text(d.get("name")).strip(), text(d.get("url")).strip()
        kind = text(d.get("kind"), "openai")
        if name and url and kind in KINDS:
            base = comfy_root(url) if kind == "comfyui" else normalise_base(url)
            out.append(Server(name[:100], base, kind, d.get("insecure_tls") is True))
    return out


class Keys:
    """API keys by server URL: the system keyring, else this session's memory; ``overrides`` (the CLI's
    ``--api-key-env``) win."""

    def __init__(self) -> None:
        self._session: dict[str, str] = {}
        self.overrides: dict[str, str] = {}
        self.problem = ""  # why keys are kept for this session only

    def get(self, url: str) -> str | None:
        if url in self.overrides:
            return self.overrides[url]
        if url in self._session:
            return self._session[url]
        try:
            import keyring

            return keyring.get_password(KEYRING_SERVICE, url)
        except Exception:  # noqa: BLE001 - no keyring backend on this system: no key stored there
            return None

    def set(self, url: str, key: str | None) -> bool:
        """Keep a key (None/"" forgets it). False when only this session keeps it (``problem`` says why)."""
        try:
            import keyring

            if key:
                keyring.set_password(KEYRING_SERVICE, url, key)
            else:
                with contextlib.suppress(keyring.errors.PasswordDeleteError):
                    keyring.delete_password(KEYRING_SERVICE, url)
            self._session.pop(url, None)
            return True
        except Exception as e:  # noqa: BLE001 - e.g. no Secret Service on a headless Linux
            self.problem = f"the system keyring is not available ({type(e).__name__}); the key is kept until Studio closes"
            if key:
                self._session[url] = key
            else:
                self._session.pop(url, None)
            return False

    def from_env(self, url: str, variable: str) -> bool:
        value = os.environ.get(variable)
        if value:
            self.overrides[url] = value
        return bool(value)


def endpoint_for(base: str, servers: list[Server], keys: Keys) -> Endpoint:
    """The endpoint of a job's ``engine`` (a base URL), with the key and TLS consent saved for it."""
    url = normalise_base(base)
    server = next((s for s in servers if s.url == url), None)
    return Endpoint(url, keys.get(url), server.insecure_tls if server else False)


def resolve_engine(value: str, servers: list[Server]) -> str:
    """A saved server's name, or a URL, → the base URL ("" stays this machine)."""
    value = value.strip()
    if not value or value.lower() in ("local", "this machine"):
        return ""
    named = next((s for s in servers if s.name == value), None)
    return named.url if named else normalise_base(value)


def find_backend(name: str, servers: list[Server], kind: str) -> Server:
    """The saved server of this kind by its name (or URL); ``StudioError`` naming the backend field when none."""
    from studio.core.errors import ErrorKind, StudioError

    wanted = name.strip()
    for s in servers:
        if s.kind == kind and (s.name == wanted or s.url == wanted):
            return s
    known = ", ".join(s.name for s in servers if s.kind == kind) or "none yet"
    raise StudioError(
        ErrorKind.INVALID_INPUT,
        f"No {'ComfyUI' if kind == 'comfyui' else 'text'} server is saved as “{wanted}” (saved: {known}); add it "
        f"with: studio backends add NAME URL --kind {kind}.",
        field="backend",
    )
