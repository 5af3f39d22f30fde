"""Identifying model files from their safetensors headers alone."""

from __future__ import annotations

import json
import struct

import pytest

from studio.core.io.safetensors_header import read_header
from studio.core.models.model_identify import identify, kohya_metadata


def header(tensors: dict[str, list[int]], meta: dict | None = None) -> dict:
    h = {name: {"dtype": "F16", "shape": shape, "data_offsets": [0, 0]} for name, shape in tensors.items()}
    if meta:
        h["__metadata__"] = meta
    return h


UNET_IN = "model.diffusion_model.input_blocks.0.0.weight"
ATTN = "model.diffusion_model.input_blocks.1.1.transformer_blocks.0.attn2.to_k.weight"


def sd(context: int, channels: int = 4, **extra) -> dict:
    return {UNET_IN: [320, channels, 3, 3], ATTN: [320, context], **extra}


CASES = [
    (sd(768, cond_stage_model_transformer=[1]), ("checkpoint", "sd1", "")),
    (sd(768, 9), ("checkpoint", "sd1", "inpaint")),
    (
        sd(
            2048,
            **{
                "conditioner.embedders.0.transformer.text_model.x": [1],
                "conditioner.embedders.1.model.transformer.resblocks.0.x": [1],
            },
        ),
        ("checkpoint", "sdxl", ""),
    ),
    (
        sd(
            2048,
            9,
            **{
                "conditioner.embedders.0.transformer.text_model.x": [1],
                "conditioner.embedders.1.model.transformer.resblocks.0.x": [1],
            },
        ),
        ("checkpoint", "sdxl", "inpaint"),
    ),
    (
        {UNET_IN: [384, 4, 3, 3], ATTN: [384, 1280], "conditioner.embedders.0.model.transformer.x": [1]},
        ("checkpoint", "sdxl-refiner", ""),
    ),
    (
        {"model.diffusion_model.joint_blocks.0.x_block.attn.qkv.weight": [4608, 1536]},
        ("checkpoint", "sd3", ""),
    ),
    (
        {"double_blocks.0.img_attn.qkv.weight": [9216, 3072], "single_blocks.0.linear1.weight": [1, 1]},
        ("checkpoint", "flux", ""),
    ),
    (
        {"encoder.down.0.block.0.conv1.weight": [128, 128, 3, 3], "decoder.up.0.block.0.conv1.weight": [1]},
        ("vae", "sd-vae", ""),
    ),
    ({"emb_params": [4, 768]}, ("embedding", "sd1", "")),
    ({"<cat-toy>": [1024]}, ("embedding", "sd2", "")),
    ({"clip_l": [2, 768], "clip_g": [2, 1280]}, ("embedding", "sdxl", "")),
]


@pytest.mark.parametrize(("tensors", "expected"), CASES)
def test_checkpoints_vaes_and_embeddings(tensors, expected):
    i = identify(header(tensors))
    assert (i.kind, i.family, i.variant) == expected


def test_sd2_v_prediction_only_when_the_file_says_so():
    assert identify(header(sd(1024), {"modelspec.prediction_type": "v"})).variant == "v-prediction"
    assert identify(header({**sd(1024), "v_pred": []})).variant == "v-prediction"
    unknown = identify(header(sd(1024)))
    assert unknown.family == "sd2" and "768-v" in unknown.reason
    assert identify(header(sd(1024), {"modelspec.prediction_type": "epsilon"})).reason == ""


@pytest.mark.parametrize(
    ("tensors", "expected"),
    [
        (
            {
                "lora_unet_input_blocks_4_1_transformer_blocks_0_attn2_to_k.lora_down.weight": [16, 2048],
                "lora_te1_text_model_encoder_layers_0_mlp_fc1.lora_down.weight": [16, 768],
            },
            ("sdxl", "kohya", 16),
        ),
        (
            {
                "lora_unet_down_blocks_1_attentions_0_transformer_blocks_0_attn2_to_k.lora_down.weight": [
                    8,
                    768,
                ]
            },
            ("sd1", "kohya", 8),
        ),
        (
            {"unet.down_blocks.1.attentions.0.transformer_blocks.0.attn2.to_k.lora.down.weight": [4, 1024]},
            ("sd2", "diffusers", 4),
        ),
        (
            {"unet.down_blocks.1.attentions.0.transformer_blocks.0.attn2.to_k.lora_A.weight": [16, 768]},
            ("sd1", "peft", 16),
        ),
        ({"transformer.double_blocks.0.img_attn.qkv.lora_A.weight": [16, 3072]}, ("flux", "peft", None)),
    ],
)
def test_loras_family_and_key_style(tensors, expected):
    i = identify(header(tensors))
    assert (i.kind, i.family, i.key_style, i.details.get("rank")) == ("lora", *expected)


def test_unknown_says_why_and_kohya_metadata():
    i = identify(header({"classifier.weight": [10, 64]}))
    assert i.kind == "unknown" and "classifier.weight" in i.reason
    assert identify({}).kind == "unknown"
    meta = {
        "ss_output_name": "inkstyle",
        "ss_network_dim": "16",
        "ss_sd_model_name": "v1-5-pruned",
        "ss_tag_frequency": json.dumps({"10_ink": {"ink drawing": 20, "sks": 20, "tree": 3}}),
    }
    k = kohya_metadata(meta)
    assert k["name"] == "inkstyle" and k["rank"] == "16" and k["trigger_words"][:2] == ["ink drawing", "sks"]


def test_real_files_from_the_project(tiny_sd):
    from studio.core.models.builtin_models import BUILTIN_LORA_DIR

    lora = BUILTIN_LORA_DIR / "shapes-star.safetensors"
    if lora.is_file():
        i = identify(read_header(lora))
        # no cross-attention key tells its family, but the file says it: made for Shapes, an SD 1.x layout
        assert (i.kind, i.key_style, i.family, i.reason) == ("lora", "diffusers", "sd1", "")
        assert read_header(lora)["__metadata__"]["studio_base_model"] == "shapes"


def test_written_file_round_trip(tmp_path):
    h = header(sd(768))
    raw = json.dumps(h).encode()
    f = tmp_path / "m.safetensors"
    f.write_bytes(struct.pack("<Q", len(raw)) + raw)
    assert identify(read_header(f)).label == "SD 1.x checkpoint"
