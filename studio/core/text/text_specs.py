"""The frozen recipe of a text job (continue a prompt with a causal language model), and what it produced."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

from studio.core.jobs import JobKind
from studio.core.text.writer_context import StoryContext

TEXT_SPEC_VERSION = 1
MAX_NEW_TOKENS = 4096
STOP_REASONS = ("eos", "length", "stop", "cancelled")


@dataclass(frozen=True)
class WriteSpec:
    kind: ClassVar[JobKind] = JobKind.TEXT
    model: str
    prompt: str
    max_new_tokens: int = 200
    temperature: float = 0.8  # 0 = greedy
    top_p: float = 0.95
    top_k: int = 0  # 0 = off
    min_p: float = 0.0
    typical_p: float = 1.0
    repetition_penalty: float = 1.1
    no_repeat_ngram_size: int = 0
    stop: tuple[str, ...] = ()
    seed: int = 0
    # With a context, ``prompt`` is the story before the cursor and the engine assembles Memory, Lorebook and
    # Author's Note around it within the model's context (it has the tokenizer that counts).
    context: StoryContext | None = None
    # Rewrite ``prompt`` (a selected passage) following this instruction ("tighter", "more menace").
    instruction: str = ""
    # A chat: ((role, text), ...) with roles "user" / "assistant"; the model writes the next assistant turn.
    messages: tuple[tuple[str, str], ...] = ()
    logprobs: int = 0  # how many alternatives to record for each written token (0: none; costs nothing)
    engine: str = ""  # "" runs on this machine; else an OpenAI-compatible server's base URL (…/v1)
    quantize: str = "auto"  # a local model's weights: "auto" (int8/int4 only when it would not fit), "none", "int8", "int4"
    lora: str = ""  # a text LoRA (Studio's .safetensors) attached to a local model ("" none)
    spec_version: int = field(default=TEXT_SPEC_VERSION)

    @property
    def model_name(self) -> str:
        return self.model.rstrip("/\\").replace("\\", "/").rsplit("/", 1)[-1]


@dataclass(frozen=True)
class TokenProb:
    """One written token: its text, its log-probability under the model, and the likeliest alternatives."""

    text: str
    logprob: float
    alternatives: tuple[tuple[str, float], ...] = ()  # (token text, log-probability), likeliest first

    @property
    def p(self) -> float:
        import math

        return math.exp(self.logprob)


@dataclass(frozen=True)
class TextResult:
    text: str
    tokens: int
    seconds: float
    stop_reason: str  # one of STOP_REASONS
    prompt_tokens: int
    trimmed_tokens: int = 0  # prompt tokens dropped (oldest first) to fit the model's context
    reused_tokens: int = 0  # prompt tokens not re-encoded: their keys and values came from the previous job
    probs: tuple[
        TokenProb, ...
    ] = ()  # when asked for (``logprobs``): each written token with its alternatives
    engine: str = ""  # where it ran: "" this machine, else the server's base URL
    quantized: str = ""  # a local model's weights as they ran: "none", "int8", "int4"

    @property
    def tokens_per_s(self) -> float:
        return self.tokens / self.seconds if self.seconds > 0 else 0.0


@dataclass(frozen=True)
class ContextSpec:
    """ "What the model sees": assemble a story's context with the model's tokenizer, without generating."""

    model: str
    story: str
    context: StoryContext
    max_new_tokens: int = 60
    engine: str = ""  # "" this machine; else the server's base URL
