"""What happens to a picture between the engine and the disk: the content filter's look (when switched on), the
invisible watermark, the PNG with its recipe, and the signed Content Credentials. The gallery store calls it for
every picture it saves; one failure to sign costs the signature (with a notice), never the picture."""

from __future__ import annotations

import io
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PIL import Image

from studio.core.image.content_claim import picture_claim
from studio.provenance import watermark
from studio.provenance.content_credentials import Signing


@dataclass(frozen=True)
class Policy:
    """The provenance settings, read at each save (a change applies to the next picture)."""

    sign: bool = True
    watermark: bool = True
    private_recipe: bool = False  # sign the recipe's hash, not the recipe


class Sealer:
    def __init__(
        self, folder: Path, policy: Callable[[], Policy], screen: Callable[[Image.Image], str] | None = None
    ):
        self.folder = folder
        self.policy = policy
        self.screen_with = screen  # the content filter, when one is set up (engine/content_filter.py)
        self.notices: list[str] = []
        self._signing: Signing | None = None
        self._lock = threading.Lock()

    def signing(self) -> Signing:
        with self._lock:
            if self._signing is None:
                from studio.provenance.signing_identity import load_identity

                self._signing = Signing(load_identity(self.folder, self.notices))
            return self._signing

    def screen(self, image: Image.Image) -> str:
        """Why the content filter holds this picture back ("" when it does not, or when there is none)."""
        return self.screen_with(image) if self.screen_with else ""

    def seal(self, image: Image.Image, pnginfo: Any, record: dict[str, Any], title: str) -> bytes:
        """The PNG file's bytes: watermarked pixels, the recipe's text chunks, signed Content Credentials."""
        policy = self.policy()
        if policy.watermark:
            image = watermark.embed(image)
        buf = io.BytesIO()
        image.save(buf, format="PNG", pnginfo=pnginfo, compress_level=4)
        if not policy.sign:
            return buf.getvalue()
        try:
            claim = picture_claim(record, title, private=policy.private_recipe)
            return self.signing().sign(buf.getvalue(), "image/png", claim)
        except Exception as e:  # noqa: BLE001 - c2pa's and the key's errors: the picture is saved unsigned
            with self._lock:
                self.notices.append(f"{title} was saved without Content Credentials: signing failed ({e}).")
            return buf.getvalue()

    def anchors(self) -> bytes:
        """This installation's CA certificate (PEM), when it has made one: what its verifications trust."""
        from studio.provenance.signing_identity import anchors_in

        return anchors_in(self.folder)

    def seal_copy(
        self, source: Path, image: Image.Image, info: dict[Any, Any], fmt: str, with_recipe: bool
    ) -> bytes:
        """A copy of a gallery picture in ``fmt`` (png, jpeg, webp), signed as such: its source the parent (when
        the recipe goes with it), else a fresh claim that names neither recipe nor model. The pixels keep their
        watermark."""
        from studio.core.image.content_claim import copy_claim
        from studio.core.image.image_metadata import COPY_FORMATS, copy_bytes, record_from_info

        data = copy_bytes(image, info, fmt, with_recipe)
        policy = self.policy()
        record = record_from_info(info)
        if not policy.sign or record is None:  # another tool's picture: Studio signs only what it made
            return data
        title = source.with_suffix(COPY_FORMATS[fmt][1]).name
        claim = copy_claim(record, title, str(source), with_recipe=with_recipe, private=policy.private_recipe)
        mime = {"png": "image/png", "jpeg": "image/jpeg", "webp": "image/webp"}[fmt]
        try:
            return self.signing().sign(data, mime, claim)
        except Exception as e:  # noqa: BLE001 - the copy stands, unsigned, and the user is told
            with self._lock:
                self.notices.append(
                    f"{title} was exported without Content Credentials: signing failed ({e})."
                )
            return data

    def take_notices(self) -> list[str]:
        with self._lock:
            out, self.notices[:] = list(self.notices), []
        return out
