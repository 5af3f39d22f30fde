"""The architecture of the built-in sound model ("Tones"): diffusion on log-mel spectrograms, painted like a
one-channel picture, with a 2-layer CLIP text encoder over a word-level tokenizer of the world's vocabulary.

64 mel rows × 64 columns (2.05 s at 16 kHz, 32 ms a column); a UNet with cross-attention at 16×16 and 8×8; the
columns are any multiple of 8, so longer sounds are painted by the same network. Griffin-Lim turns the painted
spectrogram back into a waveform (``studio/engine/sound_spectrogram.py``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from studio.core.sound.spectrogram import MelScale
from workshop.shapes_model import build_text_encoder
from workshop.shapes_model import build_tokenizer as _word_tokenizer
from workshop.sound_world import VOCABULARY

SCALE = MelScale(hop=512, low_db=-40.0, high_db=50.0)
FRAMES = 64


def build_tokenizer(folder: Path) -> Any:
    return _word_tokenizer(folder, VOCABULARY)


def build_components(tokenizer: Any) -> dict[str, Any]:
    from diffusers import UNet2DConditionModel

    text_encoder = build_text_encoder(tokenizer)
    unet = UNet2DConditionModel(
        sample_size=(SCALE.n_mels, FRAMES),
        in_channels=1,
        out_channels=1,
        layers_per_block=1,
        block_out_channels=(32, 48, 96, 96),
        down_block_types=("DownBlock2D", "DownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D"),
        up_block_types=("CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "UpBlock2D", "UpBlock2D"),
        cross_attention_dim=128,
        attention_head_dim=8,
        norm_num_groups=16,
    )
    return {"text_encoder": text_encoder, "unet": unet}


def _betas() -> dict[str, Any]:
    return {"num_train_timesteps": 1000, "beta_schedule": "squaredcos_cap_v2", "prediction_type": "epsilon"}


def train_scheduler() -> Any:
    from diffusers import DDPMScheduler

    return DDPMScheduler(**_betas(), clip_sample=False)


def sampling_scheduler() -> Any:
    from diffusers import DPMSolverMultistepScheduler

    # dynamic thresholding keeps each step's predicted spectrogram inside [-1, 1]: at the cosine schedule's noisiest
    # steps the first prediction divides by an alpha near 0 and, unclipped, saturates the whole picture
    return DPMSolverMultistepScheduler(
        **_betas(), algorithm_type="dpmsolver++", thresholding=True, sample_max_value=1.0
    )
