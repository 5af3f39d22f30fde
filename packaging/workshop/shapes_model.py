"""The architecture of the built-in "Shapes" model: a small latent diffusion pipeline (SD 1.x layout).

64×64 images, a 4× VAE (16×16×4 latents), a small UNet with cross-attention at 8×8 and 4×4, and a 2-layer
CLIP text encoder over a CLIP-style BPE tokenizer trained on the world's vocabulary.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from workshop.shapes_world import VOCABULARY

IMAGE_SIZE = 64
LATENT_SIZE = 16


def build_tokenizer(folder: Path, vocabulary: Any = VOCABULARY) -> Any:
    """Word-level CLIP-style BPE: every vocabulary word becomes one token."""
    import json

    from transformers import CLIPTokenizer

    folder.mkdir(parents=True, exist_ok=True)
    letters = sorted({c for w in vocabulary for c in w})
    vocab: dict[str, int] = {}
    for c in letters:
        vocab.setdefault(c, len(vocab))
        vocab.setdefault(c + "</w>", len(vocab))
    merges: list[str] = []
    for word in vocabulary:
        # merge left to right: ((w o) r) d</w>
        pieces = list(word[:-1]) + [word[-1] + "</w>"]
        while len(pieces) > 1:
            a, b = pieces[0], pieces[1]
            merges.append(f"{a} {b}")
            pieces = [a + b] + pieces[2:]
            vocab.setdefault(a + b, len(vocab))
    merges = list(dict.fromkeys(merges))
    for special in ("<|startoftext|>", "<|endoftext|>"):
        vocab[special] = len(vocab)
    (folder / "vocab.json").write_text(json.dumps(vocab))
    (folder / "merges.txt").write_text("#version: 0.2\n" + "\n".join(merges) + "\n")
    return CLIPTokenizer.from_pretrained(str(folder), model_max_length=77)


def build_text_encoder(tokenizer: Any) -> Any:
    """The 2-layer, 128-wide CLIP text encoder of Studio's built-in models (Shapes, Tones)."""
    from transformers import CLIPTextConfig, CLIPTextModel

    return CLIPTextModel(
        CLIPTextConfig(
            vocab_size=len(tokenizer),
            hidden_size=128,
            intermediate_size=256,
            num_hidden_layers=2,
            num_attention_heads=4,
            max_position_embeddings=77,
            bos_token_id=tokenizer.bos_token_id,
            eos_token_id=tokenizer.eos_token_id,
            pad_token_id=tokenizer.pad_token_id,
            projection_dim=128,
        )
    )


def build_components(tokenizer: Any) -> dict[str, Any]:
    from diffusers import AutoencoderKL, UNet2DConditionModel

    text_encoder = build_text_encoder(tokenizer)
    vae = AutoencoderKL(
        in_channels=3,
        out_channels=3,
        latent_channels=4,
        block_out_channels=(16, 32, 64),
        layers_per_block=1,
        down_block_types=("DownEncoderBlock2D",) * 3,
        up_block_types=("UpDecoderBlock2D",) * 3,
        norm_num_groups=8,
        sample_size=IMAGE_SIZE,
    )
    unet = UNet2DConditionModel(
        sample_size=LATENT_SIZE,
        in_channels=4,
        out_channels=4,
        layers_per_block=1,
        block_out_channels=(64, 96, 96),
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D"),
        up_block_types=("CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "UpBlock2D"),
        cross_attention_dim=128,
        attention_head_dim=4,
        norm_num_groups=16,
    )
    return {"text_encoder": text_encoder, "vae": vae, "unet": unet}


def train_scheduler() -> Any:
    from diffusers import DDPMScheduler

    return DDPMScheduler(
        num_train_timesteps=1000,
        beta_start=0.00085,
        beta_end=0.012,
        beta_schedule="scaled_linear",
        clip_sample=False,
        prediction_type="epsilon",
        steps_offset=1,
    )


def sampling_scheduler() -> Any:
    from diffusers import DPMSolverMultistepScheduler

    return DPMSolverMultistepScheduler(
        num_train_timesteps=1000,
        beta_start=0.00085,
        beta_end=0.012,
        beta_schedule="scaled_linear",
        prediction_type="epsilon",
        steps_offset=1,
        algorithm_type="dpmsolver++",
        use_karras_sigmas=True,
    )
