"""The token loop of a model that is not a torch module (the OpenVINO engine): each step's logits come from the
runtime, and the choice of the next token is made here with transformers' own logits processors and samplers —
the same repetition penalty, no-repeat n-grams, temperature, top-k, top-p, min-p and typical-p as the torch path,
a seeded generator (the same seed on the same engine writes the same text), stop strings, Stop between tokens, and
each step's raw distribution kept for the probability view."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from studio.core.text.text_specs import WriteSpec


@dataclass
class Sampled:
    new: list[int] = field(default_factory=list)  # the written token ids
    logits: list[Any] = field(default_factory=list)  # each step's raw logits, (1, vocab), when asked
    reason: str = "length"  # "eos" | "length" | "stop" | "cancelled"


def cache_keyword() -> str:
    """generate()'s KV-cache argument: ``cache`` in recent transformers (``past_key_values`` is deprecated there and
    warns), ``past_key_values`` before."""
    import transformers

    major, minor = (int(x) for x in transformers.__version__.split(".")[:2])
    return "cache" if (major, minor) >= (5, 20) else "past_key_values"


def processors(spec: WriteSpec) -> Any:
    """transformers' processors for this recipe, in generate()'s order (penalties, then the sampler's cut-offs)."""
    from transformers import (
        LogitsProcessorList,
        MinPLogitsWarper,
        NoRepeatNGramLogitsProcessor,
        RepetitionPenaltyLogitsProcessor,
        TemperatureLogitsWarper,
        TopKLogitsWarper,
        TopPLogitsWarper,
        TypicalLogitsWarper,
    )

    out = LogitsProcessorList()
    if spec.repetition_penalty != 1.0:
        out.append(RepetitionPenaltyLogitsProcessor(spec.repetition_penalty))
    if spec.no_repeat_ngram_size > 0:
        out.append(NoRepeatNGramLogitsProcessor(spec.no_repeat_ngram_size))
    if spec.temperature > 0:
        if spec.temperature != 1.0:
            out.append(TemperatureLogitsWarper(spec.temperature))
        if spec.top_k > 0:
            out.append(TopKLogitsWarper(spec.top_k))
        if spec.top_p < 1.0:
            out.append(TopPLogitsWarper(spec.top_p))
        if spec.min_p > 0:
            out.append(MinPLogitsWarper(spec.min_p))
        if spec.typical_p < 1.0:
            out.append(TypicalLogitsWarper(spec.typical_p))
    return out


def stop_check(tok: Any, stops: tuple[str, ...]) -> Callable[[list[int]], bool]:
    """Whether the text written so far has just come to one of ``stops`` (its last tokens decoded: a stop string
    found earlier would have stopped it then)."""
    if not stops:
        return lambda new: False
    window = max(len(s) for s in stops) + 2  # a token is at least a character, or part of one

    def hit(new: list[int]) -> bool:
        tail = tok.decode(new[-window:], skip_special_tokens=True)
        return any(s in tail for s in stops)

    return hit


def sample(
    first: Any,
    step: Callable[[int], Any],
    prompt: list[int],
    spec: WriteSpec,
    *,
    eos: set[int],
    stopped: Callable[[list[int]], bool],
    on_token: Callable[[int], None],
    cancelled: Callable[[], bool],
) -> Sampled:
    """Write up to ``spec.max_new_tokens`` tokens: ``first`` is the logits after the prompt, ``step(token)`` feeds one
    token and gives the next logits (numpy rows)."""
    import torch

    with _one_torch_thread():
        chain = processors(spec)
        generator = torch.Generator().manual_seed(spec.seed)
        seen = torch.tensor([prompt], dtype=torch.long)
        out = Sampled()
        logits = first
        while len(out.new) < spec.max_new_tokens:
            raw = torch.from_numpy(logits).float()[None]
            if spec.logprobs:
                out.logits.append(raw)
            scores = chain(seen, raw.clone())
            if spec.temperature > 0:
                token = int(torch.multinomial(torch.softmax(scores, dim=-1), 1, generator=generator)[0, 0])
            else:
                token = int(scores[0].argmax())
            out.new.append(token)
            seen = torch.cat([seen, torch.tensor([[token]])], dim=1)
            on_token(token)
            if token in eos:
                out.reason = "eos"
                return out
            if stopped(out.new):
                out.reason = "stop"
                return out
            if cancelled():
                out.reason = "cancelled"
                return out
            if len(out.new) < spec.max_new_tokens:
                logits = step(token)
        return out


@contextmanager
def _one_torch_thread() -> Iterator[None]:
    """torch's own work in the loop is small; its thread pool, once woken, spins on the cores OpenVINO computes on."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)
