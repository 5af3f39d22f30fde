"""The next-token distribution, and what the sampler settings make of it: the model's raw probabilities for the
likeliest tokens, then the same tokens after temperature, top-k, top-p and min-p, in the order transformers applies
them (so the effect of each setting is seen on the real distribution)."""

from __future__ import annotations

import math


def after_sampling(
    logprobs: list[float], temperature: float = 1.0, top_k: int = 0, top_p: float = 1.0, min_p: float = 0.0
) -> list[float]:
    """The probability each candidate has when sampled with these settings. The candidates are the likeliest
    tokens; the model's remaining probability (the tail beyond them) takes part too, counted as tokens each as
    likely as the last candidate (at most that likely: an upper bound that is exact at temperature 1). So with
    temperature 1 and no cut-off, every candidate keeps exactly the model's probability. Temperature 0 is greedy."""
    n = len(logprobs)
    if not n:
        return []
    if temperature <= 0:
        best = max(range(n), key=lambda i: logprobs[i])
        return [1.0 if i == best else 0.0 for i in range(n)]
    probs = [math.exp(lp) for lp in logprobs]
    rest = max(0.0, 1.0 - sum(probs))
    floor = min(logprobs)
    tail_count = rest / math.exp(floor) if rest > 1e-9 else 0.0
    top = max(logprobs)
    weights = [math.exp((lp - top) / temperature) for lp in logprobs]
    unit = math.exp((floor - top) / temperature)  # one tail token's weight
    order = sorted(range(n), key=lambda i: -weights[i])
    keep = set(order)
    tail = 1.0  # the kept fraction of the tail
    if top_k > 0:
        keep = set(order[:top_k])
        tail = min(1.0, (top_k - n) / tail_count) if top_k > n and tail_count else 0.0
    if top_p < 1.0:
        total = sum(weights[i] for i in keep) + unit * tail_count * tail
        kept, cumulative = set(), 0.0
        for i in order:
            if i not in keep:
                continue
            kept.add(i)
            cumulative += weights[i]
            if cumulative >= top_p * total - 1e-12:
                break
        if cumulative >= top_p * total - 1e-12:
            tail = 0.0
        elif tail_count and tail:
            tail *= min(1.0, (top_p * total - cumulative) / (unit * tail_count * tail))
        keep = kept
    if min_p > 0:
        peak = max(weights[i] for i in keep) if keep else unit
        keep = {i for i in keep if weights[i] >= min_p * peak}
        if unit < min_p * peak:
            tail = 0.0
    total = sum(weights[i] for i in keep) + unit * tail_count * tail or 1.0
    return [weights[i] / total if i in keep else 0.0 for i in range(n)]
