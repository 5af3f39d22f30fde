"""Which earlier tokens a token attended to: the language model reads the text once more with its attention
weights returned (the plain "eager" attention computes them; the fast kernels do not, so the model is switched for
this one pass and back), and the token's row is averaged over heads and layers."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from studio.core.jobs.cancel import CancelToken
from studio.core.jobs.errors import ErrorKind, StudioError
from studio.core.jobs.events import Note
from studio.core.text.text_explain import TextAttention, TextAttentionSpec
from studio.engine.text import Emit, TextEngine


def text_attention(engine: TextEngine, spec: TextAttentionSpec, cancel: CancelToken, emit: Emit) -> list[Any]:
    import torch

    text = spec.text
    if not text.strip() or not 0 <= spec.target < len(text):
        raise StudioError(ErrorKind.INVALID_INPUT, "Put the cursor on a word of the text first.")
    if engine.on_openvino:
        emit(Note(text="Attention is read from the model on torch (OpenVINO's network does not give it out): the "
                       "model is loaded on torch for it; writing goes back to OpenVINO."))  # fmt: skip
    loaded = engine.load(spec.model, emit, spec.quantize)  # on torch
    cancel.raise_if_cancelled()
    tok, lm = loaded.tokenizer, loaded.model
    if not getattr(tok, "is_fast", False):
        raise StudioError(
            ErrorKind.INVALID_INPUT, "This model's tokenizer cannot say where its tokens are in the text."
        )
    enc = tok(
        text[: _end_of_token_at(text, spec.target)], return_offsets_mapping=True, add_special_tokens=True
    )
    ids, offsets = list(enc["input_ids"]), [tuple(o) for o in enc["offset_mapping"]]
    target = next((i for i, (a, b) in enumerate(offsets) if a <= spec.target < b), None)
    if target is None:
        target = max((i for i, (a, b) in enumerate(offsets) if b > a), default=None)
    if target is None:
        raise StudioError(ErrorKind.INVALID_INPUT, "There is no token at the cursor.")
    keep = loaded.context_length
    first = max(0, target + 1 - keep)  # a long text: the model sees the last part, as when it writes
    ids, offsets, target = ids[first : target + 1], offsets[first : target + 1], target - first
    emit(Note(text="Reading the text with its attention weights…"))
    with _eager(lm), torch.inference_mode():
        out = lm(input_ids=torch.tensor([ids], device=loaded.placement.device), output_attentions=True)
    layers = [a for a in (out.attentions or ()) if a is not None]
    if not layers:
        raise StudioError(ErrorKind.INVALID_INPUT, "This model does not expose its attention weights.")
    row = torch.stack([a[0, :, target, : target + 1].float() for a in layers]).mean(
        dim=(0, 1)
    )  # over layers, heads
    cancel.raise_if_cancelled()
    weights = row.tolist()
    specials = set(getattr(tok, "all_special_ids", ()) or ())
    sink = weights[0] if target > 0 else 0.0  # most models park much attention on the first position
    spans = [
        (int(a), int(b), w)
        for i, ((a, b), w) in enumerate(zip(offsets, weights, strict=True))
        if i < target and b > a and ids[i] not in specials
    ]
    total = sum(w for _, _, w in spans) or 1.0
    a, b = offsets[target]
    return [
        TextAttention(
            target=(int(a), int(b)),
            token=text[a:b],
            spans=tuple((s, e, w / total) for s, e, w in spans),
            layers=len(layers),
            heads=int(layers[0].shape[1]),
            sink=float(sink),
        )
    ]


def _end_of_token_at(text: str, position: int) -> int:
    """Where to cut the text so that the token at ``position`` is whole (the end of its word)."""
    end = position + 1
    while end < len(text) and text[end].isalnum():
        end += 1
    return end


@contextlib.contextmanager
def _eager(lm: Any) -> Iterator[None]:
    """The model with plain attention (which returns its weights) for the duration."""
    before = getattr(lm.config, "_attn_implementation", None)
    switch = getattr(lm, "set_attn_implementation", None)
    if before in (None, "eager") or switch is None:
        yield
        return
    switch("eager")
    try:
        yield
    finally:
        switch(before)
