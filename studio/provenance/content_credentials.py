"""C2PA Content Credentials with c2pa-python: signing a file's bytes with this installation's identity, and
reading what a file's credentials say.

Studio embeds the manifest where the format holds one (PNG, JPEG, WebP; Word and EPUB files, written as
uncompressed ZIPs, since c2pa reads no other), and writes a ``.c2pa`` sidecar beside Markdown and plain text."""

from __future__ import annotations

import io
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

from studio.core.image.content_claim import Claim
from studio.core.jobs.errors import ErrorKind, StudioError

if TYPE_CHECKING:  # the identity module asks this one to try a user's certificate: no import back at run time
    from studio.provenance.signing_identity import SigningIdentity

MIME = {
    ".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".webp": "image/webp",
    ".docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    ".epub": "application/epub+zip", ".md": "text/markdown", ".txt": "text/plain",
}  # fmt: skip
SIDECAR_SUFFIXES = (".md", ".txt")  # formats that hold no manifest: a FILE.c2pa beside them
PARENT_LABEL = "parent"
MAX_PARENT_BYTES = 200 * 1024 * 1024

_lock = threading.Lock()
_contexts: dict[str, Any] = {}


def _context(anchors: bytes = b"") -> Any:
    """c2pa's settings: no claim thumbnail (the picture is its own), and this installation's CA as a trust
    anchor when reading (so its own signatures read as trusted here, and nowhere else)."""
    import c2pa

    key = anchors.decode("ascii", "replace")
    with _lock:
        if key not in _contexts:
            settings: dict[str, Any] = {"builder": {"thumbnail": {"enabled": False}}}
            if anchors:
                settings["trust"] = {"user_anchors": key}
            _contexts[key] = c2pa.Context(settings=c2pa.Settings.from_dict(settings))
        return _contexts[key]


class Signing:
    """Signs with one identity (the c2pa signer made once; signing is serialised: c2pa's signer is shared)."""

    def __init__(self, identity: SigningIdentity):
        import c2pa

        self.identity = identity
        info = c2pa.C2paSignerInfo(identity.alg, identity.chain_pem, identity.key_pem, None)
        self._signer = c2pa.Signer.from_info(info)
        self._lock = threading.Lock()

    def sign(self, data: bytes, mime: str, claim: Claim, *, sidecar: bool = False) -> bytes:
        """The signed file (``sidecar``: the manifest store alone, for a file that cannot hold one)."""
        import c2pa

        with self._lock:
            builder = c2pa.Builder(claim.manifest(parent_label=_parent(claim)), context=_context())
            try:
                if _parent(claim):
                    _add_parent(builder, Path(claim.parent))
                if sidecar:
                    builder.set_no_embed()
                out = io.BytesIO()
                manifest = builder.sign(self._signer, mime, io.BytesIO(data), out)
            finally:
                builder.close()
        return manifest if sidecar else out.getvalue()


def _parent(claim: Claim) -> str:
    """The parent's ingredient label, when the parent file is there to be read."""
    try:
        path = Path(claim.parent)
        ok = bool(claim.parent) and path.is_file() and path.suffix.lower() in MIME
        return PARENT_LABEL if ok and path.stat().st_size <= MAX_PARENT_BYTES else ""
    except OSError:
        return ""


def _add_parent(builder: Any, path: Path) -> None:
    ingredient = {"title": path.name[:200], "relationship": "parentOf", "label": PARENT_LABEL}
    with open(path, "rb") as f:
        builder.add_ingredient(ingredient, MIME[path.suffix.lower()], f)


def check_signer(identity: SigningIdentity) -> None:
    """``StudioError`` unless c2pa signs with ``identity`` (its rules on key usage, extended key usage and
    validity), tried on a tiny picture."""
    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (8, 8)).save(buf, "PNG")
    try:
        Signing(identity).sign(buf.getvalue(), "image/png", Claim(title="check.png"))
    except Exception as e:  # noqa: BLE001 - c2pa's typed errors: one message for the user
        raise StudioError(
            ErrorKind.INVALID_INPUT, f"C2PA refuses to sign with this certificate: {e}", repr(e)
        ) from e


def read_manifest(
    data: bytes, mime: str, anchors: bytes, sidecar: bytes | None = None
) -> tuple[dict, str, list]:
    """(the active manifest, the validation state, its failures) of a file's credentials. c2pa's errors pass
    through: ``ManifestNotFound`` when there are none."""
    import c2pa

    reader = c2pa.Reader(mime, io.BytesIO(data), sidecar, context=_context(anchors))
    try:
        results = reader.get_validation_results() or {}
        active = results.get("activeManifest") or {}
        return (
            reader.get_active_manifest() or {},
            reader.get_validation_state() or "",
            active.get("failure") or [],
        )
    finally:
        reader.close()
