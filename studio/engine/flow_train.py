"""LoRA training of the flow-matching transformers — SD 3.x (MMDiT) and FLUX.1 — as diffusers' own LoRA training
scripts do it: noise levels drawn logit-normally (``training_utils.compute_density_for_timestep_sampling``), the
picture moved along the straight path to the noise, the transformer asked for the velocity (noise − picture), FLUX's
latents packed into 2×2 patches with their position ids and its guidance embedding fed."""

from __future__ import annotations

from typing import Any

FLOW_TARGETS = ["to_k", "to_q", "to_v", "to_out.0"]  # the attention of every (joint) transformer block
FLUX_TRAIN_GUIDANCE = 1.0  # the guidance FLUX.1-dev is fed while training (diffusers' scripts default to 1)
VALIDATION_SIGMAS = (0.1, 0.3, 0.5, 0.7, 0.9)


class FlowObjective:
    def __init__(self, pipe: Any, family: str, device: str):
        from diffusers import FlowMatchEulerDiscreteScheduler

        self.pipe, self.family, self.device = pipe, family, device
        self.schedule = FlowMatchEulerDiscreteScheduler.from_config(pipe.scheduler.config)
        self.steps = int(self.schedule.config.num_train_timesteps)

    def draw(self, batch: int, generator: Any) -> tuple[Any, Any]:
        """(timesteps, sigmas) for a batch: noise levels drawn logit-normally, as SD 3's paper trains."""
        from diffusers.training_utils import compute_density_for_timestep_sampling

        u = compute_density_for_timestep_sampling("logit_normal", batch, logit_mean=0.0, logit_std=1.0,
                                                  generator=generator)  # fmt: skip
        indices = (u * self.steps).long().clamp(0, self.steps - 1)
        return self.schedule.timesteps[indices], self.schedule.sigmas[indices]

    def at(self, sigmas: Any) -> Any:
        """The timesteps of given noise levels (validation: the same levels every time)."""
        import torch

        return torch.as_tensor(sigmas, dtype=torch.float32) * self.steps

    def prediction(self, noisy: Any, timesteps: Any, captions: list[str]) -> Any:
        """The transformer's velocity for a noised batch (unpacked back to latents for FLUX)."""
        import torch

        pipe, device = self.pipe, self.device
        if self.family == "sd3":
            embeds, _, pooled, _ = pipe.encode_prompt(captions, captions, captions, device=device,
                                                      do_classifier_free_guidance=False)  # fmt: skip
            return pipe.transformer(hidden_states=noisy, timestep=timesteps.to(device), encoder_hidden_states=embeds,
                                    pooled_projections=pooled).sample  # fmt: skip
        embeds, pooled, text_ids = pipe.encode_prompt(captions, captions, device=device)
        b, c, h, w = noisy.shape
        packed = pipe._pack_latents(noisy, b, c, h, w)
        image_ids = pipe._prepare_latent_image_ids(b, h // 2, w // 2, device, noisy.dtype)
        guided = getattr(pipe.transformer.config, "guidance_embeds", False)
        guidance = torch.full((b,), FLUX_TRAIN_GUIDANCE, device=device) if guided else None
        out = pipe.transformer(hidden_states=packed, timestep=timesteps.to(device) / 1000, guidance=guidance,
                               pooled_projections=pooled, encoder_hidden_states=embeds, txt_ids=text_ids,
                               img_ids=image_ids).sample  # fmt: skip
        scale = pipe.vae_scale_factor
        return pipe._unpack_latents(out, h * scale, w * scale, scale)

    def loss(self, x0: Any, captions: list[str], generator: Any, masks: Any = None, floor: float = 0.1,
             sigmas: Any = None) -> Any:  # fmt: skip
        """The flow-matching loss of a batch of latents (at random noise levels, or at ``sigmas``)."""
        import torch

        from studio.engine.train_loss import masked_mean

        noise = torch.randn(x0.shape, generator=generator).to(x0.device)
        if sigmas is None:
            timesteps, sigmas = self.draw(x0.shape[0], generator)
        else:
            sigmas = torch.as_tensor(sigmas, dtype=torch.float32)
            timesteps = self.at(sigmas)
        s = sigmas.to(x0.device, x0.dtype).view(-1, 1, 1, 1)
        noisy = (1 - s) * x0 + s * noise
        pred = self.prediction(noisy, timesteps, captions)
        error = (pred.float() - (noise - x0).float()) ** 2
        return masked_mean(error, masks, floor).mean()
