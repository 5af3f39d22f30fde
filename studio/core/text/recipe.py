"""The text recipe: the sampling fields of a Writer generation (and ``studio write``), and the road from a draft
to a frozen ``WriteSpec``."""

from __future__ import annotations

import random
from collections.abc import Callable
from pathlib import Path
from typing import Any

from studio.core.jobs import A1111_MAX_SEED, MAX_SEED, RANDOM_SEED, JobKind
from studio.core.jobs.errors import ValidationError
from studio.core.jobs.fields import table_of
from studio.core.models.text_lora import read_text_lora
from studio.core.text.text_specs import WriteSpec
from studio.core.text.writer_context import StoryContext

TEXT = table_of(WriteSpec, JobKind.TEXT)  # declared once, on the spec
MACHINE = (
    "model",
    "engine",
    "quantize",
    "cpu_engine",
    "lora",
)  # where and how it runs: the machine's, not the story's
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
        **{k: values[k] for k in SAMPLING if k not in ("seed", "stop", "banned", "bias")},
        banned=tuple(str(s) for s in values.get("banned", ()) if str(s).strip()),
        bias=tuple(str(s) for s in values.get("bias", ()) if str(s).strip()),
        model=values["model"],
        engine=values["engine"],
        quantize=values["quantize"],
        cpu_engine=values["cpu_engine"],
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
    problems = TEXT.check({k: getattr(spec, k) for k in (*SAMPLING, "quantize", "cpu_engine")
                           if k not in ("stop", "banned", "bias")})  # fmt: skip
    problems.update(check_controls(spec))
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


def parse_bias(entry: str) -> tuple[str, float] | str:
    """``TEXT:VALUE`` as (text, value), or why it is not one."""
    text, sep, value = entry.rpartition(":")
    try:
        number = float(value)
    except ValueError:
        number = float("nan")
    if not sep or not text or not -100 <= number <= 100:
        return f"“{entry[:60]}” is not TEXT:VALUE with a value from −100 to 100."
    return text, number


def check_controls(spec: WriteSpec) -> dict[str, str]:
    """Problems with the phrase bias, the banned phrases, the JSON schema and the grammar."""
    problems: dict[str, str] = {}
    if bad := next((p for p in map(parse_bias, spec.bias) if isinstance(p, str)), None):
        problems["bias"] = bad
    if len(spec.banned) > 200 or any(len(b) > 200 for b in spec.banned):
        problems["banned"] = "At most 200 banned phrases of 200 characters each."
    if spec.json_schema and spec.grammar:
        problems["grammar"] = "Give a JSON schema or a grammar, not both."
    if spec.json_schema:
        from studio.core.io.untrusted import Unreadable, parse_json

        schema = parse_json(spec.json_schema)
        if isinstance(schema, Unreadable) or not isinstance(schema, dict | bool):
            problems["json_schema"] = "The JSON schema is not a JSON object."
        else:
            import jsonschema

            try:
                jsonschema.validators.validator_for(schema).check_schema(schema)
            except jsonschema.SchemaError as e:
                problems["json_schema"] = f"The JSON schema is not valid: {e.message[:200]}"
        if len(spec.json_schema) > 256 * 1024:
            problems["json_schema"] = "The JSON schema is larger than 256 KB."
    if len(spec.grammar) > 256 * 1024:
        problems["grammar"] = "The grammar is larger than 256 KB."
    return problems


def schema_problem(schema: Any, answer: str) -> str:
    """'' when ``answer`` is JSON that follows ``schema``, else why not (a sentence)."""
    import json

    import jsonschema

    try:
        jsonschema.validate(json.loads(answer), schema)
    except ValueError as e:
        return f"the answer is not JSON ({str(e)[:120]})"
    except jsonschema.ValidationError as e:
        return f"the answer does not follow the schema: {e.message[:200]}"
    return ""


def check_write(spec: WriteSpec) -> WriteSpec:
    problems = validate_write(spec)
    if problems:
        raise ValidationError(problems)
    return spec
