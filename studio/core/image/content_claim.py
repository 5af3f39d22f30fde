"""What Studio claims about a file it makes (the C2PA manifest's content), and what a reader found in a file
(``CredentialsReport``: the answer of ``studio verify`` and of the Gallery's *Content credentials* panel).

Pure data: the signing and the reading (c2pa, cryptography, the watermark) live in ``studio.provenance``."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from enum import IntEnum
from pathlib import PurePath
from typing import Any

from studio import __version__

AI_SOURCE_TYPE = "http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia"
# a text some of which a model wrote, the rest a person
COMPOSITE_AI_SOURCE_TYPE = (
    "http://cv.iptc.org/newscodes/digitalsourcetype/compositeWithTrainedAlgorithmicMedia"
)
HUMAN_SOURCE_TYPE = "http://cv.iptc.org/newscodes/digitalsourcetype/digitalCreation"
RECIPE_LABEL = "org.studio.recipe"
MODEL_LABEL = "org.studio.model"
TEXT_LABEL = "org.studio.text"
MAKER = "Studio"


@dataclass(frozen=True)
class Claim:
    """One file's C2PA claim: what made it, from what, how. ``recipe`` is None when the user keeps recipes
    private (then only its SHA-256 is signed)."""

    title: str
    edited: bool = (
        False  # an edit of ``parent`` (image to image, inpaint, upscale, detailer) or a new creation
    )
    parent: str = ""  # the file it was made from: its bytes become the manifest's parent ingredient
    model: str = ""
    model_hash: str = ""
    recipe: dict[str, Any] | None = None
    recipe_hash: str = ""
    source_type: str = AI_SOURCE_TYPE
    extra: tuple[tuple[str, Any], ...] = ()  # further assertions: (label, data)
    action: str = ""  # instead of created/edited: e.g. c2pa.transcoded for a copy in another format

    def manifest(self, *, parent_label: str = "") -> dict[str, Any]:
        """The manifest definition c2pa's Builder takes (``parent_label``: the ingredient's label, when added)."""
        agent = {"name": MAKER, "version": __version__}
        name = self.action or ("c2pa.edited" if self.edited else "c2pa.created")
        action: dict[str, Any] = {"action": name,
                                  "digitalSourceType": self.source_type, "softwareAgent": agent}  # fmt: skip
        if self.model:
            action["description"] = f"Made with the model {self.model}"
        actions: list[dict[str, Any]] = [action]
        if parent_label:
            actions.insert(0, {"action": "c2pa.opened", "parameters": {"ingredientIds": [parent_label]}})
        assertions: list[dict[str, Any]] = [{"label": "c2pa.actions.v2", "data": {"actions": actions}}]
        if self.model:
            assertions.append({"label": MODEL_LABEL, "data": {"name": self.model, "hash": self.model_hash}})
        recipe = (
            self.recipe if self.recipe is not None else {"sha256": self.recipe_hash, "kept_private": True}
        )
        assertions.append({"label": RECIPE_LABEL, "data": recipe})
        assertions += [{"label": label, "data": data} for label, data in self.extra]
        return {"claim_generator_info": [agent], "title": self.title, "assertions": assertions}


def copy_claim(record: dict[str, Any], title: str, source: str, *, with_recipe: bool, private: bool) -> Claim:
    """The claim of a copy in another format (or without its recipe): a change of encoding, its source the
    parent; a copy without its recipe names no model and no parent (whose credentials hold the recipe)."""
    claim = picture_claim(record, title, private=private or not with_recipe)
    if not with_recipe:
        return Claim(title=title, recipe=None, recipe_hash=claim.recipe_hash)
    return Claim(title=title, parent=source, model=claim.model, model_hash=claim.model_hash, recipe=claim.recipe,
                 recipe_hash=claim.recipe_hash, action="c2pa.transcoded")  # fmt: skip


def recipe_hash(record: dict[str, Any]) -> str:
    """The SHA-256 of a recipe's canonical JSON (what is signed when the recipe itself is kept private)."""
    return hashlib.sha256(json.dumps(record, sort_keys=True, ensure_ascii=False).encode()).hexdigest()


def picture_claim(record: dict[str, Any], title: str, *, private: bool) -> Claim:
    """The claim of a picture Studio saves, from its ``studio`` record (``image_metadata.studio_record``)."""
    found = record.get("spec")
    spec: dict[str, Any] = found if isinstance(found, dict) else {}
    parent = str(spec.get("parent_image") or spec.get("init_image") or "")
    return Claim(
        title=title,
        edited=bool(parent or record.get("postprocess")),
        parent=parent,
        model=PurePath(str(spec.get("model") or "")).name,  # its name: the folders it sits in are the user's
        model_hash=str(record.get("model_hash") or ""),
        recipe=None if private else record,
        recipe_hash=recipe_hash(record),
    )


def text_claim(title: str, text: str, passages: list[tuple[int, int]], models: list[str]) -> Claim:
    """The claim of an exported manuscript: which of its passages a model wrote (character spans of the
    Markdown), by which models. No passage: the writer's own (a digital creation)."""
    written = sum(end - start for start, end in passages)
    facts = {"characters": len(text), "model_written_characters": written, "passages": [list(p) for p in passages],
             "models": sorted(set(models))}  # fmt: skip
    return Claim(
        title=title,
        source_type=COMPOSITE_AI_SOURCE_TYPE if passages else HUMAN_SOURCE_TYPE,
        recipe={},
        extra=((TEXT_LABEL, facts),),
    )


_SOURCES = {
    "trainedAlgorithmicMedia": "trainedAlgorithmicMedia (made by a generative model)",
    "compositeWithTrainedAlgorithmicMedia": "compositeWithTrainedAlgorithmicMedia (a person's work with passages "
    "a model wrote)",
    "digitalCreation": "digitalCreation (made by a person)",
}


class Verdict(IntEnum):
    """The answer of ``studio verify``, as its exit code."""

    INTACT = 0  # signed credentials, and the file is as it was signed
    ALTERED = 1  # signed, and changed since (or the credentials themselves are invalid)
    BAD_INPUT = 2  # not a file Studio can read
    NONE = 3  # no Content Credentials found


@dataclass(frozen=True)
class Ingredient:
    title: str
    relationship: str  # parentOf | componentOf | inputTo
    state: str  # what its own credentials said: "intact", "altered", "none"


@dataclass(frozen=True)
class CredentialsReport:
    """What one file says about where it came from."""

    path: str
    verdict: Verdict
    summary: str  # one sentence for the user
    found_in: str = ""  # "C2PA" | "text metadata" | "watermark" | ""
    maker: str = ""  # "Studio 0.1.0", or another tool's name
    model: str = ""
    model_hash: str = ""
    source_type: str = ""  # IPTC digital source type
    action: str = ""  # c2pa.created | c2pa.edited
    signer: str = ""  # the certificate's common name and issuer
    trust: str = ""  # what is known of the signer's certificate
    signed_at: str = ""
    recipe_kept_private: bool = False
    ingredients: tuple[Ingredient, ...] = ()
    watermark: str = ""  # "Studio" | "SDXL (diffusers)" | ""
    written: str = ""  # a document's model-written share, as its credentials say
    problems: tuple[str, ...] = ()  # the validator's failures, in its words
    text_chunks: dict[str, str] = field(default_factory=dict)  # the A1111/IPTC words, when no C2PA

    @property
    def ai_made(self) -> bool:
        return self.source_type.endswith("/trainedAlgorithmicMedia")

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": self.path, "verdict": self.verdict.name.lower(), "exit_code": int(self.verdict),
            "summary": self.summary, "found_in": self.found_in, "maker": self.maker, "model": self.model,
            "model_hash": self.model_hash, "digital_source_type": self.source_type, "action": self.action,
            "signer": self.signer, "trust": self.trust, "signed_at": self.signed_at,
            "recipe_kept_private": self.recipe_kept_private,
            "ingredients": [{"title": i.title, "relationship": i.relationship, "state": i.state}
                            for i in self.ingredients],
            "watermark": self.watermark, "problems": list(self.problems), "model_written": self.written,
        }  # fmt: skip

    def lines(self) -> list[str]:
        """The report as a few labelled lines (the CLI's text, the Gallery panel's rows)."""
        rows = [
            ("Made by", self.maker),
            ("Model", self.model + (f" ({self.model_hash})" if self.model_hash else "")),
            ("Source", _SOURCES.get(self.source_type.rsplit("/", 1)[-1], self.source_type.rsplit("/", 1)[-1])),
            ("Action", {"c2pa.created": "created", "c2pa.edited": "edited from a parent",
                        "c2pa.transcoded": "a copy of its parent in another format"}.get(self.action,
                                                                                             self.action)),
            ("Signed by", self.signer),
            ("Trust", self.trust),
            ("Signed at", self.signed_at),
            ("Recipe", "kept private (only its hash is signed)" if self.recipe_kept_private else ""),
            ("Written by a model", self.written),
            *(("Ingredient", f"{i.title} ({i.relationship}, {i.state})") for i in self.ingredients),
            ("Watermark", self.watermark and f"a {self.watermark} watermark is present in the pixels"),
            *(("Problem", p) for p in self.problems),
        ]  # fmt: skip
        return [f"{label}: {value}" for label, value in rows if value]
