"""Character cards — the community's exchange format for personas (SillyTavern's V1, V2 ``chara_card_v2`` and V3
``chara_card_v3``), as JSON or inside a PNG (a ``chara`` or ``ccv3`` text chunk holding base64 JSON). Read as
untrusted (bounded, every field checked), turned into a system prompt and a first message, and written back."""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from studio.core.io.untrusted import Unreadable, parse_json, read_bytes

MAX_CARD_BYTES = 8 * 1024 * 1024  # a PNG card with its picture
MAX_FIELD_CHARS = 64 * 1024
TEXT_FIELDS = ("name", "description", "personality", "scenario", "first_mes", "mes_example", "system_prompt",
               "post_history_instructions", "creator_notes", "creator", "character_version")  # fmt: skip


@dataclass(frozen=True)
class CharacterCard:
    name: str = ""
    description: str = ""
    personality: str = ""
    scenario: str = ""
    first_mes: str = ""
    mes_example: str = ""
    system_prompt: str = ""
    post_history_instructions: str = ""
    creator_notes: str = ""
    creator: str = ""
    character_version: str = ""
    tags: tuple[str, ...] = ()
    alternate_greetings: tuple[str, ...] = field(default_factory=tuple)

    def fill(self, text: str, user: str = "User") -> str:
        """The card's macros replaced: {{char}} and {{user}} (any case), and the old <BOT>/<USER>."""
        out = text
        for macro, value in (
            ("{{char}}", self.name),
            ("{{user}}", user),
            ("<BOT>", self.name),
            ("<USER>", user),
        ):
            out = _replace_any_case(out, macro, value)
        return out

    def system(self, user: str = "User") -> str:
        """The system prompt the card asks for: its own (``{{original}}`` being the default one), or one made of
        its description, personality and scenario."""
        default = "\n\n".join(p for p in (
            f"You are {self.name}." if self.name else "", self.description.strip(),
            f"{self.name}'s personality: {self.personality.strip()}" if self.personality.strip() else "",
            f"Scenario: {self.scenario.strip()}" if self.scenario.strip() else "",
            f"Examples of how {self.name} speaks:\n{self.mes_example.strip()}" if self.mes_example.strip() else "",
        ) if p)  # fmt: skip
        own = self.system_prompt.strip()
        chosen = _replace_any_case(own, "{{original}}", default) if own else default
        return self.fill(chosen, user)

    def to_v2(self) -> dict[str, Any]:
        data = {k: v for k, v in asdict(self).items()}
        data["tags"], data["alternate_greetings"] = list(self.tags), list(self.alternate_greetings)
        data["extensions"] = {}
        return {"spec": "chara_card_v2", "spec_version": "2.0", "data": data}


def _replace_any_case(text: str, macro: str, value: str) -> str:
    import re

    return re.sub(re.escape(macro), lambda _m: value, text, flags=re.IGNORECASE)


def card_from(raw: Any) -> CharacterCard | Unreadable:
    """A card from its JSON (V1 flat, V2 or V3 with ``data``)."""
    if not isinstance(raw, dict):
        return Unreadable("a character card is a JSON object")
    data = raw.get("data") if isinstance(raw.get("data"), dict) else raw
    if not isinstance(data, dict):
        return Unreadable("the card has no data")
    values: dict[str, Any] = {}
    for key in TEXT_FIELDS:
        value = data.get(key, "")
        if value is None:
            value = ""
        if not isinstance(value, str):
            return Unreadable(f"the card's {key} is not text")
        values[key] = value[:MAX_FIELD_CHARS]
    for key in ("tags", "alternate_greetings"):
        items = data.get(key) or []
        values[key] = tuple(str(x)[:MAX_FIELD_CHARS] for x in items[:200] if isinstance(x, str)) if isinstance(
            items, list) else ()  # fmt: skip
    if not values["name"].strip():
        return Unreadable("the card has no name")
    return CharacterCard(**values)


def read_card(path: Path) -> CharacterCard | Unreadable:
    """A card from a .json file or a PNG carrying one (V3's ``ccv3`` chunk preferred to V2's ``chara``)."""
    data = read_bytes(path, MAX_CARD_BYTES)
    if isinstance(data, Unreadable):
        return data
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        chunks = _png_text(data)
        encoded = chunks.get("ccv3") or chunks.get("chara")
        if encoded is None:
            return Unreadable(f"{path.name} is a picture without a character card in it")
        try:
            text = base64.b64decode(encoded, validate=False).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            return Unreadable(f"{path.name}: its character card is not base64 JSON")
        raw = parse_json(text)
    else:
        raw = parse_json(data)
    if isinstance(raw, Unreadable):
        return Unreadable(f"{path.name}: {raw.why}")
    return card_from(raw)


def _png_text(data: bytes) -> dict[str, bytes]:
    """The tEXt chunks of a PNG (keyword → value), read with bounds."""
    import struct

    out: dict[str, bytes] = {}
    at = 8
    while at + 8 <= len(data) and len(out) < 64:
        (length,) = struct.unpack(">I", data[at : at + 4])
        kind = data[at + 4 : at + 8]
        body = data[at + 8 : at + 8 + length]
        if kind == b"tEXt" and b"\0" in body:
            key, _, value = body.partition(b"\0")
            out[key.decode("latin-1")] = value
        if kind == b"IEND":
            break
        at += 12 + length
    return out


def write_card(card: CharacterCard, target: Path, picture: Any = None) -> Path:
    """The card as V2 JSON (``.json``), or inside a PNG (``picture``: a PIL image; a plain one without) with both
    the V2 ``chara`` and the V3 ``ccv3`` chunks, as SillyTavern writes them."""
    from studio.core.io.atomic import atomic_write, atomic_write_text

    v2 = card.to_v2()
    if target.suffix.lower() != ".png":
        atomic_write_text(target, json.dumps(v2, ensure_ascii=False, indent=2))
        return target
    from PIL import Image
    from PIL.PngImagePlugin import PngInfo

    v3 = {**v2, "spec": "chara_card_v3", "spec_version": "3.0"}
    meta = PngInfo()
    meta.add_text("chara", base64.b64encode(json.dumps(v2, ensure_ascii=False).encode()).decode("ascii"))
    meta.add_text("ccv3", base64.b64encode(json.dumps(v3, ensure_ascii=False).encode()).decode("ascii"))
    image = picture if picture is not None else Image.new("RGB", (400, 600), (46, 52, 64))
    atomic_write(target, lambda f: image.save(f, format="PNG", pnginfo=meta))
    return target
