"""The Writer's export as the room asks for it (called off the GUI thread): the file in its format, the model's
passages marked when the writer asks, and its Content Credentials when Studio signs what it makes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from studio.core.image.content_claim import text_claim
from studio.core.text.writer_export import export


def export_with_credentials(text: str, target: Path, title: str, writing: tuple[list[tuple[int, int]], list[str]],
                            *, mark: bool, sealer: Any | None) -> str:  # fmt: skip
    """Write ``target``; ``writing``: the model's passages (spans of ``text``) and the models that wrote them.
    Returns what the status line adds ("" when Studio signs nothing)."""
    passages, models = writing
    export(text, target, title, passages if mark else None)
    if sealer is None or not sealer.policy().sign:
        return ""
    from studio.provenance.document_credentials import sign_document

    try:
        where = sign_document(target, sealer.signing(), text_claim(target.name, text, passages, models))
    except Exception as e:  # noqa: BLE001 - c2pa's and the key's errors: the export stands, unsigned
        return f" (without Content Credentials: signing failed, {e})"
    return " with Content Credentials" + (f" in {where.name}" if where != target else "")
