"""The frozen recipe of a text job (continue a prompt with a causal language model), and what it produced."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

from studio.core.jobs import MAX_SEED, RANDOM_SEED, JobKind
from studio.core.jobs.fields import derived, knob
from studio.core.text.instruct import INSTRUCT_FORMATS
from studio.core.text.writer_context import StoryContext

TEXT_SPEC_VERSION = 1
MAX_NEW_TOKENS = 4096
STOP_REASONS = ("eos", "length", "stop", "cancelled")
TEXT_CPU_ENGINES = ("auto", "torch", "openvino")
DRY_BREAKERS = ("\n", ":", '"', "*")  # DRY's sequence breakers: text-generation-webui's defaults


@dataclass(frozen=True)
class WriteSpec:
    kind: ClassVar[JobKind] = JobKind.TEXT
    # The text recipe's table, declared here once (``recipe.TEXT`` is made from it); ``draft=`` where a draft's
    # default differs from a spec's (a spec made in code asks for nothing it does not name).
    # fmt: off
    model: str = knob(draft="", label="Model", help="A transformers causal language model folder, or a Hugging Face "
        "repo id already in the local cache (default: the last used, else the built-in Storyteller).", metavar="PATH")
    prompt: str = derived(None, "the text to continue: the story before the cursor, or the passage to rewrite")
    max_new_tokens: int = knob(200, draft=80, label="Max new tokens", help="How much to write at most per "
        "Continue.", minimum=1, maximum=MAX_NEW_TOKENS, step=10)
    temperature: float = knob(0.8, label="Temperature", help="Higher: more surprising; 0 always picks the "
        "likeliest token.", minimum=0.0, maximum=5.0, step=0.05, decimals=2)
    top_p: float = knob(0.95, label="Top-p", help="Sample only from the likeliest tokens that together cover this "
        "probability (1: off).", minimum=0.01, maximum=1.0, step=0.01, decimals=2)
    top_k: int = knob(0, label="Top-k", help="Sample only from this many likeliest tokens (0: off).", minimum=0,
        maximum=1000)
    min_p: float = knob(0.0, label="Min-p", help="Drop tokens less likely than this fraction of the likeliest "
        "(0: off).", minimum=0.0, maximum=0.99, step=0.01, decimals=2)
    typical_p: float = knob(1.0, label="Typical-p", help="Locally typical sampling (1: off).", minimum=0.01,
        maximum=1.0, step=0.01, decimals=2)
    repetition_penalty: float = knob(1.1, label="Repetition penalty", help="Above 1 discourages repeating words "
        "(1: off).", minimum=0.5, maximum=3.0, step=0.01, decimals=2)
    no_repeat_ngram_size: int = knob(0, label="No-repeat n-gram", help="Never repeat a phrase of this many tokens "
        "(0: off).", minimum=0, maximum=20)
    stop: tuple[str, ...] = knob((), label="Stop at", help="Stop when the model writes this text (repeatable; one "
        "per line in the Writer).", metavar="S")
    dry_multiplier: float = knob(0.0, label="DRY", help="Don't Repeat Yourself: penalise a token that would extend a "
        "sequence already in the text (0: off; 0.8 is typical).", minimum=0.0, maximum=5.0, step=0.05, decimals=2,
        cli="--dry")
    dry_base: float = knob(1.75, label="DRY base", help="How fast DRY's penalty grows with the repeated sequence's "
        "length.", minimum=1.0, maximum=4.0, step=0.05, decimals=2)
    dry_allowed_length: int = knob(2, label="DRY allowed length", help="Repeated sequences up to this many tokens "
        "are not penalised.", minimum=1, maximum=20)
    xtc_probability: float = knob(0.0, label="XTC", help="Exclude Top Choices: how often the likeliest tokens are "
        "set aside for a less obvious one (0: off; 0.5 is typical).", minimum=0.0, maximum=1.0, step=0.05,
        decimals=2)
    xtc_threshold: float = knob(0.1, label="XTC threshold", help="XTC sets aside the tokens above this probability "
        "but the least likely of them.", minimum=0.0, maximum=0.5, step=0.01, decimals=2)
    banned: tuple[str, ...] = knob((), label="Banned phrases", help="Never write these (any case): a phrase that "
        "appears is rolled back and written again (repeatable; one per line in the Writer).", metavar="PHRASE",
        cli="--ban")
    bias: tuple[str, ...] = knob((), label="Phrase bias", help="TEXT:VALUE — make the tokens of this text likelier "
        "(up to 100) or rarer (down to −100: never) (repeatable).", metavar="TEXT:VALUE")
    instruct: bool = knob(False, label="Instruct", help="For instruct and chat models: the story is sent as a "
        "request to continue it, in the model's chat template (or the instruct format chosen).")
    system: str = knob("", label="System prompt", help="What an instruct or chat model is told first (its persona, "
        "the rules of the story).", metavar="TEXT")
    instruct_format: str = knob("auto", label="Instruct format", help="How turns are laid out for a model without "
        "a chat template of its own: auto (the model's template), ChatML, Llama 3, Mistral, Alpaca, Vicuna.",
        choices=INSTRUCT_FORMATS)
    json_schema: str = knob("", label="JSON schema", help="Write JSON that follows this schema (its text), enforced "
        "token by token and checked before it is accepted.", cli="")
    grammar: str = knob("", label="Grammar", help="Write text this grammar allows (llama.cpp's GBNF or Lark), "
        "enforced token by token.", cli="")
    seed: int = knob(0, draft=RANDOM_SEED, label="Seed", help="The same seed and settings write the same text; −1 "
        "draws a new one.", minimum=RANDOM_SEED, maximum=MAX_SEED, special=((RANDOM_SEED, "a new random seed"),))
    # fmt: on
    # With a context, ``prompt`` is the story before the cursor and the engine assembles Memory, Lorebook and
    # Author's Note around it within the model's context (it has the tokenizer that counts).
    context: StoryContext | None = None
    # Rewrite ``prompt`` (a selected passage) following this instruction ("tighter", "more menace").
    instruction: str = ""
    # A chat: ((role, text), ...) with roles "user" / "assistant"; the model writes the next assistant turn.
    messages: tuple[tuple[str, str], ...] = ()
    # fmt: off
    logprobs: int = knob(0, draft=5, label="Alternatives", help="How many alternatives to keep for each written "
        "token, with their probabilities (0: none).", minimum=0, maximum=200)
    engine: str = knob("", label="Engine", help="Where the model runs: empty for this machine, or an "
        "OpenAI-compatible server (llama.cpp, Ollama, LM Studio, vLLM, transformers serve…) by its saved name or "
        "base URL.", metavar="URL|NAME")
    quantize: str = knob("auto", label="Weights", help="A local model's weights: auto (on torch int8, then int4, "
        "only when it would not fit in memory; on OpenVINO int8), none (full precision), int8 or int4 weight-only.",
        choices=("auto", "none", "int8", "int4"), special=(("auto", "Auto"), ("none", "Full precision"),
                                                           ("int8", "int8 weight-only"), ("int4", "int4 weight-only")))
    cpu_engine: str = knob("auto", label="CPU engine", help="What runs a local model on a CPU: OpenVINO (converts "
        "each model once, cached beside the models; its weights as Weights says, auto meaning int8), torch, or auto "
        "(OpenVINO for models of 100 M parameters and more). The same engine and seed write the same text.",
        choices=TEXT_CPU_ENGINES, special=(("auto", "Auto"), ("torch", "torch"), ("openvino", "OpenVINO")))
    lora: str = knob("", label="LoRA", help="A text LoRA trained in Studio (learn my voice, learn from my choices) "
        "on this model, attached while writing; empty: none.", metavar="PATH")
    # fmt: on
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
    sampled: float | None = (
        None  # its probability with the writer's settings (Studio's own loop: DRY, bans, …)
    )

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
    runtime: str = ""  # what ran a local model: "torch", or "OpenVINO 2026.4.1 (int8 weights, bf16)"
    context: Any = None  # the assembled context (writer_context.Assembled) when the job had a StoryContext

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
