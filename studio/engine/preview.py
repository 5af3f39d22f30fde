"""Cheap live previews: a fixed linear map from latent channels to RGB (no VAE decode)."""

from __future__ import annotations

from typing import Any

from PIL import Image

# Least-squares fits of latent → RGB, the well-known "approx cheap" coefficients.
_SD15 = [[0.298, 0.207, 0.208], [0.187, 0.286, 0.173], [-0.158, 0.189, 0.264], [-0.184, -0.271, -0.473]]
_SDXL = [
    [0.3651, 0.4232, 0.4341],
    [-0.2533, -0.0042, 0.1068],
    [0.1076, 0.1111, -0.0362],
    [-0.3165, -0.2492, -0.2188],
]


def latents_to_preview(latents: Any, family: str, size: tuple[int, int]) -> Image.Image:
    """Approximate RGB of the first latent in a batch, scaled to ``size`` (width, height)."""
    import torch

    lat = latents[0].detach().float().cpu()
    if lat.shape[0] == 3:  # pixel-space model: the "latent" is the image in [-1, 1]
        rgb = lat.permute(1, 2, 0)
    else:
        coefs = torch.tensor(_SDXL if family == "sdxl" else _SD15, dtype=torch.float32)
        rgb = torch.einsum("chw,cr->hwr", lat[:4], coefs)
    arr = ((rgb + 1.0) * 127.5).clamp(0, 255).to(torch.uint8).numpy()
    return Image.fromarray(arr, "RGB").resize(size, Image.Resampling.BILINEAR)
