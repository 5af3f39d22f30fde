"""The model library sees every source and kind, and lists what it cannot use with the reason."""

from __future__ import annotations

import json
import shutil
import struct

from studio.core.models.model_library import scan_library


def write_header(path, tensors):
    raw = json.dumps(
        {k: {"dtype": "F16", "shape": v, "data_offsets": [0, 0]} for k, v in tensors.items()}
    ).encode()
    path.write_bytes(struct.pack("<Q", len(raw)) + raw)


def test_all_sources_and_kinds(tmp_path, tiny_sd, tiny_lm):
    models = tmp_path / "models"
    (models / "loras").mkdir(parents=True)
    shutil.copytree(tiny_sd, models / "my-pipeline")
    write_header(
        models / "loras" / "ink.safetensors",
        {"lora_unet_down_blocks_1_attentions_0_transformer_blocks_0_attn2_to_k.lora_down.weight": [8, 768]},
    )
    (models / "old.ckpt").write_bytes(b"\x80\x04")
    write_header(models / "embeds.safetensors", {"emb_params": [2, 768]})
    a1111 = tmp_path / "a1111" / "models" / "Stable-diffusion"
    a1111.mkdir(parents=True)
    write_header(
        a1111 / "xl.safetensors",
        {
            "model.diffusion_model.input_blocks.0.0.weight": [320, 4, 3, 3],
            "model.diffusion_model.input_blocks.4.1.transformer_blocks.0.attn2.to_k.weight": [640, 2048],
            "conditioner.embedders.0.transformer.text_model.x": [1],
            "conditioner.embedders.1.model.x": [1],
        },
    )
    cache = tmp_path / "hf" / "hub"
    snap = cache / "models--someone--tiny-lm" / "snapshots" / "abc123"
    shutil.copytree(tiny_lm, snap)
    entries = scan_library(models, [tmp_path / "a1111"], cache)
    got = {(e.name, e.source, e.kind, e.family) for e in entries}
    assert ("my-pipeline", "models folder", "checkpoint", "sd1") in got
    assert ("ink", "models folder", "lora", "sd1") in got
    assert ("embeds", "models folder", "embedding", "sd1") in got
    assert ("xl", "extra folder", "checkpoint", "sdxl") in got
    assert ("someone/tiny-lm", "Hugging Face cache", "text", "gpt2") in got
    refused = next(e for e in entries if e.name == "old")
    assert refused.kind == "refused" and "pickled" in refused.reason
    assert all(e.size >= 0 for e in entries) and (models / "old.ckpt").is_file()  # nothing touched
