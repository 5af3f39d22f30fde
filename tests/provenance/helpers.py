"""PNG surgery for the provenance tests: change pixels while keeping every other chunk (the C2PA manifest too),
as an editor that preserves metadata would."""

import io
import struct
import zlib

from PIL import Image


def chunks(data: bytes) -> list[tuple[bytes, bytes]]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    out, at = [], 8
    while at < len(data):
        (length,) = struct.unpack(">I", data[at : at + 4])
        out.append((data[at + 4 : at + 8], data[at + 8 : at + 8 + length]))
        at += 12 + length
    return out


def assemble(parts: list[tuple[bytes, bytes]]) -> bytes:
    body = b"".join(
        struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d) & 0xFFFFFFFF)
        for t, d in parts
    )
    return b"\x89PNG\r\n\x1a\n" + body


def with_pixels(signed: bytes, image: Image.Image) -> bytes:
    """``signed`` with its pixel data replaced by ``image``'s (same size and mode); every other chunk kept."""
    buf = io.BytesIO()
    image.save(buf, "PNG")
    idat = [c for c in chunks(buf.getvalue()) if c[0] == b"IDAT"]
    parts, placed = [], False
    for kind, data in chunks(signed):
        if kind == b"IDAT":
            if not placed:
                parts += idat
                placed = True
            continue
        parts.append((kind, data))
    return assemble(parts)


def one_pixel_changed(signed: bytes) -> bytes:
    image = Image.open(io.BytesIO(signed)).convert("RGB")
    r, g, b = image.getpixel((3, 3))
    image.putpixel((3, 3), (r ^ 1, g, b))
    return with_pixels(signed, image)


def without_watermark(home):
    """Settings for a home whose pictures carry no watermark (for tests that compare saved pixels exactly; the
    watermark's own cost is measured in tests/provenance/test_watermark.py). Returns ``home``."""
    from studio.core.io.paths import resolve_paths
    from studio.core.io.settings import load_settings, save_settings

    file = resolve_paths(home).settings_file
    file.parent.mkdir(parents=True, exist_ok=True)
    settings = load_settings(file)
    settings.watermark = False
    save_settings(settings, file)
    return home
