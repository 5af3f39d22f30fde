"""The text recipe: the sampling fields of a Writer generation (and ``studio write``), and the road from a draft
to a frozen ``WriteSpec``."""

from __future__ import annotations

import random
from collections.abc import Callable
from pathlib import Path
from typing import Any

from studio.core.jobs import A1111_MAX_SEED, MAX_SEED, RANDOM_SEED, JobKind
from studio.core.jobs.errors import ValidationError
from studio.core.jobs.fields import Field, FieldTable
from studio.core.models.text_lora import read_text_lora
from studio.core.text.text_specs import MAX_NEW_TOKENS, WriteSpec
from studio.core.text.writer_context import StoryContext

TEXT = FieldTable(
    JobKind.TEXT,
    (
        Field("model", str, "", "Model", "A transformers causal language model folder, or a Hugging Face repo id "
              "already in the local cache (default: the last used, else the built-in Storyteller).",
              metavar="PATH"),
        Field("max_new_tokens", int, 80, "Max new tokens", "How much to write at most per Continue.", 1,
              MAX_NEW_TOKENS, step=10),
        Field("temperature", float, 0.8, "Temperature", "Higher: more surprising; 0 always picks the likeliest "
              "token.", 0.0, 5.0, step=0.05, decimals=2),
        Field("top_p", float, 0.95, "Top-p", "Sample only from the likeliest tokens that together cover this "
              "probability (1: off).", 0.01, 1.0, step=0.01, decimals=2),
        Field("top_k", int, 0, "Top-k", "Sample only from this many likeliest tokens (0: off).", 0, 1000),
        Field("min_p", float, 0.0, "Min-p", "Drop tokens less likely than this fraction of the likeliest "
              "(0: off).", 0.0, 0.99, step=0.01, decimals=2),
        Field("typical_p", float, 1.0, "Typical-p", "Locally typical sampling (1: off).", 0.01, 1.0, step=0.01,
              decimals=2),
        Field("repetition_penalty", float, 1.1, "Repetition penalty", "Above 1 discourages repeating words "
              "(1: off).", 0.5, 3.0, step=0.01, decimals=2),
        Field("no_repeat_ngram_size", int, 0, "No-repeat n-gram", "Never repeat a phrase of this many tokens "
              "(0: off).", 0, 20),
        Field("stop", list, [], "Stop at", "Stop when the model writes this text (repeatable; one per line in "
              "the Writer).", metavar="S"),
        Field("seed", int, RANDOM_SEED, "Seed", "The same seed and settings write the same text; −1 draws a new "
              "one.", RANDOM_SEED, MAX_SEED, special=((RANDOM_SEED, "a new random seed"),)),
        Field("logprobs", int, 5, "Alternatives", "How many alternatives to keep for each written token, with "
              "their probabilities (0: none).", 0, 200),
        Field("engine", str, "", "Engine", "Where the model runs: empty for this machine, or an OpenAI-compatible "
              "server (llama.cpp, Ollama, LM Studio, vLLM, transformers serve…) by its saved name or base URL.",
              metavar="URL|NAME"),
        Field("lora", str, "", "LoRA", "A text LoRA trained in Studio (learn my voice, learn from my choices) on "
              "this model, attached while writing; empty: none.", metavar="PATH"),
        Field("quantize", str, "auto", "Weights", "A local model's weights: auto (int8, then int4, only when it would "
              "not fit in memory), none (full precision), int8 or int4 weight-only.",
              choices=("auto", "none", "int8", "int4")),
    ),
)  # fmt: skip
MACHINE = ("model", "engine", "quantize", "lora")  # where and how it runs: the machine's, not the story's
SAMPLING = [f.name for f in TEXT.fields if f.name not in MACHINE]


def complete(draft: dict[str, Any]) -> dict[str, Any]:
    out = TEXT.defaults()
    out.update({k: v for k, v in draft.items() if k in TEXT})
    return out


def freeze_text(
    draft: dict[str, Any],
    prompt: str,
    *,
    context: StoryContext | None = None,
    instruction: str = "",
    messages: tuple[tuple[str, str], ...] = (),
    seed: Callable[[], int] = lambda: random.SystemRandom().randint(0, A1111_MAX_SEED),
) -> WriteSpec | dict[str, str]:
    """The frozen text job for ``prompt`` (and its story context), or the problems, by field."""
    problems: dict[str, str] = {}
    values = TEXT.convert(complete(draft), problems)
    problems.update(TEXT.check(values, [n for n in values if n not in problems]))
    stop = values.get("stop", [])
    if any(not isinstance(s, str) for s in stop):
        problems["stop"] = "Stop strings must be text."
    if problems:
        return problems
    spec = WriteSpec(
        **{k: values[k] for k in SAMPLING if k not in ("seed", "stop")},
        model=values["model"],
        engine=values["engine"],
        quantize=values["quantize"],
        lora=str(Path(values["lora"]).expanduser().resolve()) if values["lora"] else "",
        prompt=prompt,
        stop=tuple(s for s in stop if s),
        seed=seed() if values["seed"] == RANDOM_SEED else values["seed"],
        context=context,
        instruction=instruction,
        messages=messages,
    )
    return validate_write(spec) or spec


def validate_write(spec: WriteSpec) -> dict[str, str]:
    """Problems with a text job, keyed by field (the text recipe's rules)."""
    problems = TEXT.check({k: getattr(spec, k) for k in (*SAMPLING, "quantize") if k != "stop"})
    if not spec.model.strip():
        problems["model"] = "Choose a text model first."
    if not 0 <= spec.seed <= MAX_SEED:
        problems["seed"] = "Seed must be between 0 and 2^64 − 1."
    if any(not s for s in spec.stop):
        problems["stop"] = "A stop string cannot be empty."
    if spec.lora:
        if spec.engine:
            problems["lora"] = ("A server cannot load Studio's LoRAs: choose a model on this machine to write with "
                                "one (the server's own model is used without it — never silently).")  # fmt: skip
        elif isinstance(found := read_text_lora(Path(spec.lora)), str):
            problems["lora"] = found
    return problems


def check_write(spec: WriteSpec) -> WriteSpec:
    problems = validate_write(spec)
    if problems:
        raise ValidationError(problems)
    return spec
