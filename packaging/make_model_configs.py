"""Write the offline configuration folders Studio loads single-file checkpoints with.

    python packaging/make_model_configs.py [path/to/bpe_simple_vocab_16e6.txt.gz]

Writes ``resources/model_configs/{sd1,sd2,sdxl}/``: model_index.json, the UNet/VAE/text-encoder/scheduler
configs of Stable Diffusion 1.x, 2.x and XL base, and the CLIP tokenizers (vocab.json + merges.txt) derived from OpenAI's CLIP BPE vocabulary
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
    bs = (
        list(range(ord("!"), ord("~") + 1))
        + list(range(ord("¡"), ord("¬") + 1))
        + list(range(ord("®"), ord("ÿ") + 1))
    )
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, map(chr, cs), strict=True))


def clip_tokenizer_files(bpe_gz: Path, folder: Path, pad: str = "<|endoftext|>") -> None:
    with gzip.open(bpe_gz) as f:
        merges = f.read().decode("utf-8").split("\n")
    merges = merges[1 : 49152 - 256 - 2 + 1]
    pairs = [tuple(m.split()) for m in merges]
    vocab = list(bytes_to_unicode().values())
    vocab = vocab + [v + "</w>" for v in vocab]
    vocab += ["".join(p) for p in pairs]
    vocab += ["<|startoftext|>", "<|endoftext|>"]
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "vocab.json").write_text(
        json.dumps({t: i for i, t in enumerate(vocab)}, ensure_ascii=False), "utf-8"
    )
    (folder / "merges.txt").write_text(
        "#version: 0.2\n" + "\n".join(" ".join(p) for p in pairs) + "\n", "utf-8"
    )
    special = {
        "bos_token": "<|startoftext|>",
        "eos_token": "<|endoftext|>",
        "pad_token": pad,
        "unk_token": "<|endoftext|>",
    }
    (folder / "special_tokens_map.json").write_text(json.dumps(special, indent=2) + "\n")
    config = {
        **special,
        "model_max_length": 77,
        "do_lower_case": True,
        "tokenizer_class": "CLIPTokenizer",
        "clean_up_tokenization_spaces": True,
    }
    (folder / "tokenizer_config.json").write_text(json.dumps(config, indent=2) + "\n")


def write(path: Path, data: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2) + "\n")


SD1 = {
    "model_index.json": {
        "_class_name": "StableDiffusionPipeline",
        "_diffusers_version": "0.30.0",
        "feature_extractor": [None, None],
        "image_encoder": [None, None],
        "requires_safety_checker": False,
        "safety_checker": [None, None],
        "scheduler": ["diffusers", "PNDMScheduler"],
        "text_encoder": ["transformers", "CLIPTextModel"],
        "tokenizer": ["transformers", "CLIPTokenizer"],
        "unet": ["diffusers", "UNet2DConditionModel"],
        "vae": ["diffusers", "AutoencoderKL"],
    },
    "scheduler/scheduler_config.json": {
        "_class_name": "PNDMScheduler",
        "beta_end": 0.012,
        "beta_schedule": "scaled_linear",
        "beta_start": 0.00085,
        "clip_sample": False,
        "num_train_timesteps": 1000,
        "prediction_type": "epsilon",
        "set_alpha_to_one": False,
        "skip_prk_steps": True,
        "steps_offset": 1,
        "timestep_spacing": "leading",
        "trained_betas": None,
    },
    "text_encoder/config.json": {
        "architectures": ["CLIPTextModel"],
        "attention_dropout": 0.0,
        "bos_token_id": 0,
        "dropout": 0.0,
        "eos_token_id": 2,
        "hidden_act": "quick_gelu",
        "hidden_size": 768,
        "initializer_factor": 1.0,
        "initializer_range": 0.02,
        "intermediate_size": 3072,
        "layer_norm_eps": 1e-05,
        "max_position_embeddings": 77,
        "model_type": "clip_text_model",
        "num_attention_heads": 12,
        "num_hidden_layers": 12,
        "pad_token_id": 1,
        "projection_dim": 768,
        "vocab_size": 49408,
    },
    "unet/config.json": {
        "_class_name": "UNet2DConditionModel",
        "act_fn": "silu",
        "attention_head_dim": 8,
        "block_out_channels": [320, 640, 1280, 1280],
        "center_input_sample": False,
        "cross_attention_dim": 768,
        "down_block_types": [
            "CrossAttnDownBlock2D",
            "CrossAttnDownBlock2D",
            "CrossAttnDownBlock2D",
            "DownBlock2D",
        ],
        "downsample_padding": 1,
        "flip_sin_to_cos": True,
        "freq_shift": 0,
        "in_channels": 4,
        "layers_per_block": 2,
        "mid_block_scale_factor": 1,
        "norm_eps": 1e-05,
        "norm_num_groups": 32,
        "out_channels": 4,
        "sample_size": 64,
        "up_block_types": ["UpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D"],
    },
    "vae/config.json": {
        "_class_name": "AutoencoderKL",
        "act_fn": "silu",
        "block_out_channels": [128, 256, 512, 512],
        "down_block_types": ["DownEncoderBlock2D"] * 4,
        "in_channels": 3,
        "latent_channels": 4,
        "layers_per_block": 2,
        "norm_num_groups": 32,
        "out_channels": 3,
        "sample_size": 512,
        "scaling_factor": 0.18215,
        "up_block_types": ["UpDecoderBlock2D"] * 4,
    },
}


_SCALED_LINEAR = {
    "beta_end": 0.012,
    "beta_schedule": "scaled_linear",
    "beta_start": 0.00085,
    "clip_sample": False,
    "num_train_timesteps": 1000,
    "set_alpha_to_one": False,
    "skip_prk_steps": True,
    "steps_offset": 1,
    "trained_betas": None,
}
_VAE = SD1["vae/config.json"]
_CLIP_L = SD1["text_encoder/config.json"]

SD2 = {  # Stable Diffusion 2.x (OpenCLIP ViT-H text encoder, its penultimate layer: 23 of 24)
    "model_index.json": {**SD1["model_index.json"], "scheduler": ["diffusers", "DDIMScheduler"]},
    # "epsilon" is 2.x-base (512); the 768-v models are loaded with prediction_type "v_prediction" on top.
    "scheduler/scheduler_config.json": {
        "_class_name": "DDIMScheduler",
        **_SCALED_LINEAR,
        "prediction_type": "epsilon",
        "timestep_spacing": "leading",
    },
    "text_encoder/config.json": {
        **_CLIP_L,
        "hidden_act": "gelu",
        "hidden_size": 1024,
        "intermediate_size": 4096,
        "num_attention_heads": 16,
        "num_hidden_layers": 23,
        "projection_dim": 512,
    },
    "unet/config.json": {
        **SD1["unet/config.json"],
        "attention_head_dim": [5, 10, 20, 20],
        "cross_attention_dim": 1024,
        "use_linear_projection": True,
        "upcast_attention": True,
        "sample_size": 96,
    },
    "vae/config.json": {**_VAE, "sample_size": 768},
}

SDXL = {  # Stable Diffusion XL 1.0 base (CLIP ViT-L + OpenCLIP ViT-bigG)
    "model_index.json": {
        "_class_name": "StableDiffusionXLPipeline",
        "_diffusers_version": "0.30.0",
        "feature_extractor": [None, None],
        "image_encoder": [None, None],
        "force_zeros_for_empty_prompt": True,
        "scheduler": ["diffusers", "EulerDiscreteScheduler"],
        "text_encoder": ["transformers", "CLIPTextModel"],
        "text_encoder_2": ["transformers", "CLIPTextModelWithProjection"],
        "tokenizer": ["transformers", "CLIPTokenizer"],
        "tokenizer_2": ["transformers", "CLIPTokenizer"],
        "unet": ["diffusers", "UNet2DConditionModel"],
        "vae": ["diffusers", "AutoencoderKL"],
    },
    "scheduler/scheduler_config.json": {
        "_class_name": "EulerDiscreteScheduler",
        **_SCALED_LINEAR,
        "interpolation_type": "linear",
        "prediction_type": "epsilon",
        "sample_max_value": 1.0,
        "timestep_spacing": "leading",
        "use_karras_sigmas": False,
    },
    "text_encoder/config.json": _CLIP_L,
    "text_encoder_2/config.json": {
        **_CLIP_L,
        "architectures": ["CLIPTextModelWithProjection"],
        "hidden_act": "gelu",
        "hidden_size": 1280,
        "intermediate_size": 5120,
        "num_attention_heads": 20,
        "num_hidden_layers": 32,
        "projection_dim": 1280,
    },
    "unet/config.json": {
        "_class_name": "UNet2DConditionModel",
        "act_fn": "silu",
        "addition_embed_type": "text_time",
        "addition_embed_type_num_heads": 64,
        "addition_time_embed_dim": 256,
        "attention_head_dim": [5, 10, 20],
        "block_out_channels": [320, 640, 1280],
        "center_input_sample": False,
        "cross_attention_dim": 2048,
        "down_block_types": ["DownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D"],
        "downsample_padding": 1,
        "flip_sin_to_cos": True,
        "freq_shift": 0,
        "in_channels": 4,
        "layers_per_block": 2,
        "mid_block_scale_factor": 1,
        "norm_eps": 1e-05,
        "norm_num_groups": 32,
        "out_channels": 4,
        "projection_class_embeddings_input_dim": 2816,
        "sample_size": 128,
        "transformer_layers_per_block": [1, 2, 10],
        "up_block_types": ["CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "UpBlock2D"],
        "use_linear_projection": True,
    },
    "vae/config.json": {**_VAE, "sample_size": 1024, "scaling_factor": 0.13025, "force_upcast": True},
}
FAMILIES = {"sd1": SD1, "sd2": SD2, "sdxl": SDXL}
# which tokenizer folders each family has, and their padding token (OpenCLIP pads with "!")
TOKENIZERS = {
    "sd1": {"tokenizer": "<|endoftext|>"},
    "sd2": {"tokenizer": "!"},
    "sdxl": {"tokenizer": "<|endoftext|>", "tokenizer_2": "!"},
}


def fetch_bpe() -> Path:
    tmp = Path(tempfile.mkdtemp())
    subprocess.run(
        [sys.executable, "-m", "pip", "download", "--no-deps", "-q", "-d", str(tmp), "open_clip_torch"],
        check=True,
    )
    wheel = next(tmp.glob("open_clip_torch-*.whl"))
    with zipfile.ZipFile(wheel) as z:
        z.extract("open_clip/bpe_simple_vocab_16e6.txt.gz", tmp)
    return tmp / "open_clip" / "bpe_simple_vocab_16e6.txt.gz"


def main() -> None:
    bpe = Path(sys.argv[1]) if len(sys.argv) > 1 else fetch_bpe()
    for family, files in FAMILIES.items():
        folder = OUT / family
        for name, data in files.items():
            write(folder / name, data)
        for sub, pad in TOKENIZERS[family].items():
            clip_tokenizer_files(bpe, folder / sub, pad)
        print(f"wrote {folder}")


if __name__ == "__main__":
    main()
