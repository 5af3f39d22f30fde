"""Writing an SD 1.x pipeline as one original-layout (CompVis/A1111) ``.safetensors`` checkpoint.

The inverse of diffusers' single-file conversion: a model trained or merged in Studio can go to tools that
only read single files, and tests can make a genuine original-layout checkpoint from a tiny pipeline.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

UNET_PREFIX = "model.diffusion_model."
VAE_PREFIX = "first_stage_model."
CLIP_PREFIX = "cond_stage_model.transformer."

_RESNET = (
    ("norm1", "in_layers.0"),
    ("conv1", "in_layers.2"),
    ("norm2", "out_layers.0"),
    ("conv2", "out_layers.3"),
    ("time_emb_proj", "emb_layers.1"),
    ("conv_shortcut", "skip_connection"),
)
_VAE_ATTN = (
    ("group_norm.", "norm."),
    ("to_q.", "q."),
    ("to_k.", "k."),
    ("to_v.", "v."),
    ("to_out.0.", "proj_out."),
)


def _resnet(rest: str) -> str:
    for new, old in _RESNET:
        rest = rest.replace(new, old)
    return rest


def unet_key(key: str, config: dict[str, Any]) -> str:
    from diffusers.loaders.single_file_utils import DIFFUSERS_TO_LDM_MAPPING

    mapping: dict[str, Any] = DIFFUSERS_TO_LDM_MAPPING["unet"]  # type: ignore[assignment]
    fixed = dict(mapping["layers"])
    if config.get("addition_embed_type") == "text_time":
        fixed.update(mapping["addition_embed_type"])
    if key in fixed:
        return fixed[key]
    n = config["layers_per_block"] + 1
    if m := re.fullmatch(r"down_blocks\.(\d+)\.(resnets|attentions)\.(\d+)\.(.+)", key):
        b, kind, i, rest = int(m[1]), m[2], int(m[3]), m[4]
        return f"input_blocks.{1 + b * n + i}.{0 if kind == 'resnets' else 1}.{_resnet(rest) if kind == 'resnets' else rest}"
    if m := re.fullmatch(r"down_blocks\.(\d+)\.downsamplers\.0\.conv\.(.+)", key):
        return f"input_blocks.{(int(m[1]) + 1) * n}.0.op.{m[2]}"
    if m := re.fullmatch(r"mid_block\.resnets\.(\d+)\.(.+)", key):
        return f"middle_block.{2 * int(m[1])}.{_resnet(m[2])}"
    if m := re.fullmatch(r"mid_block\.attentions\.0\.(.+)", key):
        return f"middle_block.1.{m[1]}"
    if m := re.fullmatch(r"up_blocks\.(\d+)\.(resnets|attentions)\.(\d+)\.(.+)", key):
        b, kind, i, rest = int(m[1]), m[2], int(m[3]), m[4]
        return f"output_blocks.{b * n + i}.{0 if kind == 'resnets' else 1}.{_resnet(rest) if kind == 'resnets' else rest}"
    if m := re.fullmatch(r"up_blocks\.(\d+)\.upsamplers\.0\.conv\.(.+)", key):
        b = int(m[1])
        has_attention = "CrossAttn" in config["up_block_types"][b]
        return f"output_blocks.{b * n + n - 1}.{2 if has_attention else 1}.conv.{m[2]}"
    raise KeyError(f"no original-layout name for UNet weight {key}")


def vae_key(key: str, config: dict[str, Any]) -> str:
    from diffusers.loaders.single_file_utils import DIFFUSERS_TO_LDM_MAPPING

    fixed: dict[str, str] = DIFFUSERS_TO_LDM_MAPPING["vae"]  # type: ignore[assignment]
    if key in fixed:
        return fixed[key]
    blocks = len(config["up_block_types"])
    if m := re.fullmatch(r"encoder\.down_blocks\.(\d+)\.resnets\.(\d+)\.(.+)", key):
        return f"encoder.down.{m[1]}.block.{m[2]}.{m[3].replace('conv_shortcut', 'nin_shortcut')}"
    if m := re.fullmatch(r"encoder\.down_blocks\.(\d+)\.downsamplers\.0\.conv\.(.+)", key):
        return f"encoder.down.{m[1]}.downsample.conv.{m[2]}"
    if m := re.fullmatch(r"decoder\.up_blocks\.(\d+)\.resnets\.(\d+)\.(.+)", key):
        return f"decoder.up.{blocks - 1 - int(m[1])}.block.{m[2]}.{m[3].replace('conv_shortcut', 'nin_shortcut')}"
    if m := re.fullmatch(r"decoder\.up_blocks\.(\d+)\.upsamplers\.0\.conv\.(.+)", key):
        return f"decoder.up.{blocks - 1 - int(m[1])}.upsample.conv.{m[2]}"
    if m := re.fullmatch(r"(encoder|decoder)\.mid_block\.resnets\.(\d+)\.(.+)", key):
        return f"{m[1]}.mid.block_{int(m[2]) + 1}.{m[3].replace('conv_shortcut', 'nin_shortcut')}"
    if m := re.fullmatch(r"(encoder|decoder)\.mid_block\.attentions\.0\.(.+)", key):
        rest = m[2]
        for new, old in _VAE_ATTN:
            rest = rest.replace(new, old) if rest.startswith(new) else rest
        return f"{m[1]}.mid.attn_1.{rest}"
    raise KeyError(f"no original-layout name for VAE weight {key}")


def to_ldm_state_dict(pipe: Any) -> dict[str, Any]:
    """The original-layout state dict of an SD 1.x pipeline (UNet, VAE, CLIP text encoder)."""
    if (
        hasattr(pipe, "text_encoder_2")
        or pipe.unet.config.cross_attention_dim != pipe.text_encoder.config.hidden_size
    ):
        raise ValueError("only SD 1.x-style pipelines can be written as original-layout checkpoints")
    out: dict[str, Any] = {}
    ucfg = dict(pipe.unet.config)
    for k, v in pipe.unet.state_dict().items():
        out[UNET_PREFIX + unet_key(k, ucfg)] = v.contiguous()
    vcfg = dict(pipe.vae.config)
    for k, v in pipe.vae.state_dict().items():
        name = vae_key(k, vcfg)
        if ".mid.attn_1." in name and v.ndim == 2:
            v = v[:, :, None, None]  # the original VAE attention uses 1x1 convolutions
        out[VAE_PREFIX + name] = v.contiguous()
    for k, v in pipe.text_encoder.state_dict().items():
        if k.startswith("text_projection"):
            continue
        out[CLIP_PREFIX + (k if k.startswith("text_model.") else "text_model." + k)] = v.contiguous()
    return out


def save_single_file(pipe: Any, path: Path) -> Path:
    from safetensors.torch import save_file

    save_file(to_ldm_state_dict(pipe), str(path), metadata={"format": "pt"})
    return path


def save_config_folder(pipe: Any, folder: Path) -> Path:
    """The JSON configs and tokenizer of a pipeline, without weights: what ``from_single_file(config=…)`` needs."""
    import shutil
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        pipe.save_pretrained(tmp, safe_serialization=True)
        for src in Path(tmp).rglob("*"):
            if src.is_file() and src.suffix in (".json", ".txt"):
                dst = folder / src.relative_to(tmp)
                dst.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(src, dst)
    return folder
