"""Write the offline configuration folders Studio loads single-file checkpoints with.

    python packaging/make_model_configs.py [path/to/bpe_simple_vocab_16e6.txt.gz]

Writes ``resources/model_configs/sd1/``: model_index.json, the UNet/VAE/text-encoder/scheduler configs of
Stable Diffusion 1.x, and a CLIP tokenizer (vocab.json + merges.txt) derived from OpenAI's CLIP BPE vocabulary
(MIT licence), which the open_clip_torch wheel carries as ``open_clip/bpe_simple_vocab_16e6.txt.gz``. Without an
argument the script fetches that wheel with ``pip download --no-deps`` (it is not installed).
"""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "resources" / "model_configs"


def bytes_to_unicode() -> dict[int, str]:
    """CLIP's reversible byte → printable-character table (as in GPT-2)."""
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, map(chr, cs), strict=True))


def clip_tokenizer_files(bpe_gz: Path, folder: Path) -> None:
    merges = gzip.open(bpe_gz).read().decode("utf-8").split("\n")
    merges = merges[1 : 49152 - 256 - 2 + 1]
    pairs = [tuple(m.split()) for m in merges]
    vocab = list(bytes_to_unicode().values())
    vocab = vocab + [v + "</w>" for v in vocab]
    vocab += ["".join(p) for p in pairs]
    vocab += ["<|startoftext|>", "<|endoftext|>"]
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "vocab.json").write_text(json.dumps({t: i for i, t in enumerate(vocab)}, ensure_ascii=False), "utf-8")
    (folder / "merges.txt").write_text("#version: 0.2\n" + "\n".join(" ".join(p) for p in pairs) + "\n", "utf-8")
    special = {"bos_token": "<|startoftext|>", "eos_token": "<|endoftext|>", "pad_token": "<|endoftext|>",
               "unk_token": "<|endoftext|>"}
    (folder / "special_tokens_map.json").write_text(json.dumps(special, indent=2) + "\n")
    config = {**special, "model_max_length": 77, "do_lower_case": True, "tokenizer_class": "CLIPTokenizer",
              "clean_up_tokenization_spaces": True}
    (folder / "tokenizer_config.json").write_text(json.dumps(config, indent=2) + "\n")


def write(path: Path, data: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2) + "\n")


SD1 = {
    "model_index.json": {
        "_class_name": "StableDiffusionPipeline", "_diffusers_version": "0.30.0",
        "feature_extractor": [None, None], "image_encoder": [None, None], "requires_safety_checker": False,
        "safety_checker": [None, None], "scheduler": ["diffusers", "PNDMScheduler"],
        "text_encoder": ["transformers", "CLIPTextModel"], "tokenizer": ["transformers", "CLIPTokenizer"],
        "unet": ["diffusers", "UNet2DConditionModel"], "vae": ["diffusers", "AutoencoderKL"],
    },
    "scheduler/scheduler_config.json": {
        "_class_name": "PNDMScheduler", "beta_end": 0.012, "beta_schedule": "scaled_linear", "beta_start": 0.00085,
        "clip_sample": False, "num_train_timesteps": 1000, "prediction_type": "epsilon", "set_alpha_to_one": False,
        "skip_prk_steps": True, "steps_offset": 1, "timestep_spacing": "leading", "trained_betas": None,
    },
    "text_encoder/config.json": {
        "architectures": ["CLIPTextModel"], "attention_dropout": 0.0, "bos_token_id": 0, "dropout": 0.0,
        "eos_token_id": 2, "hidden_act": "quick_gelu", "hidden_size": 768, "initializer_factor": 1.0,
        "initializer_range": 0.02, "intermediate_size": 3072, "layer_norm_eps": 1e-05,
        "max_position_embeddings": 77, "model_type": "clip_text_model", "num_attention_heads": 12,
        "num_hidden_layers": 12, "pad_token_id": 1, "projection_dim": 768, "vocab_size": 49408,
    },
    "unet/config.json": {
        "_class_name": "UNet2DConditionModel", "act_fn": "silu", "attention_head_dim": 8,
        "block_out_channels": [320, 640, 1280, 1280], "center_input_sample": False, "cross_attention_dim": 768,
        "down_block_types": ["CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "DownBlock2D"],
        "downsample_padding": 1, "flip_sin_to_cos": True, "freq_shift": 0, "in_channels": 4, "layers_per_block": 2,
        "mid_block_scale_factor": 1, "norm_eps": 1e-05, "norm_num_groups": 32, "out_channels": 4, "sample_size": 64,
        "up_block_types": ["UpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D"],
    },
    "vae/config.json": {
        "_class_name": "AutoencoderKL", "act_fn": "silu", "block_out_channels": [128, 256, 512, 512],
        "down_block_types": ["DownEncoderBlock2D"] * 4, "in_channels": 3, "latent_channels": 4,
        "layers_per_block": 2, "norm_num_groups": 32, "out_channels": 3, "sample_size": 512,
        "scaling_factor": 0.18215, "up_block_types": ["UpDecoderBlock2D"] * 4,
    },
}


def fetch_bpe() -> Path:
    tmp = Path(tempfile.mkdtemp())
    subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "-q", "-d", str(tmp), "open_clip_torch"],
                   check=True)
    wheel = next(tmp.glob("open_clip_torch-*.whl"))
    with zipfile.ZipFile(wheel) as z:
        z.extract("open_clip/bpe_simple_vocab_16e6.txt.gz", tmp)
    return tmp / "open_clip" / "bpe_simple_vocab_16e6.txt.gz"


def main() -> None:
    bpe = Path(sys.argv[1]) if len(sys.argv) > 1 else fetch_bpe()
    folder = OUT / "sd1"
    for name, data in SD1.items():
        write(folder / name, data)
    clip_tokenizer_files(bpe, folder / "tokenizer")
    print(f"wrote {folder}")


if __name__ == "__main__":
    main()
