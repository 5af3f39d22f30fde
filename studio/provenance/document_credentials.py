"""Content Credentials for the Writer's exports: embedded in Word and EPUB files (rewritten as uncompressed ZIPs,
the only kind c2pa reads — the file is larger, and opens as before), a ``FILE.c2pa`` sidecar beside Markdown and
plain text."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

from studio.core.image.content_claim import Claim
from studio.core.io.atomic import atomic_write_bytes
from studio.provenance.content_credentials import MIME, SIDECAR_SUFFIXES, Signing

MAX_DOCUMENT_BYTES = 256 * 1024 * 1024


def stored_zip(data: bytes) -> bytes:
    """The same ZIP with every entry stored, in the same order (an EPUB's ``mimetype`` stays first)."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_STORED) as dst:
        for info in src.infolist():
            dst.writestr(info, src.read(info.filename), compress_type=zipfile.ZIP_STORED)
    return out.getvalue()


def sidecar_of(path: Path) -> Path:
    return path.with_name(path.name + ".c2pa")


def sign_document(path: Path, signing: Signing, claim: Claim) -> Path:
    """Sign an exported document; returns the file that holds its credentials (itself, or its sidecar)."""
    suffix = path.suffix.lower()
    with open(path, "rb") as f:
        data = f.read(MAX_DOCUMENT_BYTES + 1)
    if len(data) > MAX_DOCUMENT_BYTES:
        raise ValueError(f"{path.name} is too large to sign")
    if suffix in SIDECAR_SUFFIXES:
        manifest = signing.sign(data, MIME[suffix], claim, sidecar=True)
        atomic_write_bytes(sidecar_of(path), manifest)
        return sidecar_of(path)
    signed = signing.sign(stored_zip(data), MIME[suffix], claim)
    atomic_write_bytes(path, signed)
    return path
