"""*Enhance prompt*: a language model (the Writer's: local, or a server) turns a short idea into a detailed image
prompt. A few-shot completion — it works with base models and instruct models alike, on this machine or on any
OpenAI-compatible server — in the style the image model likes: comma-separated tags for SD 1.x/2.x (as their
training captions were), descriptive sentences for SDXL, SD 3.x and FLUX.1."""

from __future__ import annotations

import re

TAGS = (
    ("a cat on a windowsill", "a ginger cat sitting on a sunny windowsill, soft morning light, potted plants, "
     "lace curtains, shallow depth of field, warm colours, highly detailed, photograph"),
    ("castle in the mountains", "an ancient stone castle on a snowy mountain peak, dramatic clouds, golden hour, "
     "pine forest, mist in the valley, epic scale, matte painting, intricate detail"),
    ("robot reading", "a small rusty robot reading a book in a cosy library, warm lamp light, dust motes, "
     "wooden shelves, whimsical, digital illustration, soft shading"),
)  # fmt: skip
PROSE = (
    ("a cat on a windowsill", "A ginger cat curls up on a sunlit windowsill beside potted herbs, morning light "
     "falling through lace curtains and warming its fur, photographed with a shallow depth of field."),
    ("castle in the mountains", "An ancient stone castle crowns a snowy mountain peak at golden hour, mist "
     "pooling in the pine valley below while storm clouds break around its towers, painted in an epic style."),
    ("robot reading", "A small, rust-streaked robot sits cross-legged in a cosy library, reading a worn book by "
     "the glow of a brass lamp as dust drifts through the warm light, in a whimsical illustrated style."),
)  # fmt: skip
SETTINGS = {"max_new_tokens": 120, "temperature": 0.7, "top_p": 0.9, "top_k": 0, "repetition_penalty": 1.15,
            "stop": ["\nIdea:", "\n\n"]}  # fmt: skip


def style_for(family: str) -> str:
    return "tags" if family in ("sd1", "sd2") else "prose"


def expansion_prompt(idea: str, family: str = "") -> str:
    """The few-shot text the model continues: examples of idea → prompt, then the user's idea."""
    examples = TAGS if style_for(family) == "tags" else PROSE
    head = "Short ideas rewritten as detailed prompts for an image generator.\n\n"
    shots = "".join(f"Idea: {i}\nPrompt: {p}\n\n" for i, p in examples)
    return f"{head}{shots}Idea: {' '.join(idea.split())}\nPrompt:"


def clean_expansion(text: str) -> str:
    """The model's continuation as a prompt: its first line that says something, without quotes, labels or a
    dangling comma ('' when it wrote nothing)."""
    line = next((ln.strip() for ln in text.split("\n") if ln.strip()), "")
    line = re.sub(r"^(Prompt|Idea)\s*:\s*", "", line).strip().strip('"“”').strip()
    return line.rstrip(", ;")
