"""Instruct and chat models used properly: a conversation (system prompt, turns) laid out in the model's own chat
template, or — for a model without one — in a named instruct format (ChatML, Llama 3, Mistral, Alpaca, Vicuna, as
SillyTavern and KoboldCpp name them); and a story's Continue asked of such a model as a request to continue."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class InstructFormat:
    label: str
    system: str  # "{}" is the system prompt
    user: str  # "{}" is the turn
    assistant: str  # an assistant's turn; its "{}" is left open for the model to write
    stop: tuple[str, ...]  # where the model's turn ends


FORMATS: dict[str, InstructFormat] = {
    "chatml": InstructFormat("ChatML (Qwen, many fine-tunes)", "<|im_start|>system\n{}<|im_end|>\n",
                             "<|im_start|>user\n{}<|im_end|>\n", "<|im_start|>assistant\n{}<|im_end|>\n",
                             ("<|im_end|>", "<|im_start|>")),
    "llama3": InstructFormat("Llama 3", "<|start_header_id|>system<|end_header_id|>\n\n{}<|eot_id|>",
                             "<|start_header_id|>user<|end_header_id|>\n\n{}<|eot_id|>",
                             "<|start_header_id|>assistant<|end_header_id|>\n\n{}<|eot_id|>", ("<|eot_id|>",)),
    "mistral": InstructFormat("Mistral", "{}\n\n", "[INST] {} [/INST]", "{}</s>", ("</s>", "[INST]")),
    "alpaca": InstructFormat("Alpaca", "{}\n\n", "### Instruction:\n{}\n\n", "### Response:\n{}\n\n",
                             ("### Instruction:",)),
    "vicuna": InstructFormat("Vicuna", "{}\n\n", "USER: {}\n", "ASSISTANT: {}</s>\n", ("USER:", "</s>")),
}  # fmt: skip
INSTRUCT_FORMATS = ("auto", *FORMATS)
CONTINUE_REQUEST = ("Continue the story below from where it stops, in the same voice and tense. Write only the "
                    "continuation.\n\n{}")  # fmt: skip


def continue_messages(story: str, system: str) -> list[tuple[str, str]]:
    """A Continue asked of an instruct model: the system prompt, then the story as a request to continue it."""
    return [*([("system", system)] if system.strip() else []), ("user", CONTINUE_REQUEST.format(story))]


def lay_out(messages: list[tuple[str, str]], fmt: str) -> str:
    """A conversation in a named instruct format, the assistant's next turn left open."""
    f = FORMATS[fmt]
    pieces = []
    for role, text in messages:
        if role == "system":
            pieces.append(f.system.format(text.strip()))
        elif role == "user":
            pieces.append(f.user.format(text.strip()))
        else:
            pieces.append(f.assistant.format(text.strip()))
    opening = f.assistant.split("{}")[0]
    return "".join(pieces) + opening


def spoken(spec: Any) -> str:
    """What the story's context is chosen against: the story before the cursor, or a chat's last turns."""
    return "\n".join(text for _, text in spec.messages[-6:]) if spec.messages else spec.prompt


def background(assembled: Any) -> str:
    """The story's context for a conversation: its Memory, Lorebook entries and notes (the story itself apart)."""
    if assembled is None:
        return ""
    return "\n\n".join(
        p.text for p in assembled.parts if p.label not in ("Story", "Author's Note") and p.text
    )


def with_system(turns: list[tuple[str, str]], system: str, known: str = "") -> list[tuple[str, str]]:
    """The turns with the system prompt first (and what the story's context adds) unless one is there."""
    text = "\n\n".join(
        x for x in (system.strip(), f"What you know of the story:\n{known}" if known else "") if x
    )
    if text and not any(role == "system" for role, _ in turns):
        return [("system", text), *turns]
    return turns
