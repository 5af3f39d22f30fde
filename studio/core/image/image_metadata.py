"""What Studio writes into each image: A1111 ``parameters``, the ``studio`` spec chunk, and the IPTC AI marker."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from PIL import Image
from PIL.PngImagePlugin import PngInfo

from studio import __version__
from studio.core.image.a1111 import build_parameters
from studio.core.image.content_claim import AI_SOURCE_TYPE
from studio.core.image.prompts import extract_loras, lora_tag
from studio.core.image.specs import GenerateSpec
from studio.core.jobs.fields import spec_words

STUDIO_CHUNK = "studio"
PARAMETERS_CHUNK = "parameters"
XMP_KEY = "XML:com.adobe.xmp"

_XMP = (
    '<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>\n'
    '<x:xmpmeta xmlns:x="adobe:ns:meta/">\n'
    ' <rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">\n'
    '  <rdf:Description rdf:about=""\n'
    '    xmlns:Iptc4xmpExt="http://iptc.org/std/Iptc4xmpExt/2008-02-29/">\n'
    f"   <Iptc4xmpExt:DigitalSourceType>{AI_SOURCE_TYPE}</Iptc4xmpExt:DigitalSourceType>\n"
    "  </rdf:Description>\n"
    " </rdf:RDF>\n"
    "</x:xmpmeta>\n"
    '<?xpacket end="w"?>'
)


@dataclass(frozen=True)
class RenderInfo:
    """Facts about how one picture was made, beyond its recipe (which holds its seed: ``GenerateSpec.for_image``)."""

    index: int = 0
    engine: str = ""  # what ran the UNet: "torch", "OpenVINO 2026.4.1 (bf16)"
    device: str = ""
    dtype: str = ""
    seconds: float = 0.0
    model_hash: str = ""
    lora_hashes: dict[str, str] = field(default_factory=dict)
    versions: dict[str, str] = field(default_factory=dict)
    vae_hash: str = ""  # A1111's "VAE hash" of a VAE file chosen for the job
    ti_hashes: dict[str, str] = field(default_factory=dict)  # A1111's "TI hashes": embedding name -> hash
    # AUTOMATIC1111's extras fields: ("Postprocess upscale by", "2"), …
    postprocess: tuple[tuple[str, str], ...] = ()


def a1111_text(spec: GenerateSpec, info: RenderInfo) -> str:
    """AUTOMATIC1111's ``parameters`` text of one saved picture (``spec`` is that picture's own recipe): each field
    writes its own words (declared on ``GenerateSpec``); the render facts (hashes, RNG, version) are added here."""
    prompt = spec.prompt
    _, tagged = extract_loras(prompt)
    tagged_names = {t.name for t in tagged}
    extra_tags = [lora_tag(lo.name, lo.weight) for lo in spec.loras if lo.name not in tagged_names]
    if extra_tags:
        prompt = (prompt.rstrip() + " " + " ".join(extra_tags)).strip()
    params: list[tuple[int, str, Any]] = [
        (words.order, key, value) for name, words in spec_words(GenerateSpec)
        for key, value in words.entries(spec, name)
    ]  # fmt: skip
    params += [(order, key, value) for order, key, value in (
        (90, "Model hash", info.model_hash or None),
        (140, "VAE hash", info.vae_hash or None),
        (230, "Lora hashes", ", ".join(f"{k}: {v}" for k, v in info.lora_hashes.items()) or None),
        (240, "TI hashes", ", ".join(f"{k}: {v}" for k, v in info.ti_hashes.items()) or None),
        *((290, k, v) for k, v in info.postprocess),
        (300, "RNG", "CPU"),
        (310, "Version", f"Studio {__version__}"),
    )]  # fmt: skip
    params.sort(key=lambda entry: entry[0])  # stable: a field's several entries keep their order
    return build_parameters(prompt, spec.negative_prompt, [(key, value) for _, key, value in params])


RENDER_KEYS = (
    "Model hash",
    "VAE hash",
    "Lora hashes",
    "TI hashes",
    "RNG",
    "Version",
)  # the render facts' words


def studio_record(spec: GenerateSpec, info: RenderInfo) -> dict[str, Any]:
    return {
        "spec": spec.to_dict(),
        "index": info.index,
        "device": info.device,
        **({"engine": info.engine} if info.engine else {}),
        "dtype": info.dtype,
        "seconds": round(info.seconds, 3),
        "model_hash": info.model_hash,
        "lora_hashes": info.lora_hashes,
        "versions": {"studio": __version__, **info.versions},
        **({"postprocess": dict(info.postprocess)} if info.postprocess else {}),
    }


def png_info(spec: GenerateSpec, info: RenderInfo) -> PngInfo:
    meta = PngInfo()
    meta.add_text(PARAMETERS_CHUNK, a1111_text(spec, info))
    meta.add_itxt(STUDIO_CHUNK, json.dumps(studio_record(spec, info), ensure_ascii=False))
    meta.add_itxt(XMP_KEY, _XMP)
    return meta


COPY_FORMATS = {"png": ("PNG", ".png"), "jpeg": ("JPEG", ".jpg"), "webp": ("WEBP", ".webp")}


def copy_bytes(image: Image.Image, info: dict[Any, Any], fmt: str, with_recipe: bool) -> bytes:
    """A copy of a gallery picture in ``fmt`` (png, jpeg, webp): with its recipe (PNG text chunks; for JPEG and
    WebP the A1111 text in EXIF's UserComment, as AUTOMATIC1111 writes it) or without; the IPTC AI marker always."""
    import io

    out = io.BytesIO()
    kind = COPY_FORMATS[fmt][0]
    parameters = str(info.get(PARAMETERS_CHUNK, "")) if with_recipe else ""
    if kind == "PNG":
        meta = PngInfo()
        if with_recipe:
            for key in (PARAMETERS_CHUNK, STUDIO_CHUNK):
                if info.get(key):
                    meta.add_itxt(key, str(info[key]))
        meta.add_itxt(XMP_KEY, _XMP)
        image.save(out, "PNG", pnginfo=meta, compress_level=4)
        return out.getvalue()
    exif = Image.Exif()
    if parameters:
        exif.get_ifd(0x8769)[0x9286] = b"UNICODE\0" + parameters.encode("utf-16-be")
    picture = image.convert("RGB") if kind == "JPEG" else image
    picture.save(out, kind, quality=95, exif=exif.tobytes(), xmp=_XMP.encode())
    return out.getvalue()


def read_studio_record(image: Image.Image) -> dict[str, Any] | None:
    return record_from_info(image.info)


def record_from_info(info: dict[Any, Any]) -> dict[str, Any] | None:
    """The ``studio`` chunk of a picture's text chunks (PIL's ``info``), or None."""
    raw = info.get(STUDIO_CHUNK)
    if not raw:
        return None
    from studio.core.io.untrusted import parse_json

    data = parse_json(raw if isinstance(raw, str | bytes) else str(raw))  # bounded: size and depth
    return data if isinstance(data, dict) else None


def spec_of_image(image: Image.Image) -> GenerateSpec | None:
    """The spec that reproduces this exact image (its own seed, one image), if Studio made it."""
    return own_recipe(read_studio_record(image))


def own_recipe(record: dict[str, Any] | None) -> GenerateSpec | None:
    """The recipe of one picture out of its ``studio`` chunk: the spec there, which is the picture's own. Pictures
    saved before version 0.3 held their job's spec and the picture's seed beside it (``image_seed``)."""
    if not record or not isinstance(record.get("spec"), dict):
        return None
    try:  # untrusted: a recipe of another shape is no recipe
        spec = GenerateSpec.from_dict(record["spec"])
        seed = record.get("image_seed", spec.seed)
        return spec.replace(seed=seed if isinstance(seed, int) and not isinstance(seed, bool) else spec.seed,
                            batch_size=1, batch_count=1)  # fmt: skip
    except (ValueError, TypeError, OverflowError):
        return None
