"""The denoising loss of one batch, as the trainers people compare Studio with compute it: noise (with kohya's noise
offset), the target of the model's prediction type, min-SNR weighting, and a mask that lets the background count
less; and a validation loss on held-out pictures that is the same measurement every time it is taken."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass
class Noised:
    noisy: Any
    target: Any
    timesteps: Any
    alpha: Any  # ᾱ_t per item, shaped to broadcast over the latents


def noised(x0: Any, alphas: Any, generator: Any, prediction: str, noise_offset: float = 0.0,
           timesteps: Any = None) -> Noised:  # fmt: skip
    """The batch at random noise levels (or at ``timesteps``), and what the model is to predict there."""
    import torch

    noise = torch.randn(x0.shape, generator=generator).to(x0.device)
    if noise_offset:  # a shift per picture and channel: lets the LoRA move a picture's overall brightness
        shift = torch.randn((x0.shape[0], x0.shape[1], 1, 1), generator=generator).to(x0.device)
        noise = noise + noise_offset * shift
    if timesteps is None:
        timesteps = torch.randint(0, len(alphas), (x0.shape[0],), generator=generator)
    a = alphas[timesteps].to(x0.device).view(-1, 1, 1, 1)
    noisy = a.sqrt() * x0 + (1 - a).sqrt() * noise
    target = a.sqrt() * noise - (1 - a).sqrt() * x0 if prediction == "v_prediction" else noise
    return Noised(noisy, target, timesteps, a)


def weighted_loss(pred: Any, batch: Noised, prediction: str, min_snr_gamma: float, masks: Any = None,
                  floor: float = 0.1) -> Any:  # fmt: skip
    """The mean squared error per picture — where a mask is given, the background counting ``floor`` of the
    subject, normalised so a masked picture weighs as much as another — then min-SNR weighted, then averaged."""
    import torch
    import torch.nn.functional as F

    error = F.mse_loss(pred.float(), batch.target.float(), reduction="none")
    if masks is not None:
        weight = floor + (1 - floor) * F.interpolate(
            masks.to(error.device), size=error.shape[-2:], mode="area"
        )
        per_item = (error * weight).mean((1, 2, 3)) / weight.mean((1, 2, 3)).clamp_min(1e-6)
    else:
        per_item = error.mean((1, 2, 3))
    if min_snr_gamma > 0:
        snr = (batch.alpha / (1 - batch.alpha)).view(-1)
        clamped = torch.clamp(snr, max=min_snr_gamma)
        per_item = per_item * clamped / (snr + 1 if prediction == "v_prediction" else snr)
    return per_item.mean()


def masked_mean(error: Any, masks: Any, floor: float) -> Any:
    """Each picture's mean error; where a mask is given, the background counts ``floor`` of the subject, normalised
    so that a masked picture weighs as much as another."""
    import torch.nn.functional as F

    if masks is None:
        return error.mean((1, 2, 3))
    weight = floor + (1 - floor) * F.interpolate(masks.to(error.device), size=error.shape[-2:], mode="area")
    return (error * weight).mean((1, 2, 3)) / weight.mean((1, 2, 3)).clamp_min(1e-6)


VALIDATION_TIMESTEPS = (100, 300, 500, 700, 900)  # fixed noise levels: the curve moves only as the weights do


def validation_timesteps(steps: int) -> list[int]:
    return [min(steps - 1, t * steps // 1000) for t in VALIDATION_TIMESTEPS]
