"""AUTOMATIC1111's ``parameters`` text: the recipe format Civitai and most tools read."""

from __future__ import annotations

import json
import re
from typing import Any

NEGATIVE = "Negative prompt: "
_PARAM = re.compile(r'\s*([\w][\w \-/+().]*?):\s*("(?:\\.|[^\\"])*"|[^,]*)(?:,|$)')
_PARAM_LINE = re.compile(r"^(?:[\w][\w \-/+().]*?: (?:\"(?:\\.|[^\\\"])*\"|[^,]*)(?:, |$))+$")


def quote(value: Any) -> str:
    text = str(value)
    if "," not in text and "\n" not in text and ":" not in text:
        return text
    return json.dumps(text, ensure_ascii=False)


def unquote(text: str) -> str:
    text = text.strip()
    if len(text) >= 2 and text[0] == '"' and text[-1] == '"':
        try:
            return str(json.loads(text))
        except (ValueError, RecursionError):
            return text[1:-1]
    return text


def fmt_number(v: float) -> str:
    return f"{v:g}" if isinstance(v, float) else str(v)


def build_parameters(prompt: str, negative: str, params: list[tuple[str, Any]]) -> str:
    """Compose the text: the prompt, an optional ``Negative prompt:`` line, one line of ``Key: value`` pairs.

    ``params`` is in A1111's order; entries whose value is None or "" are left out.
    """
    line = ", ".join(f"{k}: {quote(fmt_number(v))}" for k, v in params if v is not None and v != "")
    parts = [prompt]
    if negative:
        parts.append(NEGATIVE + negative)
    parts.append(line)
    return "\n".join(parts)


def parse_parameters(text: str) -> tuple[str, str, dict[str, str]]:
    """Split A1111 text into (prompt, negative prompt, {key: value}) — values unquoted, as strings."""
    lines = text.strip("\n").split("\n")
    params: dict[str, str] = {}
    if lines and _PARAM_LINE.match(lines[-1].strip()) and "Steps: " in lines[-1]:
        for m in _PARAM.finditer(lines[-1].strip()):
            params[m.group(1).strip()] = unquote(m.group(2))
        lines = lines[:-1]
    prompt_lines: list[str] = []
    negative_lines: list[str] = []
    target = prompt_lines
    for line in lines:
        if line.startswith(NEGATIVE) or line.strip() == NEGATIVE.strip():
            target = negative_lines
            line = line[len(NEGATIVE) :] if line.startswith(NEGATIVE) else ""
        target.append(line)
    return "\n".join(prompt_lines).strip(), "\n".join(negative_lines).strip(), params
