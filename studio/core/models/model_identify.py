"""What a .safetensors file is, from the tensor names and shapes in its header alone (no weights are loaded):
checkpoints of SD 1.x, SD 2.x, SDXL base/refiner (and inpainting variants), SD3 and FLUX; LoRAs (the family they
fit and their key style); textual-inversion embeddings; VAEs. Anything else is "unknown", with the reason."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from studio.core.io.untrusted import integer, obj, parse_json

FAMILY_LABELS = {
    "sd1": "SD 1.x",
    "sd2": "SD 2.x",
    "sdxl": "SDXL",
    "sdxl-refiner": "SDXL refiner",
    "sd3": "SD3",
    "flux": "FLUX",
    "sd-vae": "SD/SDXL VAE",
}
_CONTEXT_FAMILY = {768: "sd1", 1024: "sd2", 2048: "sdxl", 1280: "sdxl-refiner"}


@dataclass(frozen=True)
class Identity:
    kind: str  # "checkpoint" | "lora" | "embedding" | "vae" | "upscaler" | "controlnet" | "ip-adapter" | "unknown"
    family: str = ""  # "sd1" | "sd2" | "sdxl" | "sdxl-refiner" | "sd3" | "flux" | "sd-vae" | ""
    variant: str = ""  # "inpaint", "v-prediction", …
    key_style: str = ""  # LoRAs: "kohya" | "diffusers" | "peft"
    reason: str = ""  # why it is unknown, or what could not be told
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def label(self) -> str:
        fam = FAMILY_LABELS.get(self.family, self.family)
        parts = [
            fam,
            self.variant,
            {
                "checkpoint": "checkpoint",
                "lora": "LoRA",
                "embedding": "embedding",
                "vae": "VAE",
                "upscaler": "upscaler",
                "controlnet": "ControlNet",
                "ip-adapter": "IP-Adapter",
                "text-lora": "text LoRA",
            }.get(self.kind, "unknown"),
        ]
        if self.key_style:
            parts.append(f"({self.key_style} keys)")
        return " ".join(p for p in parts if p)


def _shape(header: dict[str, Any], name: str) -> list[int] | None:
    info = header.get(name)
    return list(info.get("shape", [])) if isinstance(info, dict) else None


def _find(names: list[str], *parts: str) -> str | None:
    return next((n for n in names if all(p in n for p in parts)), None)


def identify(header: dict[str, Any]) -> Identity:
    raw_meta = header.get("__metadata__")
    meta: dict[str, Any] = raw_meta if isinstance(raw_meta, dict) else {}
    names = [k for k in header if k != "__metadata__"]
    if not names:
        return Identity("unknown", reason="The file holds no tensors.")
    if "studio_text_lora" in meta:  # a LoRA for a language model, made in Studio (learn my voice, my choices)
        return Identity("text-lora", "", details={"base": str(meta.get("studio_base_model", ""))})
    if any(n.startswith(("lora_unet_", "lora_te_", "lora_te1_", "lora_te2_")) for n in names):
        found = _lora(header, names, "kohya")
        return _studio_family(found, meta)
    if any(".lora_A." in n or ".lora_B." in n for n in names):
        return _studio_family(_lora(header, names, "peft"), meta)
    if any(".lora.down." in n or ".lora.up." in n or ".lora_down." in n for n in names):
        return _studio_family(_lora(header, names, "diffusers"), meta)
    if any("double_blocks." in n for n in names) and any("single_blocks." in n for n in names):
        return Identity("checkpoint", "flux")
    if any(".joint_blocks." in n or n.startswith("joint_blocks.") for n in names):
        return Identity("checkpoint", "sd3")
    if any(n.startswith("single_transformer_blocks.") for n in names) and "x_embedder.weight" in names:
        return Identity("checkpoint", "flux", details={"layout": "diffusers"})  # a diffusers FLUX transformer
    if (
        "pos_embed.proj.weight" in names
        and any(n.startswith("context_embedder.") for n in names)
        and any(n.startswith("transformer_blocks.") for n in names)
    ):
        return Identity("checkpoint", "sd3", details={"layout": "diffusers"})  # a diffusers SD3 transformer
    if any(n.startswith("model.diffusion_model.") for n in names):
        return _checkpoint(header, names, meta)
    if (control := _controlnet(header, names)) is not None:
        return control
    if (adapter := _ip_adapter(header, names)) is not None:
        return adapter
    emb = _embedding(header, names)
    if emb is not None:
        return emb
    if any(n.startswith(("encoder.down.", "encoder.down_blocks.")) for n in names) and any(
        n.startswith(("decoder.up.", "decoder.up_blocks.")) for n in names
    ):
        return Identity(
            "vae",
            "sd-vae",
            reason="SD 1.x and SDXL VAEs share one architecture; the file does not say "
            "which it was trained for.",
        )
    if "conv_in.weight" in names and any(n.startswith("down_blocks.") for n in names):
        return Identity(
            "unknown",
            reason="A diffusers UNet component on its own: open the pipeline folder it belongs "
            "to (the one with model_index.json).",
        )
    if (arch := upscaler_architecture(names)) is not None:
        return Identity("upscaler", variant=arch, details={"architecture": arch},
                        reason="its scale is read when it is loaded (spandrel)")  # fmt: skip
    sample = ", ".join(names[:3])
    return Identity(
        "unknown", reason=f"None of its {len(names)} tensor names is one Studio knows (e.g. {sample})."
    )


def _context(header: dict[str, Any], names: list[str], *parts: str) -> int:
    key = _find(names, *parts)
    shape = _shape(header, key) if key else None
    return shape[1] if shape and len(shape) == 2 else 0


def _controlnet(header: dict[str, Any], names: list[str]) -> Identity | None:
    """A ControlNet: AUTOMATIC1111's layout (``control_model.input_hint_block``, ``zero_convs``) or diffusers'
    (``controlnet_cond_embedding``, ``controlnet_down_blocks``); its family from the cross-attention width."""
    if any("input_hint_block." in n for n in names) and any("zero_convs." in n for n in names):
        layout = "A1111"
    elif any(n.startswith("controlnet_cond_embedding.") for n in names) and any(
        n.startswith("controlnet_down_blocks.") for n in names
    ):
        layout = "diffusers"
    else:
        return None
    context = _context(header, names, "attn2.to_k.weight")
    family = {768: "sd1", 1024: "sd2", 2048: "sdxl"}.get(context, "")
    if not family and any("add_embedding." in n or "label_emb." in n for n in names):
        family = "sdxl"  # SDXL ControlNets without attention in their blocks (small ones)
    return Identity("controlnet", family, details={"layout": layout, "context_dim": context},
                    reason="" if family else f"its cross-attention width ({context}) matches no family")  # fmt: skip


def _ip_adapter(header: dict[str, Any], names: list[str]) -> Identity | None:
    """An IP-Adapter (``image_proj.*`` + ``ip_adapter.N.to_k_ip``): its family from the cross-attention width, the
    image embedding width (1024: ViT-H, 1280: ViT-bigG) it needs, and whether it is a plus (token) model."""
    if not any(n.startswith("image_proj.") for n in names) or not any(
        n.startswith("ip_adapter.") and n.endswith("to_k_ip.weight") for n in names
    ):
        return None
    context = _context(header, names, "ip_adapter.", "to_k_ip.weight")
    family = {768: "sd1", 1024: "sd2", 2048: "sdxl"}.get(context, "")
    plus = "image_proj.latents" in header
    width = _shape(header, "image_proj.proj_in.weight" if plus else "image_proj.proj.weight") or [0, 0]
    return Identity("ip-adapter", family, "plus" if plus else "",
                    details={"image_embed_dim": width[1] if len(width) == 2 else 0, "context_dim": context})  # fmt: skip


def upscaler_architecture(names: list[str]) -> str | None:
    """The super-resolution architecture a file's tensor names suggest (ESRGAN old and new layouts,
    Real-ESRGAN's compact net, SwinIR/HAT/DAT-style transformers), or None. spandrel decides when loading."""
    keys = set(names)
    if "model.0.weight" in keys and any(".RDB1." in n for n in names):
        return "ESRGAN"
    if "conv_first.weight" in keys and any(n.startswith("body.") and ".rdb1." in n for n in names):
        return "ESRGAN (RRDBNet)"
    if names and all(n.startswith("body.") and n.count(".") == 2 for n in names) and "body.0.weight" in keys:
        return "Real-ESRGAN compact"
    if (
        "conv_first.weight" in keys
        and any(n.startswith("layers.0.") for n in names)
        and (
            "conv_last.weight" in keys
            or any(n.startswith(("upsample.", "conv_before_upsample.")) for n in names)
        )
    ):
        return "SwinIR-style transformer (SwinIR, HAT, DAT, …)"
    return None


def _checkpoint(header: dict[str, Any], names: list[str], meta: dict[str, Any]) -> Identity:
    first = _shape(header, "model.diffusion_model.input_blocks.0.0.weight")
    channels = first[1] if first and len(first) == 4 else None
    variant = {9: "inpaint", 8: "instruct-pix2pix"}.get(channels or 4, "")
    has_l = any(n.startswith("conditioner.embedders.0.transformer.") for n in names)
    has_g = any(
        n.startswith(("conditioner.embedders.1.model.", "conditioner.embedders.0.model.")) for n in names
    )
    key = _find(names, "model.diffusion_model.", "attn2.to_k.weight")
    context = (_shape(header, key) or [0, 0])[1] if key else 0
    if has_l and has_g:
        family = "sdxl"
    elif has_g and not has_l:
        family = "sdxl-refiner"
    else:
        family = _CONTEXT_FAMILY.get(context, "")
    if not family:
        return Identity(
            "unknown",
            reason=f"A Stable Diffusion-style UNet with a cross-attention width of {context}, "
            "which matches no family Studio knows.",
        )
    details: dict[str, Any] = {"in_channels": channels, "context_dim": context}
    if family == "sd2" and not variant:
        prediction = str(meta.get("modelspec.prediction_type", "")).lower()
        if "v_pred" in header or prediction in ("v", "v_prediction"):
            variant = "v-prediction"
        elif prediction in ("epsilon", "eps"):
            variant = ""
        else:
            return Identity(
                "checkpoint",
                family,
                "",
                reason="SD 2.x checkpoints do not show in their weights whether "
                "they predict v (768-v) or noise (512-base); choose it "
                "if images come out grey.",
                details=details,
            )
    return Identity("checkpoint", family, variant, details=details)


def _lora(header: dict[str, Any], names: list[str], style: str) -> Identity:
    if any("double_blocks" in n or "single_blocks" in n for n in names):
        return Identity("lora", "flux", key_style=style)
    if any("joint_blocks" in n for n in names):
        return Identity("lora", "sd3", key_style=style)
    down = next(
        (
            n
            for n in names
            if ("attn2" in n) and ("to_k" in n) and any(p in n for p in ("lora_down", "lora.down", "lora_A"))
        ),
        None,
    )
    width = (_shape(header, down) or [0, 0])[-1] if down else 0
    family = _CONTEXT_FAMILY.get(width, "")
    if not family and any(n.startswith(("lora_te1_", "lora_te2_")) for n in names):
        family = "sdxl"
    rank = (_shape(header, down) or [0])[0] if down else None
    if not family:
        return Identity(
            "lora",
            "",
            key_style=style,
            reason="The LoRA has no cross-attention key that tells its family; pick it yourself.",
            details={"rank": rank},
        )
    return Identity(
        "lora", "sdxl" if family == "sdxl-refiner" else family, key_style=style, details={"rank": rank}
    )


def _studio_family(found: Identity, meta: dict[str, Any]) -> Identity:
    """A LoRA Studio trained names its base model's family in its metadata: trusted where the keys cannot tell."""
    family = str(meta.get("studio_base_family", ""))
    if found.family or family not in ("sd1", "sd2", "sdxl"):
        return found
    return Identity("lora", family, key_style=found.key_style, details=found.details)


def _embedding(header: dict[str, Any], names: list[str]) -> Identity | None:
    """Textual inversion: SDXL's pair ``clip_l``/``clip_g``, or one tensor of 768 (SD 1.x) or 1024 (SD 2.x) wide
    vectors (A1111's ``emb_params``, or diffusers' learned_embeds keyed by the token)."""
    if set(names) >= {"clip_l", "clip_g"}:
        return Identity("embedding", "sdxl", details={"vectors": (_shape(header, "clip_l") or [0])[0]})
    if len(names) == 1:
        shape = _shape(header, names[0]) or []
        width = shape[-1] if shape and len(shape) <= 2 else 0
        family = {768: "sd1", 1024: "sd2"}.get(width, "")
        if family:
            return Identity(
                "embedding",
                family,
                details={
                    "vectors": shape[0] if len(shape) == 2 else 1,
                    "token": names[0] if names[0] != "emb_params" else "",
                },
            )
    return None


def kohya_metadata(meta: dict[str, Any]) -> dict[str, Any]:
    """Training facts a kohya-trained LoRA carries (``ss_*`` keys): trigger words, base model, settings."""
    out: dict[str, Any] = {}
    for key, label in (
        ("ss_output_name", "name"),
        ("ss_sd_model_name", "base_model"),
        ("ss_network_dim", "rank"),
        ("ss_network_alpha", "alpha"),
        ("ss_learning_rate", "learning_rate"),
        ("ss_max_train_steps", "steps"),
        ("ss_resolution", "resolution"),
        ("ss_num_train_images", "images"),
        ("ss_base_model_version", "base_version"),
    ):
        if isinstance(meta.get(key), str):
            out[label] = meta[key][:500]
    provenance = (
        obj(parse_json(meta["studio_dataset"])) if isinstance(meta.get("studio_dataset"), str) else {}
    )
    if provenance:  # trained in Studio: what it was trained on
        files = obj(provenance.get("files_sha256"))
        out["dataset"] = {"images": len(files), "captions_sha256": str(provenance.get("captions_sha256", ""))[:64],
                          "files_sha256": {str(k)[:200]: str(v)[:64] for k, v in list(files.items())[:1000]}}  # fmt: skip
    freq = parse_json(meta["ss_tag_frequency"]) if isinstance(meta.get("ss_tag_frequency"), str) else None
    if isinstance(freq, dict):
        tags: dict[str, int] = {}
        for folder in freq.values():
            for tag, n in obj(folder).items():
                tags[tag.strip()] = tags.get(tag.strip(), 0) + max(0, min(integer(n, 0) or 0, 2**31))
        if tags:
            out["trigger_words"] = [t for t, _ in sorted(tags.items(), key=lambda kv: -kv[1])[:5]]
    return out
