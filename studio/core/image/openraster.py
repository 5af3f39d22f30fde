"""The canvas as OpenRaster (.ora), the layered format Krita, GIMP and MyPaint open: a zip of ``mimetype``,
``stack.xml`` (the layers, topmost first, with their position, opacity and visibility), one PNG per layer,
``mergedimage.png`` and a thumbnail — plus Studio's own ``studio/canvas.json`` (each layer's kind and recipe),
which other programs ignore. Reading is for untrusted files: bounded sizes, no entities, only the zip's members."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

from PIL import Image, UnidentifiedImageError

from studio.core.image.canvas_doc import KINDS, MAX_SIDE, CanvasDoc, Layer
from studio.core.io.atomic import atomic_path
from studio.core.io.pictures import open_picture

MIMETYPE = b"image/openraster"
STUDIO_MEMBER = "studio/canvas.json"
MAX_MEMBERS, MAX_XML, MAX_TOTAL = 4096, 4 << 20, 4 << 30


class OraError(ValueError):
    """The file is not an OpenRaster picture Studio can read; the message says why."""


def save_ora(doc: CanvasDoc, path: Path) -> None:
    """Write ``doc`` (whole, or not at all: a temporary file renamed into place)."""
    stack = ElementTree.Element("image", {"version": "0.0.5", "w": str(doc.width), "h": str(doc.height)})
    layers_xml = ElementTree.SubElement(stack, "stack")
    own: dict[str, Any] = {"version": 1, "layers": {}}
    with atomic_path(path) as tmp, zipfile.ZipFile(tmp, "w") as z:
        z.writestr(zipfile.ZipInfo("mimetype"), MIMETYPE, compress_type=zipfile.ZIP_STORED)
        for i, lay in enumerate(reversed(doc.layers)):  # OpenRaster lists the topmost first
            src = f"data/layer{i:03d}-{lay.id}.png"
            ElementTree.SubElement(layers_xml, "layer", {
                "name": lay.name, "src": src, "x": str(lay.x), "y": str(lay.y), "opacity": f"{lay.opacity:.3f}",
                "visibility": "visible" if lay.visible else "hidden"})  # fmt: skip
            z.writestr(src, _png(lay.image))
            own["layers"][src] = {"id": lay.id, "kind": lay.kind, "recipe": lay.recipe}
        z.writestr("stack.xml", ElementTree.tostring(stack, encoding="utf-8", xml_declaration=True))
        merged = doc.flatten()
        z.writestr("mergedimage.png", _png(merged))
        thumb = merged.copy()
        thumb.thumbnail((256, 256))
        z.writestr("Thumbnails/thumbnail.png", _png(thumb))
        z.writestr(STUDIO_MEMBER, json.dumps(own, ensure_ascii=False))


def _png(image: Image.Image) -> bytes:
    buf = io.BytesIO()
    image.save(buf, format="PNG")
    return buf.getvalue()


def load_ora(path: Path) -> CanvasDoc:
    """The canvas in ``path``; ``OraError`` with a sentence when it is not one Studio can read."""
    try:
        with zipfile.ZipFile(path) as z:
            return _read(z, path.name)
    except (zipfile.BadZipFile, OSError, EOFError) as e:
        raise OraError(f"{path.name} is not an OpenRaster file (it is not a readable zip: {e}).") from e


def _read(z: zipfile.ZipFile, name: str) -> CanvasDoc:
    infos = z.infolist()
    if len(infos) > MAX_MEMBERS or sum(i.file_size for i in infos) > MAX_TOTAL:
        raise OraError(f"{name} is too large to be a canvas Studio opens.")
    members = {i.filename: i for i in infos}
    if "stack.xml" not in members or members["stack.xml"].file_size > MAX_XML:
        raise OraError(f"{name} has no readable stack.xml: it is not an OpenRaster picture.")
    raw = z.read("stack.xml")
    if b"<!DOCTYPE" in raw or b"<!ENTITY" in raw:
        raise OraError(f"{name}'s stack.xml declares entities; Studio does not read those.")
    try:
        root = ElementTree.fromstring(raw)
        width, height = int(root.get("w", "0")), int(root.get("h", "0"))
    except (ElementTree.ParseError, ValueError) as e:
        raise OraError(f"{name}'s stack.xml cannot be read ({e}).") from e
    if not (1 <= width <= MAX_SIDE and 1 <= height <= MAX_SIDE):
        raise OraError(f"{name} is {width}×{height}; a canvas is 1–{MAX_SIDE} px a side.")
    own = _studio_part(z, members)
    stack = root.find("stack")
    layers = _layers(
        z, members, stack if stack is not None else ElementTree.Element("stack"), 0, 0, own, name
    )
    return CanvasDoc(width, height, tuple(reversed(layers)))


def _studio_part(z: zipfile.ZipFile, members: dict[str, zipfile.ZipInfo]) -> dict[str, Any]:
    info = members.get(STUDIO_MEMBER)
    if info is None or info.file_size > MAX_XML:
        return {}
    try:
        data = json.loads(z.read(STUDIO_MEMBER))
    except ValueError:
        return {}
    layers = data.get("layers") if isinstance(data, dict) else None
    return layers if isinstance(layers, dict) else {}


def _layers(z: zipfile.ZipFile, members: dict[str, zipfile.ZipInfo], stack: ElementTree.Element, ox: int, oy: int,
            own: dict[str, Any], name: str) -> list[Layer]:  # fmt: skip
    """The stack's layers topmost first; a nested stack (a group in Krita) is opened in place, at its offset."""
    out: list[Layer] = []
    for element in stack:
        x, y = ox + _int(element.get("x")), oy + _int(element.get("y"))
        if element.tag == "stack":
            out += _layers(z, members, element, x, y, own, name)
            continue
        src = element.get("src", "")
        if element.tag != "layer" or src not in members:
            continue
        try:
            with open_picture(io.BytesIO(z.read(src))) as im:
                image = im.convert("RGBA")
        except (UnidentifiedImageError, OSError, Image.DecompressionBombError, zipfile.BadZipFile) as e:
            raise OraError(
                f"{name}: the layer {element.get('name', src)!r} is not a picture Studio can read."
            ) from e
        found = own.get(src)
        extra: dict[str, Any] = found if isinstance(found, dict) else {}
        kind = str(extra.get("kind")) if extra.get("kind") in KINDS else "paint"
        recipe = extra.get("recipe") if isinstance(extra.get("recipe"), dict) else None
        opacity = min(1.0, max(0.0, _float(element.get("opacity"), 1.0)))
        layer = Layer(element.get("name", "Layer")[:200], kind, image, x, y, element.get("visibility") != "hidden",
                      opacity, recipe)  # fmt: skip
        if isinstance(extra.get("id"), str) and extra["id"].isalnum():
            layer = layer.replace(id=extra["id"][:32])
        out.append(layer)
    return out


def _int(value: str | None) -> int:
    try:
        return max(-MAX_SIDE, min(MAX_SIDE, int(float(value or 0))))
    except ValueError:
        return 0


def _float(value: str | None, default: float) -> float:
    try:
        return float(value) if value is not None else default
    except ValueError:
        return default


def export_png(doc: CanvasDoc, path: Path) -> None:
    """The flattened canvas as a PNG; with the recipe of its topmost visible generated layer written as Studio and
    AUTOMATIC1111 write a picture's (so other tools read how it was made)."""
    from studio.core.image.image_metadata import RenderInfo, png_info
    from studio.core.image.specs import GenerateSpec

    picture = doc.flatten()
    recipe = next((lay.recipe for lay in reversed(doc.layers) if lay.visible and lay.kind == "generated"
                   and lay.recipe), None)  # fmt: skip
    info = None
    if recipe:
        try:
            spec = GenerateSpec.from_dict(recipe)
            info = png_info(spec.replace(width=doc.width, height=doc.height), RenderInfo())
        except ValueError:
            info = None
    with atomic_path(path) as tmp:
        picture.save(tmp, format="PNG", pnginfo=info)
