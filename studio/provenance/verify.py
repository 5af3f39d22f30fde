"""``studio verify``: what a file says about where it came from — its C2PA Content Credentials (and whether it
changed since they were signed), else the A1111/IPTC words Studio and other tools write, and the invisible
watermark in the pixels. Total over untrusted files: a report for anything, never an exception."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from studio.core.image.content_claim import (
    MODEL_LABEL,
    RECIPE_LABEL,
    TEXT_LABEL,
    CredentialsReport,
    Ingredient,
    Verdict,
)
from studio.provenance.content_credentials import MIME, SIDECAR_SUFFIXES, read_manifest

MAX_FILE_BYTES = 512 * 1024 * 1024
MAX_SIDECAR_BYTES = 16 * 1024 * 1024
# failures that say the content changed (anything else invalid is the credentials themselves)
_CHANGED = ("assertion.dataHash.mismatch", "assertion.boxesHash.mismatch", "assertion.bmffHash.mismatch",
            "assertion.collectionHash.mismatch")  # fmt: skip
_UNTRUSTED = "signingCredential.untrusted"
MADE = ("c2pa.created", "c2pa.edited", "c2pa.transcoded")  # the actions that say how the file came to be


def _mime(path: Path, data: bytes) -> str:
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    mime = MIME.get(path.suffix.lower(), "")
    if mime.startswith("image/") or (mime.startswith("application/") and not data.startswith(b"PK")):
        return ""  # named as a picture (or a ZIP document) and not one
    return mime


def _read(path: Path, limit: int) -> bytes:
    with open(path, "rb") as f:
        data = f.read(limit + 1)
    if len(data) > limit:
        raise ValueError(f"it is larger than {limit // (1024 * 1024)} MB")
    return data


def verify(path: Path, anchors: bytes = b"") -> CredentialsReport:
    """The report on one file (``anchors``: certificates this installation trusts, PEM)."""
    name = str(path)
    try:
        if not path.is_file():
            return CredentialsReport(name, Verdict.BAD_INPUT, f"{path} is not a file.")
        data = _read(path, MAX_FILE_BYTES)
    except (OSError, ValueError) as e:
        return CredentialsReport(
            name, Verdict.BAD_INPUT, f"{path} cannot be read: {getattr(e, 'strerror', 0) or e}."
        )
    mime = _mime(path, data)
    if not mime:
        return CredentialsReport(name, Verdict.BAD_INPUT, f"{path.name} is not a picture or document Studio reads "
                                 f"({', '.join(sorted(MIME))}).")  # fmt: skip
    sidecar = None
    if path.suffix.lower() in SIDECAR_SUFFIXES:
        beside = path.with_name(path.name + ".c2pa")
        try:
            sidecar = _read(beside, MAX_SIDECAR_BYTES) if beside.is_file() else None
        except (OSError, ValueError):
            sidecar = None
        if sidecar is None:
            return CredentialsReport(
                name, Verdict.NONE, f"No Content Credentials: {beside.name} is not beside it."
            )
    try:
        manifest, state, failures = read_manifest(data, mime, anchors, sidecar)
    except Exception as e:  # noqa: BLE001 - c2pa's typed errors, told by name
        if type(e).__name__.endswith("ManifestNotFound") or "ManifestNotFound" in str(e):
            return _without_credentials(path, mime)
        return CredentialsReport(name, Verdict.ALTERED, f"The Content Credentials cannot be read: {e}",
                                 found_in="C2PA", problems=(str(e)[:300],))  # fmt: skip
    return _from_manifest(path, mime, manifest, state, failures, bool(anchors))


_PLAIN = {
    "assertion.dataHash.mismatch": "the file's bytes differ from those that were signed",
    "assertion.boxesHash.mismatch": "the file's bytes differ from those that were signed",
    "assertion.collectionHash.mismatch": "the document's parts differ from those that were signed",
    "claimSignature.mismatch": "the signature does not match what it claims to sign",
    "assertion.hashedURI.mismatch": "a statement of the credentials was changed after signing",
    "signingCredential.expired": "the signing certificate had expired",
    "signingCredential.invalid": "the signing certificate is not valid for signing",
}


def _plain(failure: dict[str, Any]) -> str:
    """A validator's failure in words, with its code (for whoever looks it up)."""
    code = str(failure.get("code", ""))[:80]
    words = _PLAIN.get(code) or str(failure.get("explanation") or "a check failed")[:200]
    return f"{words} ({code})"


def _action(manifest: dict[str, Any]) -> dict[str, Any]:
    for assertion in manifest.get("assertions") or []:
        if isinstance(assertion, dict) and str(assertion.get("label", "")).startswith("c2pa.actions"):
            actions = (assertion.get("data") or {}).get("actions") or []
            made = [a for a in actions if isinstance(a, dict) and a.get("action") in MADE]
            if made:
                return made[0]
    return {}


def _assertion(manifest: dict[str, Any], label: str) -> dict[str, Any]:
    for assertion in manifest.get("assertions") or []:
        if (
            isinstance(assertion, dict)
            and assertion.get("label") == label
            and isinstance(assertion.get("data"), dict)
        ):
            return assertion["data"]
    return {}


def _ingredients(manifest: dict[str, Any]) -> tuple[Ingredient, ...]:
    out = []
    for item in manifest.get("ingredients") or []:
        if not isinstance(item, dict):
            continue
        results = ((item.get("validation_results") or {}).get("activeManifest") or {}).get("failure") or []
        changed = any(isinstance(r, dict) and r.get("code") in _CHANGED for r in results)
        state = "no credentials" if not item.get("active_manifest") else "altered" if changed else "signed"
        out.append(Ingredient(str(item.get("title", "?"))[:200], str(item.get("relationship", "")), state))
    return tuple(out)


def _trust(failures: list[Any], signature: dict[str, Any], anchored: bool) -> str:
    untrusted = any(isinstance(f, dict) and f.get("code") == _UNTRUSTED for f in failures)
    issuer = str(signature.get("issuer", ""))
    if not untrusted:
        return "trusted by this installation (its own certificate authority)" if anchored else "trusted"
    return (f"untrusted: {issuer or 'the issuer'} is on no C2PA trust list this verifier knows (Studio's local "
            "certificates are not; the signature itself is valid)")  # fmt: skip


def _from_manifest(path: Path, mime: str, manifest: dict[str, Any], state: str, failures: list[Any],
                   anchored: bool) -> CredentialsReport:  # fmt: skip
    problems = tuple(_plain(f) for f in failures if isinstance(f, dict) and f.get("code") != _UNTRUSTED)
    changed = any(isinstance(f, dict) and f.get("code") in _CHANGED for f in failures)
    agents = manifest.get("claim_generator_info")
    agent = agents[0] if isinstance(agents, list) and agents and isinstance(agents[0], dict) else {}
    action = _action(manifest)
    model = _assertion(manifest, MODEL_LABEL)
    found = manifest.get("signature_info")
    signature: dict[str, Any] = found if isinstance(found, dict) else {}
    maker = " ".join(str(agent.get(k, "")) for k in ("name", "version")).strip() or "an unnamed tool"
    if problems:
        verdict = Verdict.ALTERED
        summary = (f"Altered: the file changed after {maker} signed it." if changed
                   else "Invalid: the Content Credentials do not check out.")  # fmt: skip
    else:
        verdict = Verdict.INTACT
        summary = f"Intact: signed by {maker}, unchanged since."
    watermark = _watermark(path, mime) if mime.startswith("image/") else ""
    return CredentialsReport(
        path=str(path), verdict=verdict, summary=summary, found_in="C2PA", maker=maker,
        model=str(model.get("name", ""))[:300], model_hash=str(model.get("hash", ""))[:80],
        source_type=str(action.get("digitalSourceType", "")), action=str(action.get("action", "")),
        signer=" — ".join(s for s in (str(signature.get("common_name", "")), str(signature.get("issuer", ""))) if s),
        trust=_trust(failures, signature, anchored), signed_at=str(signature.get("time", "")),
        recipe_kept_private=bool(_assertion(manifest, RECIPE_LABEL).get("kept_private")),
        ingredients=_ingredients(manifest), watermark=watermark, problems=problems,
        written=_written(_assertion(manifest, TEXT_LABEL)),
    )  # fmt: skip


def _written(facts: dict[str, Any]) -> str:
    """A document's model-written share, from its ``org.studio.text`` assertion."""
    if not facts:
        return ""
    found = facts.get("passages")
    passages: list[Any] = found if isinstance(found, list) else []
    written, total = facts.get("model_written_characters"), facts.get("characters")
    if not isinstance(written, int) or not isinstance(total, int):
        return ""
    models = [str(m)[:100] for m in facts.get("models") or [] if isinstance(m, str)][:10]
    by = f" by {', '.join(models)}" if models else ""
    return f"{len(passages)} passage{'s' if len(passages) != 1 else ''}, {written} of {total} characters{by}"


def _watermark(path: Path, mime: str) -> str:
    from studio.core.io.pictures import open_picture
    from studio.provenance import watermark

    try:
        with open_picture(str(path)) as im:
            found = watermark.read(im).mark
    except Exception:  # noqa: BLE001 - an unreadable picture has no watermark to tell of
        return ""
    return {"studio": "Studio", "sdxl": "SDXL (diffusers)"}.get(found, "")


def _without_credentials(path: Path, mime: str) -> CredentialsReport:
    """No C2PA: what the text chunks say (A1111 ``parameters``, Studio's recipe, the IPTC source type), and the
    watermark."""
    text: dict[str, str] = {}
    maker = model = source = ""
    if mime.startswith("image/"):
        from studio.core.image.recipe_readers import read_recipe

        recipe = read_recipe(str(path))
        if recipe.source and recipe.source != "none":
            maker = {"studio": "Studio (its recipe chunk)", "a1111": "AUTOMATIC1111-compatible text"}.get(
                recipe.source, recipe.source
            )
            model = recipe.model or ""
            text = {"prompt": (recipe.prompt or "")[:200]}
        source = _iptc_source(path)
    watermark = _watermark(path, mime) if mime.startswith("image/") else ""
    said = "No Content Credentials found"
    if watermark:
        said += f"; a {watermark} watermark is present in the pixels"
    if maker:
        said += f"; the text metadata names {maker}"
    return CredentialsReport(str(path), Verdict.NONE, said + ".", found_in="text metadata" if maker
                             else "watermark" if watermark else "", maker=maker, model=model, source_type=source,
                             watermark=watermark, text_chunks=text)  # fmt: skip


def _iptc_source(path: Path) -> str:
    """The IPTC digital source type in a picture's XMP, if any."""
    import re

    from studio.core.io.pictures import open_picture

    try:
        with open_picture(str(path)) as im:
            xmp = str(im.info.get("XML:com.adobe.xmp", "") or im.info.get("xmp", ""))[:100_000]
    except Exception:  # noqa: BLE001 - no words to read
        return ""
    found = re.search(r"newscodes/digitalsourcetype/([A-Za-z]{1,60})", xmp)
    return f"http://cv.iptc.org/newscodes/digitalsourcetype/{found.group(1)}" if found else ""


def exit_code(reports: list[CredentialsReport]) -> int:
    """One code for several files: bad input first, then altered, then none found, else intact."""
    codes = {int(r.verdict) for r in reports}
    for code in (Verdict.BAD_INPUT, Verdict.ALTERED, Verdict.NONE):
        if code in codes:
            return int(code)
    return 0
