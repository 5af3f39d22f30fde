"""Recording the UNet's cross-attention while a picture is made: every cross-attention layer's probabilities for
chosen token positions, summed over heads, layers and steps at the latents' size (only while asked; the layers
get their usual processors back afterwards)."""

from __future__ import annotations

import math
from typing import Any

from diffusers.models.attention_processor import AttnProcessor


class AttentionRecorder:
    def __init__(self, positions: dict[str, list[int]], size: tuple[int, int]):
        """``positions``: word → its token positions; ``size``: the latents' (height, width)."""
        self.positions = positions
        self.size = size
        self.maps: dict[str, Any] = {}
        self.calls = 0

    def add(self, probs: Any, batch: int) -> None:
        import torch

        heads = probs.shape[0] // batch
        q, k = probs.shape[1], probs.shape[2]
        h, w = self.size
        lh = max(1, round(math.sqrt(q * h / w)))
        lw = max(1, q // lh)
        if lh * lw != q:
            return
        p = (
            probs.reshape(batch, heads, q, k)[batch // 2 if batch > 1 else 0 :].float().mean(dim=(0, 1))
        )  # q × k
        for word, where in self.positions.items():
            cols = [i for i in where if i < k]
            if not cols:
                continue
            m = p[:, cols].mean(-1).reshape(1, 1, lh, lw)
            m = torch.nn.functional.interpolate(m, size=(h, w), mode="bilinear", align_corners=False)[0, 0]
            self.maps[word] = self.maps.get(word, 0) + m.cpu()
        self.calls += 1


class RecordingProcessor(AttnProcessor):
    """The plain attention processor, its probabilities handed to the recorder (cross-attention only)."""

    def __init__(self, recorder: AttentionRecorder):
        super().__init__()
        self.recorder = recorder

    def __call__(
        self, attn: Any, hidden_states: Any, encoder_hidden_states: Any = None, *args: Any, **kwargs: Any
    ):
        if encoder_hidden_states is None:
            return super().__call__(attn, hidden_states, encoder_hidden_states, *args, **kwargs)
        original = attn.get_attention_scores
        batch = hidden_states.shape[0]

        def scores(query: Any, key: Any, attention_mask: Any = None) -> Any:
            probs = original(query, key, attention_mask)
            self.recorder.add(probs.detach(), batch)
            return probs

        attn.get_attention_scores = scores
        try:
            return super().__call__(attn, hidden_states, encoder_hidden_states, *args, **kwargs)
        finally:
            del attn.get_attention_scores


def install(unet: Any, recorder: AttentionRecorder) -> dict[str, Any]:
    """Record every cross-attention layer; returns the processors to put back."""
    before = dict(unet.attn_processors)
    unet.set_attn_processor(
        {
            name: (RecordingProcessor(recorder) if name.endswith("attn2.processor") else proc)
            for name, proc in before.items()
        }
    )
    return before
