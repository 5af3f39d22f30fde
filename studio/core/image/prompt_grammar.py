"""The prompt's grammar, declared once: every reader of a prompt — the weights (A1111's ``(word:1.2)``), prompt
editing (``[a:b:0.5]``), Dynamic Prompts (``{a|b}``, ``__wildcard__``), the ComfyUI translation and the editor's
highlighter — takes its tokens from here, so they agree on what a tag, a ``BREAK`` or an escape is.

Escapes: a backslash makes the next character literal. The stages read a prompt in turn — dynamic prompts, then
editing, then weights — and each consumes the escapes of its own characters and passes the rest on, so
``\\{`` reaches the prompt as ``{`` and ``\\(`` reaches the encoder as ``(``."""

from __future__ import annotations

import re

NUMBER = r"[+-]?(?:\d+\.?\d*|\.\d+)"
DYNAMIC_ESCAPES = "{}|\\"  # what a backslash escapes for Dynamic Prompts
WEIGHT_ESCAPES = "()[]\\"  # … and for the weights

# <lora:name:weight> and LyCORIS' <lyco:name:weight> (A1111's extra networks); a weight of its own is optional
LORA_TAG = re.compile(rf"<(lora|lyco):([^:>]+)(?::({NUMBER}))?(?::[^>]*)?>", re.IGNORECASE)
BREAK_WORD = re.compile(r"\bBREAK\b")  # upper case, its own word: a new 75-token chunk
BREAK_SPLIT = re.compile(r"\s*\bBREAK\b\s*")
WILDCARD = re.compile(r"__([A-Za-z0-9_\-./* ]+?)__")  # a wildcard file's name, folders and * globs allowed
CHOICE = re.compile(r"(?<!\\)\{[^{}]*\}")  # {a|b}, {2$$a|b}, {0.5::a|b}
EDIT = re.compile(
    rf"(?<!\\)\[[^\[\]]*(?:\|[^\[\]]*|:[^\[\]]*:\s*{NUMBER}\s*|:\s*{NUMBER}\s*)\]"
)  # [a:b:n] [a:n] [a|b]
EDIT_LIKE = re.compile(
    r"(?<!\\)\[[^\[\]]*[:|][^\[\]]*\]"
)  # anything shaped like editing (a server refuses it)
DOWN_WEIGHT = re.compile(r"(?<!\\)\[([^\[\]:|]+)\]")  # [word]: ÷1.1
WEIGHT = re.compile(rf"(?<!\\)\([^()]*:\s*{NUMBER}\s*\)|(?<!\\)[()\[\]]")  # (word:1.2) and the bare brackets

# What the prompt editor colours, by role, in the order applied (a later rule paints over an earlier one).
HIGHLIGHTS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("weight", WEIGHT),
    ("edit", EDIT),
    ("choice", CHOICE),
    ("wildcard", WILDCARD),
    ("tag", LORA_TAG),
    ("break", BREAK_WORD),
)
