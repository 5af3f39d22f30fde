"""Studio's own sound models (the built-in Tones): diffusion on a log-mel spectrogram painted like a one-channel
picture, guided by a CLIP text encoder, then turned into a waveform by Griffin-Lim phase reconstruction.

The folder holds ``unet/`` (UNet2DConditionModel), ``text_encoder/`` and ``tokenizer/`` (CLIP), ``scheduler/`` and
``spectrogram.json`` (``MelScale``: how the picture maps to sound)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from studio.core.io.untrusted import Unreadable, integer, number, read_json
from studio.core.jobs.cancel import CancelToken
from studio.core.jobs.errors import ErrorKind, StudioError
from studio.core.sound.spectrogram import MelScale

GRIFFIN_LIM_ITERATIONS = 48
INVERSION_HOP = 256  # the painted columns are stretched to this hop before Griffin-Lim: smoother phase


@dataclass
class Tones:
    unet: Any
    text_encoder: Any
    tokenizer: Any
    scheduler: Any
    scale: MelScale
    device: str
    # where sampling starts: a cosine schedule's last timesteps are almost pure noise, where the model cannot
    # tell what to paint and half the seeds collapse into white hiss; from ``start`` (with the training pictures'
    # mean under the noise) every seed paints (spectrogram.json's start_timestep and start_mean)
    start: int = 999
    mean: float = 0.0

    @classmethod
    def load(cls, folder: Path, device: str) -> Tones:
        from diffusers import DPMSolverMultistepScheduler, UNet2DConditionModel
        from transformers import CLIPTextModel, CLIPTokenizer

        data = read_json(folder / "spectrogram.json", max_bytes=1 << 16, max_depth=4)
        try:
            scale = MelScale.from_dict(data if not isinstance(data, Unreadable) else None)
            unet = UNet2DConditionModel.from_pretrained(folder / "unet", use_safetensors=True)
            text_encoder = CLIPTextModel.from_pretrained(folder / "text_encoder", use_safetensors=True)
            tokenizer = CLIPTokenizer.from_pretrained(folder / "tokenizer")
            scheduler = DPMSolverMultistepScheduler.from_pretrained(folder / "scheduler")
        except (OSError, ValueError, KeyError, TypeError) as e:
            raise StudioError(ErrorKind.MODEL_INVALID, f"{folder.name} could not be loaded as a sound model: {e}",
                              field="model") from e  # fmt: skip
        unet = unet.to(device=device, dtype=_torch().float32).eval()
        settings = data if isinstance(data, dict) else {}
        start = min(max(integer(settings.get("start_timestep"), 999) or 999, 10), 999)
        mean = min(max(number(settings.get("start_mean"), 0.0) or 0.0, -1.0), 1.0)
        return cls(unet, text_encoder.to(device).eval(), tokenizer, scheduler, scale, device, start, mean)  # type: ignore[arg-type]  # transformers types .to oddly

    def _embed(self, prompts: list[str]) -> Any:
        ids = self.tokenizer(
            prompts, padding="max_length", max_length=77, truncation=True, return_tensors="pt"
        )
        return self.text_encoder(ids.input_ids.to(self.device))[0]

    def paint(self, prompt: str, negative: str, frames: int, steps: int, guidance: float, seed: int,
              cancel: CancelToken, on_step: Callable[[int, Any], None]) -> np.ndarray:  # fmt: skip
        """The spectrogram picture (n_mels, frames) in [-1, 1]; ``on_step(i, x0)`` after each step with the
        picture the model expects at the end (the filmstrip)."""
        torch = _torch()
        gen = torch.Generator("cpu").manual_seed(seed % 2**63)
        noise = torch.randn((1, 1, self.scale.n_mels, frames), generator=gen).to(self.device)
        timesteps = (
            np.linspace(self.start, 0, steps + 1)[:-1].round().astype(int).tolist()
            if steps > 1
            else [self.start]
        )
        self.scheduler.set_timesteps(timesteps=timesteps, device=self.device)
        self.scheduler.set_begin_index(0)  # count steps, never look a timestep up (they may repeat)
        alpha = float(self.scheduler.alphas_cumprod[self.start])
        x = alpha**0.5 * self.mean + (1 - alpha) ** 0.5 * noise
        with torch.inference_mode():
            cond = self._embed([negative, prompt])
            for i, t in enumerate(self.scheduler.timesteps):
                cancel.raise_if_cancelled()
                eps = self.unet(torch.cat([x, x]), t, cond).sample
                uncond, text = eps.chunk(2)
                eps = uncond + guidance * (text - uncond) if guidance != 1.0 else text
                sigma = float(self.scheduler.sigmas[i])
                alpha = 1.0 / (sigma**2 + 1) ** 0.5
                on_step(i, ((x - sigma * alpha * eps) / alpha).clamp(-1, 1)[0, 0].float().cpu().numpy())
                x = self.scheduler.step(eps, t, x).prev_sample
        return x.clamp(-1, 1)[0, 0].float().cpu().numpy()

    def to_audio(self, picture: np.ndarray, seed: int) -> np.ndarray:
        return griffin_lim(picture, self.scale, seed)


def _torch() -> Any:
    import torch

    return torch


def griffin_lim(picture: np.ndarray, scale: MelScale, seed: int, iterations: int = GRIFFIN_LIM_ITERATIONS
                ) -> np.ndarray:  # fmt: skip
    """A waveform whose mel spectrogram is ``picture``: the mel magnitudes shared back out over the linear bins, the
    columns stretched to ``INVERSION_HOP``, then fast Griffin-Lim (momentum 0.99) from a seeded random phase."""
    torch = _torch()
    mel = torch.from_numpy(scale.decode(picture))
    hop = min(INVERSION_HOP, scale.hop)
    stretch = scale.hop // hop
    if stretch > 1:
        mel = torch.nn.functional.interpolate(mel[None], scale_factor=stretch, mode="linear",
                                              align_corners=False)[0]  # fmt: skip
    filters = torch.from_numpy(scale.filters())
    weight = filters.sum(0).clamp(min=1e-3)
    per_bin = mel / filters.sum(1).clamp(min=1e-3)[:, None]  # a filter sums its bins: back to one bin's share
    linear = (filters.T @ per_bin) / weight[:, None]
    linear[weight < 1e-2] = 0.0  # bins no mel filter covers stay silent
    window = torch.hann_window(scale.n_fft)
    length = mel.shape[1] * hop
    gen = torch.Generator().manual_seed(seed % 2**63)
    angles = torch.exp(2j * torch.pi * torch.rand(linear.shape, generator=gen))
    previous = torch.zeros_like(angles)
    for _ in range(iterations):
        audio = torch.istft(linear * angles, scale.n_fft, hop, window=window, length=length)
        rebuilt = torch.stft(audio, scale.n_fft, hop, window=window, return_complex=True)[
            :, : linear.shape[1]
        ]
        accelerated = rebuilt - 0.99 * previous
        previous = rebuilt
        angles = accelerated / accelerated.abs().clamp(min=1e-8)
    audio = torch.istft(linear * angles, scale.n_fft, hop, window=window, length=length).numpy()
    return finish(audio, scale.sample_rate)


def finish(audio: np.ndarray, sample_rate: int, peak: float | None = 0.89) -> np.ndarray:
    """Short fades at both ends (no click) and the peak set to ``peak`` (None: only brought under full scale).
    ``audio``: (samples,) or (samples, channels)."""
    out = np.nan_to_num(np.asarray(audio, dtype=np.float32))
    fade = min(len(out) // 4, int(0.01 * sample_rate))
    if fade:
        ramp = np.linspace(0.0, 1.0, fade, dtype=np.float32).reshape((fade,) + (1,) * (out.ndim - 1))
        out[:fade] *= ramp
        out[-fade:] *= ramp[::-1]
    top = float(np.abs(out).max()) if out.size else 0.0
    target = peak if peak is not None else min(top, 0.99)
    return out * (target / top) if top > 1e-6 else out
