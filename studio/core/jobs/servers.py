"""Where a job may run besides this machine: the saved servers (settings are untrusted), their addresses, and the
API keys kept for them. Pure data and the system keyring — the network is ``studio.remote``'s."""

from __future__ import annotations

import contextlib
import os
import urllib.parse
from dataclasses import dataclass
from typing import Any

from studio.core.io.untrusted import obj, text


@dataclass(frozen=True)
class Endpoint:
    """A server's base URL (``http://127.0.0.1:8080/v1``), its key, and whether a self-signed TLS certificate is
    accepted (the user said so)."""

    base: str
    key: str | None = None
    insecure_tls: bool = False

    def where(self) -> str:
        return urllib.parse.urlsplit(self.base).netloc or self.base


def normalise_base(url: str) -> str:
    """``localhost:8080`` → ``http://localhost:8080/v1``: a scheme, no trailing slash, the OpenAI ``/v1`` path."""
    url = url.strip()
    if "://" not in url:
        url = "http://" + url
    parts = urllib.parse.urlsplit(url)
    path = parts.path.rstrip("/")
    if not path.endswith("/v1"):
        path += "/v1"
    return urllib.parse.urlunsplit((parts.scheme, parts.netloc, path, "", ""))


def comfy_root(url: str) -> str:
    """``host:8188`` → ``http://host:8188``: a ComfyUI server's root (a scheme, no trailing slash, no API path)."""
    url = url.strip()
    if "://" not in url:
        url = "http://" + url
    parts = urllib.parse.urlsplit(url)
    return urllib.parse.urlunsplit((parts.scheme, parts.netloc, parts.path.rstrip("/"), "", ""))


def url_problem(url: str) -> str:
    parts = urllib.parse.urlsplit(url if "://" in url else "http://" + url)
    if parts.scheme not in ("http", "https"):
        return "A server's address starts with http:// or https://."
    if not parts.hostname:
        return "A server's address names a host, e.g. http://127.0.0.1:8080."
    return ""


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
    from studio.core.jobs.errors import ErrorKind, StudioError

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
