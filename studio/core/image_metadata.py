"""What Studio writes into each image: A1111 ``parameters``, the ``studio`` spec chunk, and the IPTC AI marker."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from PIL import Image
from PIL.PngImagePlugin import PngInfo

from studio import __version__
from studio.core.a1111 import build_parameters
from studio.core.prompts import extract_loras, lora_tag
from studio.core.specs import GenerateSpec

STUDIO_CHUNK = "studio"
PARAMETERS_CHUNK = "parameters"
XMP_KEY = "XML:com.adobe.xmp"
AI_SOURCE_TYPE = "http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia"

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
    """Facts about how one image was made, beyond the spec."""

    seed: int
    index: int = 0
    device: str = ""
    dtype: str = ""
    seconds: float = 0.0
    model_hash: str = ""
    lora_hashes: dict[str, str] = field(default_factory=dict)
    versions: dict[str, str] = field(default_factory=dict)
    vae_hash: str = ""  # A1111's "VAE hash" of a VAE file chosen for the job
    variation_seed: int = 0  # this image's own variation seed
    ti_hashes: dict[str, str] = field(default_factory=dict)  # A1111's "TI hashes": embedding name -> hash
    # AUTOMATIC1111's extras fields: ("Postprocess upscale by", "2"), …
    postprocess: tuple[tuple[str, str], ...] = ()


def a1111_text(spec: GenerateSpec, info: RenderInfo) -> str:
    prompt = spec.prompt
    _, tagged = extract_loras(prompt)
    tagged_names = {t.name for t in tagged}
    extra_tags = [lora_tag(lo.name, lo.weight) for lo in spec.loras if lo.name not in tagged_names]
    if extra_tags:
        prompt = (prompt.rstrip() + " " + " ".join(extra_tags)).strip()
    params: list[tuple[str, Any]] = [
        ("Steps", spec.steps),
        ("Sampler", spec.sampler),
        ("Schedule type", spec.schedule if spec.schedule != "Automatic" else None),
        ("CFG scale", float(spec.cfg_scale)),
        ("Seed", info.seed),
        ("Size", f"{spec.width}x{spec.height}"),
        ("Variation seed", info.variation_seed if spec.variation_strength > 0 else None),
        ("Variation seed strength", float(spec.variation_strength) if spec.variation_strength > 0 else None),
        ("Model hash", info.model_hash or None),
        ("Model", spec.model_name),
        (
            "Denoising strength",
            float(spec.strength)
            if spec.init_image and spec.mode != "outpaint"
            else float(spec.hires_denoise)
            if spec.hires
            else None,
        ),
        ("Clip skip", spec.clip_skip if spec.clip_skip > 1 else None),
        ("Mask blur", spec.mask_blur if spec.mask or spec.mode == "outpaint" else None),
        ("VAE hash", info.vae_hash or None),
        ("VAE", "taesd" if spec.fast_decode else Path(spec.vae).name if spec.vae else None),
        ("Outpaint", ",".join(map(str, spec.outpaint)) if spec.mode == "outpaint" else None),
        ("Refiner", Path(spec.refiner).stem if spec.refiner else None),
        ("Refiner switch at", float(spec.refiner_switch) if spec.refiner else None),
        ("Hires upscale", float(spec.hires_scale) if spec.hires else None),
        ("Hires steps", spec.hires_steps if spec.hires and spec.hires_steps else None),
        ("Hires upscaler", upscaler_name(spec.hires_upscaler) if spec.hires else None),
        *guidance_params(spec),
        ("Lora hashes", ", ".join(f"{k}: {v}" for k, v in info.lora_hashes.items()) or None),
        ("TI hashes", ", ".join(f"{k}: {v}" for k, v in info.ti_hashes.items()) or None),
        ("Styles", ", ".join(spec.styles) or None),
        ("Idea", spec.idea.strip()[:500] or None),
        ("Template", spec.template or None),  # Dynamic Prompts' own fields
        ("Negative Template", spec.negative_template or None),
        *info.postprocess,
        ("RNG", "CPU"),
        ("Version", f"Studio {__version__}"),
    ]
    return build_parameters(prompt, spec.negative_prompt, params)


def guidance_params(spec: GenerateSpec) -> list[tuple[str, str]]:
    """ControlNet units and reference images as AUTOMATIC1111's ControlNet extension writes them (an IP-Adapter is a
    unit there too): ``ControlNet 0: "Module: canny, Model: …, Weight: 1, …"``."""
    from studio.core.control import control_text

    out = [(f"ControlNet {i}", control_text(u)) for i, u in enumerate(spec.controls)]
    for j, r in enumerate(spec.references, start=len(out)):
        out.append((f"ControlNet {j}", f"Module: ip-adapter_clip, Model: {Path(r.model).stem}, Weight: {r.weight:g}, "
                                       f"Guidance Start: {r.start:g}, Guidance End: {r.end:g}"))  # fmt: skip
    return out


def upscaler_name(value: str) -> str:
    """How AUTOMATIC1111 names an upscaler: "Latent", "Lanczos", or the model file's name."""
    return value if "/" not in value and "\\" not in value else Path(value).stem


def studio_record(spec: GenerateSpec, info: RenderInfo) -> dict[str, Any]:
    return {
        "spec": spec.to_dict(),
        "image_seed": info.seed,
        "index": info.index,
        "device": info.device,
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


def read_studio_record(image: Image.Image) -> dict[str, Any] | None:
    return record_from_info(image.info)


def record_from_info(info: dict[Any, Any]) -> dict[str, Any] | None:
    """The ``studio`` chunk of a picture's text chunks (PIL's ``info``), or None."""
    raw = info.get(STUDIO_CHUNK)
    if not raw:
        return None
    from studio.core.untrusted import parse_json

    data = parse_json(raw if isinstance(raw, str | bytes) else str(raw))  # bounded: size and depth
    return data if isinstance(data, dict) else None


def spec_of_image(image: Image.Image) -> GenerateSpec | None:
    """The spec that reproduces this exact image (its own seed, one image), if Studio made it."""
    rec = read_studio_record(image)
    if not rec or "spec" not in rec:
        return None
    try:  # untrusted: a recipe of another shape is no recipe
        spec = GenerateSpec.from_dict(rec["spec"])
        return spec.replace(seed=int(rec.get("image_seed", spec.seed)), batch_size=1, batch_count=1)
    except (ValueError, TypeError, OverflowError):
        return None
