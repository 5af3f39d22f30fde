"""Regional prompts in the denoising loop (SD 1.x/2.x and SDXL). The prompt and each region's prompt are encoded
and joined along the token axis; where they are split again decides the mode:

- attention: every cross-attention layer attends to each prompt's tokens apart and blends the results by the
  regions' shares at that layer's resolution (one pass of the UNet a step, as Regional Prompter's Attention mode);
- denoise: the UNet runs once per prompt and its predictions are blended by the shares at the latents' size
  (as ComfyUI's area conditioning and Regional Prompter's Latent mode).

The shares: inside a region its prompt takes ``weight`` (0–1) of the picture and the job's prompt the rest; where
regions overlap past a whole, they are scaled to share it."""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator
from typing import Any

from PIL import Image

from studio.core.image.regions import RegionUnit


def coverage(box: tuple[float, float, float, float], height: int, width: int) -> Any:
    """How much of each cell of a ``height`` × ``width`` grid the box covers (0–1, edges partly)."""
    import torch

    x0, y0, x1, y1 = box

    def along(lo: float, hi: float, n: int) -> Any:
        edges = torch.arange(n + 1, dtype=torch.float32) / n
        return (
            torch.minimum(edges[1:], torch.tensor(hi)) - torch.maximum(edges[:-1], torch.tensor(lo))
        ).clamp(min=0) * n

    return along(y0, y1, height)[:, None] * along(x0, x1, width)[None, :]


class RegionMap:
    """The shares of the job's prompt (first) and of each region at any grid size: (1 + regions, h, w), summing
    to one everywhere."""

    def __init__(self, regions: tuple[RegionUnit, ...], masks: list[Image.Image | None]):
        self.regions, self.masks = regions, masks
        self.latent: tuple[int, int] = (0, 0)  # the latents' (height, width), seen at the model's door
        self._cache: dict[tuple[int, int], Any] = {}

    def shares(self, height: int, width: int) -> Any:
        import torch

        key = (height, width)
        if key not in self._cache:
            parts = []
            for region, mask in zip(self.regions, self.masks, strict=True):
                if mask is not None:
                    small = mask.convert("L").resize((width, height), Image.Resampling.BOX)
                    m = torch.frombuffer(bytearray(small.tobytes()), dtype=torch.uint8).float() / 255
                    m = m.reshape(height, width)
                else:
                    m = coverage(region.box, height, width)
                parts.append(m * region.weight)
            own = torch.stack(parts)
            total = own.sum(0)
            own = own / torch.where(total > 1, total, torch.ones_like(total))
            self._cache[key] = torch.cat([(1 - own.sum(0)).clamp(min=0)[None], own])
        return self._cache[key]

    def for_tokens(self, tokens: int) -> Any:
        """The shares flattened for a layer of ``tokens`` positions (the latents halved some times, rounding up)."""
        height, width = self.latent
        for halvings in range(8):
            f = 2**halvings
            h, w = math.ceil(height / f), math.ceil(width / f)
            if h * w == tokens:
                return self.shares(h, w).reshape(len(self.regions) + 1, tokens)
        raise ValueError(f"no grid of the {height}×{width} latents has {tokens} positions")


class RegionalAttention:
    """A cross-attention layer's processor that attends to each prompt's tokens apart and blends by the shares
    (the layer's own processor does each part: LoRA and IP-Adapter layers keep working)."""

    def __init__(self, inner: Any, plan: RegionPlan):
        self.inner, self.plan = inner, plan

    def __call__(
        self,
        attn: Any,
        hidden_states: Any,
        encoder_hidden_states: Any = None,
        attention_mask: Any = None,
        temb: Any = None,
        *args: Any,
        **kwargs: Any,
    ) -> Any:
        extra = None
        if isinstance(encoder_hidden_states, tuple):  # IP-Adapter: (text, image embeddings)
            encoder_hidden_states, extra = encoder_hidden_states
        lengths = self.plan.lengths
        if (
            encoder_hidden_states is None
            or hidden_states.dim() != 3
            or encoder_hidden_states.shape[1] != sum(lengths)
        ):
            whole = encoder_hidden_states if extra is None else (encoder_hidden_states, extra)
            return self.inner(attn, hidden_states, whole, attention_mask, temb, *args, **kwargs)
        shares = self.plan.map.for_tokens(hidden_states.shape[1]).to(
            hidden_states.device, hidden_states.dtype
        )
        out = None
        for piece, share in zip(encoder_hidden_states.split(lengths, dim=1), shares, strict=True):
            part = self.inner(
                attn,
                hidden_states,
                piece if extra is None else (piece, extra),
                attention_mask,
                temb,
                *args,
                **kwargs,
            )
            out = part * share[None, :, None] if out is None else out + part * share[None, :, None]
        return out


class RegionPlan:
    """A PromptPlan with regions: the same interface (``kwargs``, ``switch``, ``scheduled``, ``tensors``); the
    prompt's encodings come with each region's joined after them."""

    def __init__(
        self, plan: Any, regions: tuple[RegionUnit, ...], masks: list[Image.Image | None], mode: str
    ):
        self.plan, self.regions, self.mode = plan, regions, mode
        self.scheduled, self.tensors = plan.scheduled, plan.tensors
        self.map = RegionMap(regions, masks)
        self.lengths: list[int] = []

    def kwargs(self, total: int) -> dict[str, Any]:
        import torch

        out = self.plan.kwargs(total)
        own = [self.plan.encoded_beside(r.prompt) for r in self.regions]
        self.lengths = [out["prompt_embeds"].shape[1], *(o["prompt_embeds"].shape[1] for o in own)]
        for key in ("prompt_embeds", "negative_prompt_embeds"):
            if key in out:
                out[key] = torch.cat([out[key], *(o[key] for o in own)], dim=1)
        return out

    def switch(self, pipe: Any, step: int, kw: dict[str, Any]) -> None:
        """Prompt editing of the job's prompt: its new encodings, the regions' joined after them again."""
        import torch

        before = kw.get("prompt_embeds")
        if before is None:
            return
        kw["prompt_embeds"] = before[:, : self.lengths[0]]
        self.plan.switch(pipe, step, kw)
        base = kw["prompt_embeds"]
        self.lengths[0] = base.shape[1]
        kw["prompt_embeds"] = torch.cat([base, before[:, -(sum(self.lengths[1:])) :].to(base.dtype)], dim=1)

    def observe(self, module: Any, args: tuple, kwargs: dict[str, Any]) -> None:
        """A forward pre-hook: the latents' size, for the layers' grids."""
        sample = args[0] if args else kwargs.get("sample")
        if sample is not None:
            self.map.latent = (int(sample.shape[-2]), int(sample.shape[-1]))

    def denoise(self, forward: Any) -> Any:
        """The UNet's forward run once per prompt, the predictions blended by the shares at the latents' size."""

        def run(sample: Any, timestep: Any, encoder_hidden_states: Any, *args: Any, **kwargs: Any) -> Any:
            if encoder_hidden_states.shape[1] != sum(self.lengths):
                return forward(sample, timestep, encoder_hidden_states, *args, **kwargs)
            shares = self.map.shares(*sample.shape[-2:]).to(sample.device, sample.dtype)
            outs = [forward(sample, timestep, piece, *args, **kwargs)
                    for piece in encoder_hidden_states.split(self.lengths, dim=1)]  # fmt: skip
            preds = [out[0] if isinstance(out, tuple) else out.sample for out in outs]
            blended = sum(pred * share for pred, share in zip(preds, shares, strict=True))
            if isinstance(outs[0], tuple):
                return (blended, *outs[0][1:])
            outs[0].sample = blended
            return outs[0]

        return run


def _attention_modules(pipe: Any) -> list[Any]:
    """The UNet and any ControlNets (they read the prompt too)."""
    nets = [pipe.unet]
    control = getattr(pipe, "controlnet", None)
    if control is not None:
        nets.extend(getattr(control, "nets", None) or [control])
    return [n for n in nets if hasattr(n, "attn_processors")]


@contextlib.contextmanager
def regional(pipe: Any, plan: Any) -> Iterator[None]:
    """The pipeline's models split the joined prompts while inside (their own processors and forward after); a
    plan without regions changes nothing."""
    undo: list[Any] = []
    if not isinstance(plan, RegionPlan):
        yield
        return
    try:
        for net in _attention_modules(pipe):
            undo.append(net.register_forward_pre_hook(plan.observe, with_kwargs=True).remove)
            if plan.mode == "attention":
                processors = net.attn_processors
                net.set_attn_processor({
                    name: RegionalAttention(p, plan) if name.endswith("attn2.processor") else p
                    for name, p in processors.items()
                })  # fmt: skip
                undo.append(lambda net=net, processors=processors: net.set_attn_processor(processors))
        if plan.mode == "denoise":
            unet = pipe.unet
            unet.forward = plan.denoise(unet.forward)
            undo.append(lambda: unet.__dict__.pop("forward", None))
        yield
    finally:
        for step in reversed(undo):
            step()


def regions_over(plan: Any, size: tuple[int, int]) -> Any:
    """``plan`` (a run's PromptPlan) with its spec's regions over it, their masks read at the picture's ``size``;
    the plan itself when the job has none."""
    from studio.engine.image_io import load_input_image

    spec = plan.spec
    if not spec.regions:
        return plan
    masks = [load_input_image(r.mask, size, "regions", mode="L") if r.mask else None for r in spec.regions]
    return RegionPlan(plan, spec.regions, masks, spec.region_mode)
