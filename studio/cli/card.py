"""``studio card FILE``: read a character card (SillyTavern V1/V2/V3, JSON or PNG), show it, or write it again as
V2 JSON or a PNG carrying both V2 and V3."""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict
from pathlib import Path
from typing import Any

from studio.cli.common import EXIT_OK, EXIT_USAGE, fail, home_option


def register(sub: Any) -> None:
    c = sub.add_parser(
        "card", help="read a character card (.json or .png), show it, or write it as JSON or PNG"
    )
    home_option(c)
    c.add_argument("file", help="the card: SillyTavern's V1, V2 or V3 JSON, or a PNG carrying one")
    c.add_argument("--to", metavar="OUT", help="write it again: OUT.json (V2) or OUT.png (V2 and V3 chunks)")
    c.add_argument("--picture", metavar="IMAGE", help="with --to OUT.png: the picture to carry it (default: the "
                   "card's own PNG, else a plain one)")  # fmt: skip
    c.add_argument(
        "--json", action="store_true", help="print the card as a JSON object, with its system prompt"
    )
    c.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from studio.core.io.pictures import lock_down, open_picture
    from studio.core.io.untrusted import Unreadable
    from studio.core.text.character_card import read_card, write_card

    lock_down()
    source = Path(args.file).expanduser()
    card = read_card(source)
    if isinstance(card, Unreadable):
        return fail(card.why, EXIT_USAGE)
    if args.to:
        picture = None
        carrier = Path(args.picture).expanduser() if args.picture else (source if source.suffix.lower() == ".png"
                                                                         else None)  # fmt: skip
        if carrier is not None and Path(args.to).suffix.lower() == ".png":
            try:
                with open_picture(str(carrier)) as im:
                    picture = im.convert("RGBA" if "A" in im.getbands() else "RGB")
            except Exception as e:  # noqa: BLE001 - any unreadable picture: one line
                return fail(f"--picture: {carrier.name} is not a picture Studio reads ({type(e).__name__}).",
                            EXIT_USAGE)  # fmt: skip
        print(f"Wrote {write_card(card, Path(args.to).expanduser(), picture)}")
    if args.json:
        print(json.dumps({**asdict(card), "system": card.system()}, ensure_ascii=False, indent=2))
    elif not args.to:
        print(f"{card.name}: {len(card.description)} characters of description; first message: "
              f"{card.first_mes[:80]!r}")  # fmt: skip
        print(f"System prompt:\n{card.system()}")
    return EXIT_OK
