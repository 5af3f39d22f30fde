"""AUTOMATIC1111-style prompt encoding: attention weights, unlimited length (75-token chunks), BREAK, clip skip.

Produces the ``prompt_embeds`` (and SDXL pooled embeds) that diffusers pipelines accept, so every pipeline
shares one behaviour. For a plain prompt under 75 tokens the result equals the pipeline's own encoding.
"""

from __future__ import annotations

from typing import Any

from studio.core.image.prompts import extract_loras
from studio.core.image.tokens import chunk_tokens

Chunk = tuple[list[int], list[float]]


def _chunks(tokenizer: Any, prompt: str, expand: Any = None) -> list[Chunk]:
    """The prompt's chunks as the encoder takes them (start, 75 tokens padded, end), with their weights; the
    chunking is core's (``chunk_tokens``), shared with the token counter. ``expand``: the pipeline's
    textual-inversion expansion ("name" → "name name_1 …" for multi-vector ones)."""
    size = tokenizer.model_max_length - 2
    bos, eos = tokenizer.bos_token_id, tokenizer.eos_token_id
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else eos

    def tokenize(text: str) -> list[int]:
        text = expand(text, tokenizer) if expand is not None and text else text
        return list(tokenizer(text, add_special_tokens=False, truncation=False, verbose=False).input_ids)

    out: list[Chunk] = []
    for chunk in chunk_tokens(prompt, tokenize, size):
        ids, weights = [t for t, _ in chunk], [w for _, w in chunk]
        n = len(ids)
        out.append(([bos, *ids, eos] + [pad] * (size - n), [1.0, *weights] + [1.0] * (size - n + 1)))
    return out


def _encode_chunk(encoder: Any, chunk: Chunk, clip_skip: int, penultimate_default: bool, device: Any):
    import torch

    ids = torch.tensor([chunk[0]], device=device)
    out = encoder(ids, output_hidden_states=True)
    if penultimate_default:  # SDXL: the penultimate layer, no final norm
        hidden = out.hidden_states[-(clip_skip + 1)]
    elif clip_skip > 1:  # SD 1.x/2.x with clip skip: an earlier layer through the final norm (as A1111)
        norm = (
            encoder.final_layer_norm
            if hasattr(encoder, "final_layer_norm")
            else encoder.text_model.final_layer_norm
        )
        hidden = norm(out.hidden_states[-clip_skip])
    else:
        hidden = out[0]
    weights = torch.tensor(chunk[1], device=device, dtype=hidden.dtype)
    if bool((weights != 1.0).any()):
        original_mean = hidden.float().mean()
        hidden = hidden * weights[None, :, None]
        # A1111 restores the original mean; where the mean is near zero that ratio explodes, so keep it sane.
        ratio = original_mean / hidden.float().mean()
        if torch.isfinite(ratio) and 0.25 < float(ratio) < 4.0:
            hidden = hidden * ratio.to(hidden.dtype)
    pooled = out[0] if hasattr(out, "text_embeds") else None
    return hidden, pooled


def _pad_to(chunks: list[Chunk], n: int, tokenizer: Any) -> list[Chunk]:
    empty = _chunks(tokenizer, "")[0]
    return chunks + [empty] * (n - len(chunks))


def encode(
    pipe: Any, prompt: str, negative: str | None, clip_skip: int = 1, prompt_2: str = ""
) -> dict[str, Any]:
    """Keyword arguments for ``pipe(...)`` carrying the encoded prompt and negative prompt. ``negative=None``:
    no unconditional pass will run (CFG ≤ 1), so the negative is not encoded at all. ``prompt_2``: SDXL's second
    text encoder's own prompt ("" the prompt)."""
    import torch

    prompt, _ = extract_loras(prompt)
    second, _ = extract_loras(prompt_2) if prompt_2.strip() else (prompt, [])
    with_negative = negative is not None
    negative, _ = extract_loras(negative or "")
    device = pipe._execution_device
    is_xl = hasattr(pipe, "text_encoder_2")
    pairs = [
        (getattr(pipe, "tokenizer", None), getattr(pipe, "text_encoder", None), prompt),
        (getattr(pipe, "tokenizer_2", None), getattr(pipe, "text_encoder_2", None), second),
    ]
    pairs = [(t, e, p) for t, e, p in pairs if t is not None and e is not None]

    cond_parts, uncond_parts = [], []
    pooled = neg_pooled = None
    with torch.no_grad():
        for tokenizer, encoder, text in pairs:
            expand = getattr(pipe, "maybe_convert_prompt", None)
            pos, neg = _chunks(tokenizer, text, expand), _chunks(tokenizer, negative, expand)
            n = max(len(pos), len(neg))
            pos, neg = _pad_to(pos, n, tokenizer), _pad_to(neg, n, tokenizer)
            enc_pos = [_encode_chunk(encoder, c, clip_skip, is_xl, device) for c in pos]
            enc_neg = (
                [_encode_chunk(encoder, c, clip_skip, is_xl, device) for c in neg]
                if with_negative
                else enc_pos
            )
            cond_parts.append(torch.cat([h for h, _ in enc_pos], dim=1))
            uncond_parts.append(torch.cat([h for h, _ in enc_neg], dim=1))
            if enc_pos[0][1] is not None:
                pooled, neg_pooled = enc_pos[0][1], enc_neg[0][1]

    # Encoders may disagree on chunk counts only if their tokenizers differ; pad with the last chunk length.
    length = max(p.shape[1] for p in cond_parts + uncond_parts)
    cond_parts = [_extend(p, length) for p in cond_parts]
    uncond_parts = [_extend(p, length) for p in uncond_parts]
    cond = torch.cat(cond_parts, dim=-1)
    uncond = torch.cat(uncond_parts, dim=-1)
    if is_xl and not negative and getattr(pipe.config, "force_zeros_for_empty_prompt", False):
        uncond = torch.zeros_like(uncond)
        neg_pooled = torch.zeros_like(neg_pooled) if neg_pooled is not None else None
    dtype = cond.dtype  # the text encoder's: the latents follow it (a bf16 UNet casts at its door)
    kwargs: dict[str, Any] = {"prompt_embeds": cond.to(dtype)}
    if with_negative:
        kwargs["negative_prompt_embeds"] = uncond.to(dtype)
    if is_xl:
        if pooled is None or neg_pooled is None:
            raise ValueError("an SDXL pipeline needs a text encoder with a projection (text_encoder_2)")
        kwargs["pooled_prompt_embeds"] = pooled.to(dtype)
        if with_negative:
            kwargs["negative_pooled_prompt_embeds"] = neg_pooled.to(dtype)
    return kwargs


def _extend(t: Any, length: int) -> Any:
    import torch

    if t.shape[1] == length:
        return t
    return torch.cat([t, t[:, -1:].expand(-1, length - t.shape[1], -1)], dim=1)
