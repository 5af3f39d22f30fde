"""What the Writer's samplers add to transformers' own: DRY (don't repeat a sequence already in the text), XTC
(exclude the top choices now and then), phrase bias and banned tokens, banned phrases with backtracking, and output
held to a JSON schema or a grammar (llguidance, token by token). Used by Studio's own token loop
(``text_sampling.sample``), on torch and on OpenVINO alike."""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass, field
from typing import Any

from studio.core.jobs.errors import ErrorKind, StudioError
from studio.core.text.recipe import parse_bias, schema_problem
from studio.core.text.text_specs import DRY_BREAKERS, WriteSpec

DRY_RANGE = 2048  # tokens looked back at
MAX_BACKTRACKS = 64  # banned phrases rolled back in one job at most


def needs_own_loop(spec: WriteSpec) -> bool:
    """Whether a job needs Studio's token loop rather than transformers' generate()."""
    return bool(spec.dry_multiplier or spec.xtc_probability or spec.banned or spec.bias or spec.json_schema
                or spec.grammar)  # fmt: skip


@functools.lru_cache(maxsize=4)
def _breaker_ids(tok: Any) -> frozenset[int]:
    """The tokens whose text holds a sequence breaker (decoded once per tokenizer)."""
    texts = tok.batch_decode([[i] for i in range(len(tok))])
    return frozenset(i for i, t in enumerate(texts) if any(b in t for b in DRY_BREAKERS))


class DryProcessor:
    """Penalise each token that would extend a sequence that already occurred: by multiplier · base^(n − allowed)
    for a repeat of n tokens (text-generation-webui's DRY, the sequence breakers ending a match)."""

    def __init__(self, spec: WriteSpec, tok: Any):
        self.multiplier, self.base, self.allowed = spec.dry_multiplier, spec.dry_base, spec.dry_allowed_length
        self.breakers = _breaker_ids(tok)

    def __call__(self, input_ids: Any, scores: Any) -> Any:
        seq = input_ids[0, -DRY_RANGE:].tolist()
        if len(seq) < 2 or seq[-1] in self.breakers:
            return scores
        last, longest = len(seq) - 1, dict[int, int]()
        for i in range(last - 1, -1, -1):
            if seq[i] != seq[last] or seq[i + 1] in self.breakers:
                continue
            n = 1
            while n <= i and seq[i - n] == seq[last - n] and seq[i - n] not in self.breakers:
                n += 1
            nxt = seq[i + 1]
            longest[nxt] = max(longest.get(nxt, 0), n)
        for token, n in longest.items():
            if n >= self.allowed and token < scores.shape[-1]:
                scores[0, token] -= self.multiplier * self.base ** (n - self.allowed)
        return scores


class XtcProcessor:
    """Exclude Top Choices: with probability ``p`` (drawn from the job's seeded generator), every token above the
    threshold but the least likely of them is set aside."""

    def __init__(self, spec: WriteSpec, generator: Any):
        self.p, self.threshold, self.generator = spec.xtc_probability, spec.xtc_threshold, generator

    def __call__(self, input_ids: Any, scores: Any) -> Any:
        import torch

        if float(torch.rand(1, generator=self.generator)) >= self.p:
            return scores
        probs = torch.softmax(scores[0].float(), dim=-1)
        above = torch.nonzero(probs >= self.threshold).flatten()
        if len(above) < 2:
            return scores
        keep = above[probs[above].argmin()]
        scores[0, above[above != keep]] = float("-inf")
        return scores


class BiasProcessor:
    """Add each phrase's bias to its tokens (with and without a leading space); −100 bans them."""

    def __init__(self, spec: WriteSpec, tok: Any):
        self.bias: dict[int, float] = {}
        for entry in spec.bias:
            found = parse_bias(entry)
            if isinstance(found, str):
                continue
            text, value = found
            for variant in {text, " " + text.lstrip()}:
                for token in tok(variant, add_special_tokens=False)["input_ids"]:
                    self.bias[token] = float("-inf") if value <= -100 else self.bias.get(token, 0.0) + value

    def __call__(self, input_ids: Any, scores: Any) -> Any:
        for token, value in self.bias.items():
            if token < scores.shape[-1]:
                scores[0, token] += value
        return scores


def extra_processors(spec: WriteSpec, tok: Any, generator: Any) -> tuple[list[Any], list[Any]]:
    """(what goes before the sampler's cut-offs: bias, DRY; what goes after them: XTC)."""
    before: list[Any] = []
    if spec.bias:
        before.append(BiasProcessor(spec, tok))
    if spec.dry_multiplier > 0:
        before.append(DryProcessor(spec, tok))
    after = [XtcProcessor(spec, generator)] if spec.xtc_probability > 0 and spec.temperature > 0 else []
    return before, after


@dataclass
class Banned:
    """Banned phrases, found in the written text (any case) as soon as one is complete."""

    phrases: tuple[str, ...]
    at: dict[int, set[int]] = field(default_factory=dict)  # position → tokens banned there (rolled back)
    backtracks: int = 0

    @property
    def longest(self) -> int:
        return max((len(p) for p in self.phrases), default=0)

    def find(self, text: str) -> int:
        """Where the first banned phrase starts in ``text`` (−1: none)."""
        lowered = text.lower()
        hits = [i for i in (lowered.find(p.lower()) for p in self.phrases if p) if i >= 0]
        return min(hits) if hits else -1


class Constraint:
    """Output held to a JSON schema or a grammar (GBNF or Lark) by llguidance: each step's allowed tokens."""

    def __init__(self, spec: WriteSpec, tok: Any):
        import llguidance
        import llguidance.hf

        self.schema = json.loads(spec.json_schema) if spec.json_schema else None
        try:
            self.tokenizer = llguidance.hf.from_tokenizer(tok)
        except Exception as e:  # noqa: BLE001 - a tokenizer llguidance cannot read (a slow one)
            raise StudioError(ErrorKind.INVALID_INPUT, f"This model's tokenizer cannot be constrained: {e}",
                              repr(e), field="json_schema") from e  # fmt: skip
        if self.schema is not None:
            # one way to lay the JSON out (no runs of blank lines for a small model to wander into)
            layout = {"whitespace_flexible": False, "item_separator": ", ", "key_separator": ": "}
            schema = {**self.schema, "x-guidance": layout} if isinstance(self.schema, dict) else self.schema
            grammar = llguidance.LLMatcher.grammar_from_json_schema(json.dumps(schema))
        else:
            from llguidance.gbnf_to_lark import any_to_lark

            try:  # llama.cpp's GBNF, or Lark as it is
                grammar = llguidance.LLMatcher.grammar_from_lark(any_to_lark(spec.grammar))
            except Exception as e:  # noqa: BLE001 - the converter's and parser's errors, said as one
                raise StudioError(ErrorKind.INVALID_INPUT, f"The grammar cannot be read: {str(e)[:200]}",
                                  repr(e), field="grammar") from e  # fmt: skip
        self.matcher = llguidance.LLMatcher(self.tokenizer, grammar)
        if self.matcher.is_error():
            raise StudioError(ErrorKind.INVALID_INPUT, f"The grammar cannot be used: {self.matcher.get_error()}",
                              field="grammar" if spec.grammar else "json_schema")  # fmt: skip
        import llguidance.torch as lt

        self._lt = lt
        self.mask = lt.allocate_token_bitmask(1, self.tokenizer.vocab_size)

    def apply(self, scores: Any) -> Any:
        """Only the tokens the grammar allows next keep their scores."""
        self._lt.fill_next_token_bitmask(self.matcher, self.mask, 0)
        vocab = self.tokenizer.vocab_size
        head = scores[:, :vocab].contiguous()
        self._lt.apply_token_bitmask_inplace(head, self.mask)
        scores[:, :vocab] = head
        scores[:, vocab:] = float("-inf")
        return scores

    def consume(self, token: int) -> None:
        self.matcher.consume_token(token)

    def rollback(self, n: int) -> None:
        if n:
            self.matcher.rollback(n)

    @property
    def done(self) -> bool:
        return bool(self.matcher.is_stopped())

    @property
    def accepting(self) -> bool:
        return bool(self.matcher.is_accepting())

    def check(self, text: str) -> str:
        """'' when ``text`` is a complete answer (for a schema: JSON that validates), else why not."""
        if not self.accepting:
            return "the output stopped before the grammar was complete (raise Max new tokens)"
        return schema_problem(self.schema, text) if self.schema is not None else ""
