"""From latents to pictures: the VAE decode (with the fp16 NaN guard), the tiny autoencoder's, and the live
preview (exact for small VAEs, TAESD, or a cheap colour approximation)."""

from __future__ import annotations

from typing import Any

from PIL import Image

from studio.core.jobs.errors import ErrorKind, StudioError
from studio.engine.pipelines import LoadedModel
from studio.engine.preview import latents_to_preview


def preview_of(
    model: LoadedModel, pipe: Any, latents: Any, size: tuple[int, int], tiny: Any = None
) -> Image.Image:
    """The live preview of the first image: exact for models with a small VAE, real-looking with a tiny
    autoencoder (TAESD), else a linear approximation of the latents' colours."""
    if model.small_vae:
        return decode(model, pipe, latents[:1])[0].resize(size, Image.Resampling.BILINEAR)
    if tiny is not None:
        return decode_tiny(tiny, pipe, latents[:1])[0].resize(size, Image.Resampling.BILINEAR)
    return latents_to_preview(latents, model.family, size)


def decode_tiny(tiny: Any, pipe: Any, latents: Any) -> list[Image.Image]:
    """Decode with a tiny autoencoder: it takes the UNet's latents as they are (its scaling factor is 1)."""
    import torch

    with torch.no_grad():
        pixels = tiny.decode(latents.to(tiny.dtype), return_dict=False)[0]
    return pipe.image_processor.postprocess(pixels.float(), output_type="pil")


def decode(model: LoadedModel, pipe: Any, latents: Any) -> list[Image.Image]:
    """VAE-decode latents, guarding against the fp16 VAE NaN (black image) trap by retrying in fp32."""
    import torch

    vae = pipe.vae
    release = getattr(getattr(pipe, "unet", None), "release_memory", None)
    if release is not None:  # the OpenVINO UNet's working buffers, not needed while the VAE decodes
        release()
    cfg = vae.config
    with torch.no_grad():
        if getattr(cfg, "latents_mean", None) is not None and getattr(cfg, "latents_std", None) is not None:
            mean = torch.tensor(cfg.latents_mean).view(1, -1, 1, 1).to(latents.device, latents.dtype)
            std = torch.tensor(cfg.latents_std).view(1, -1, 1, 1).to(latents.device, latents.dtype)
            latents = latents * std / cfg.scaling_factor + mean
        else:
            latents = latents / cfg.scaling_factor
        if getattr(cfg, "shift_factor", None) is not None:  # SD 3.x and FLUX.1's VAEs
            latents = latents + cfg.shift_factor
        if vae.dtype == torch.float16 and (model.vae_upcast or getattr(cfg, "force_upcast", False)):
            vae.to(torch.float32)
            model.vae_upcast = True
        pixels = vae.decode(latents.to(vae.dtype), return_dict=False)[0]
        if vae.dtype != torch.float32 and torch.isnan(pixels).any():
            vae.to(torch.float32)
            model.vae_upcast = True
            pixels = vae.decode(latents.float(), return_dict=False)[0]
        if torch.isnan(pixels).any():
            raise StudioError(
                ErrorKind.INTERNAL,
                "The model produced an invalid (NaN) image. Try another sampler, fewer steps or fp32.",
            )
    return pipe.image_processor.postprocess(pixels.float(), output_type="pil")
