"""The next-token distribution, and what the sampler settings make of it: the model's raw probabilities for the
likeliest tokens, then the same tokens after temperature, top-k, top-p and min-p, in the order transformers applies
them (so the effect of each setting is seen on the real distribution)."""

from __future__ import annotations

import math


def after_sampling(
    logprobs: list[float], temperature: float = 1.0, top_k: int = 0, top_p: float = 1.0, min_p: float = 0.0
) -> list[float]:
    """The probability each candidate has when sampled with these settings (renormalised over the candidates; the
    tail beyond them is negligible for the top few hundred). Temperature 0 is greedy: the first gets all."""
    if not logprobs:
        return []
    if temperature <= 0:
        best = max(range(len(logprobs)), key=lambda i: logprobs[i])
        return [1.0 if i == best else 0.0 for i in range(len(logprobs))]
    scaled = [lp / temperature for lp in logprobs]
    top = max(scaled)
    weights = [math.exp(s - top) for s in scaled]
    order = sorted(range(len(weights)), key=lambda i: -weights[i])
    keep = set(order)
    if top_k > 0:
        keep &= set(order[:top_k])
    if top_p < 1.0:
        total = sum(weights[i] for i in order if i in keep)
        kept, cumulative = set(), 0.0
        for i in order:
            if i not in keep:
                continue
            kept.add(i)
            cumulative += weights[i] / total
            if cumulative >= top_p - 1e-9:
                break
        keep = kept
    if min_p > 0:
        total = sum(weights[i] for i in keep)
        peak = max(weights[i] for i in keep) / total
        keep = {i for i in keep if weights[i] / total >= min_p * peak}
    total = sum(weights[i] for i in keep) or 1.0
    return [weights[i] / total if i in keep else 0.0 for i in range(len(weights))]
