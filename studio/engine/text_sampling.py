"""Studio's own token loop — for OpenVINO (each step's logits come from the runtime), and on torch for what
transformers' generate() cannot do (DRY, XTC, phrase bias, banned phrases rolled back, a JSON schema or grammar):
the choice of the next token is made here with transformers' own logits processors and samplers — the same
repetition penalty, no-repeat n-grams, temperature, top-k, top-p, min-p and typical-p as generate() — and Studio's
(``text_controls``), a seeded generator (the same seed on the same engine writes the same text), stop strings, Stop
between tokens, and each step's raw distribution kept for the probability view."""

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
    sampled: list[float] = field(default_factory=list)  # each written token's probability with the settings
    constraint: Any = None  # the grammar it was held to (its final check), if any
    backtracks: int = 0  # banned phrases rolled back


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
    cancelled: Callable[[], bool],
    tok: Any,
    on_text: Callable[[str, int], None],
    restart: Callable[[list[int]], Any] | None = None,
) -> Sampled:
    """Write up to ``spec.max_new_tokens`` tokens: ``first`` is the logits after the prompt, ``step(token)`` feeds one
    token and gives the next logits, ``restart(ids)`` gives the logits after ``ids`` (a banned phrase rolled back),
    all numpy rows. The text goes to ``on_text`` as it becomes final: held back by the longest banned phrase, so
    that nothing shown is ever taken back."""
    import torch

    from studio.engine.text_controls import MAX_BACKTRACKS, Banned, Constraint, extra_processors

    with _one_torch_thread():
        generator = torch.Generator().manual_seed(spec.seed)
        chain = processors(spec)
        before, after = extra_processors(spec, tok, generator)
        constraint = Constraint(spec, tok) if spec.json_schema or spec.grammar else None
        banned = Banned(spec.banned)
        writer = _Writer(tok, on_text, max(0, banned.longest - 1))
        seen = torch.tensor([prompt], dtype=torch.long)
        out = Sampled()
        logits = first
        while len(out.new) < spec.max_new_tokens:
            raw = torch.from_numpy(logits).float()[None]
            if spec.logprobs:
                out.logits.append(raw)
            token, chance = _choose(raw, seen, spec, chain, before, after, constraint,
                                    banned.at.get(len(out.new), set()), generator)  # fmt: skip
            if token < 0:  # nothing is allowed here (every choice banned, or the grammar is stuck)
                out.reason = "stop"
                break
            out.new.append(token)
            out.sampled.append(chance)
            seen = torch.cat([seen, torch.tensor([[token]])], dim=1)
            if constraint is not None:
                constraint.consume(token)
            at = banned.find(tok.decode(out.new, skip_special_tokens=True)) if banned.phrases else -1
            if at >= 0 and restart is not None and banned.backtracks < MAX_BACKTRACKS:
                k = _token_at(tok, out.new, at)
                banned.at.setdefault(k, set()).add(out.new[k])
                banned.backtracks += 1
                if constraint is not None:
                    constraint.rollback(len(out.new) - k)
                del out.new[k:], out.logits[k:], out.sampled[k:]
                seen = seen[:, : len(prompt) + k]
                logits = restart(prompt + out.new)
                continue
            writer.flush(out.new)
            if token in eos or (constraint is not None and constraint.done):
                out.reason = "eos"
                break
            if stopped(out.new):
                out.reason = "stop"
                break
            if cancelled():
                out.reason = "cancelled"
                break
            if len(out.new) < spec.max_new_tokens:
                logits = step(token)
        writer.flush(out.new, final=True)
        out.constraint = constraint
        out.backtracks = banned.backtracks
        return out


def _choose(raw: Any, seen: Any, spec: WriteSpec, chain: Any, before: list[Any], after: list[Any],
            constraint: Any, banned: set[int], generator: Any) -> tuple[int, float]:  # fmt: skip
    """The next token and its probability with the settings: the grammar's mask, bias and DRY, transformers'
    processors, XTC, the tokens banned at this place; then sampled (or the likeliest). −1 when nothing is left."""
    import torch

    scores = raw.clone()
    if constraint is not None:
        scores = constraint.apply(scores)
    for processor in before:
        scores = processor(seen, scores)
    scores = chain(seen, scores)
    for processor in after:
        scores = processor(seen, scores)
    for token in banned:
        scores[0, token] = float("-inf")
    if not torch.isfinite(scores).any():
        return -1, 0.0
    probs = torch.softmax(scores.float(), dim=-1)
    token = int(torch.multinomial(probs, 1, generator=generator)[0, 0]) if spec.temperature > 0 else int(
        scores[0].argmax())  # fmt: skip
    return token, float(probs[0, token])


def _token_at(tok: Any, new: list[int], char: int) -> int:
    """The index of the written token that holds character ``char`` of the decoded text."""
    for k in range(len(new)):
        if len(tok.decode(new[: k + 1], skip_special_tokens=True)) > char:
            return k
    return max(0, len(new) - 1)


class _Writer:
    """Hands the written text on as it becomes final: all but the last ``hold`` characters (a banned phrase may
    still be completing there), never half a character."""

    def __init__(self, tok: Any, on_text: Callable[[str, int], None], hold: int):
        self.tok, self.on_text, self.hold, self.sent = tok, on_text, hold, 0

    def flush(self, new: list[int], final: bool = False) -> None:
        text = self.tok.decode(new, skip_special_tokens=True)
        end = len(text) if final else len(text) - self.hold
        while not final and end > self.sent and text[end - 1] == "\ufffd":
            end -= 1
        if end > self.sent:
            self.on_text(text[self.sent : end], len(new))
            self.sent = end


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
