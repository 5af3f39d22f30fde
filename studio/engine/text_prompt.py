"""A text job's prompt as token ids: the story with its Memory, Lorebook and Author's Note assembled within the
model's context, a chat through the model's chat template, or a request to rewrite a passage — oldest tokens left
out, and said, where it is longer than the context allows."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from studio.core.jobs.errors import ErrorKind, StudioError
from studio.core.jobs.events import Event, Note
from studio.core.text.instruct import FORMATS, background, continue_messages, lay_out, spoken, with_system
from studio.core.text.story_notes import Similar
from studio.core.text.text_specs import WriteSpec

if TYPE_CHECKING:  # (only named: loading a model is not this module's work)
    from studio.engine.text_loading import LoadedText

Emit = Callable[[Event], None]


def prompt_ids(
    loaded: LoadedText, spec: WriteSpec, emit: Emit, similar: Similar | None = None
) -> tuple[list[int], int, Any]:
    """The prompt's token ids (the story with its Memory, Lorebook, notes and Author's Note; a chat; a rewrite
    request), its oldest tokens left out where it is longer than the model's context; how many were; and the
    assembled context (None without one). ``similar`` chooses the notes by meaning."""
    tok = loaded.tokenizer
    room = loaded.context_length - spec.max_new_tokens
    if room < 1:
        raise StudioError(
            ErrorKind.INVALID_INPUT,
            f"Max new tokens must be below the model's context length ({loaded.context_length}).",
            field="max_new_tokens",
        )
    prompt = spec.prompt
    assembled = None
    if spec.context is not None:
        from studio.core.text.writer_context import assemble

        count = lambda t: len(tok(t)["input_ids"]) if t else 0  # noqa: E731
        assembled = assemble(spoken(spec), spec.context, count, room, similar)
        prompt = assembled.prompt
        for note in assembled.notes:
            emit(Note(text=note))
    if spec.messages:
        ids = chat_prompt(tok, spec, emit, background(assembled))
    elif spec.instruction:
        ids = rewrite_prompt(tok, spec, emit)
    elif spec.instruct:
        ids = chat_prompt(tok, replace(spec, messages=tuple(continue_messages(prompt, spec.system))), emit)
    else:
        ids = tok(prompt, add_special_tokens=True)["input_ids"] if prompt else []
    if not ids:
        start = tok.bos_token_id if tok.bos_token_id is not None else tok.eos_token_id
        ids = [start]
    trimmed = max(0, len(ids) - room)
    if trimmed:
        ids = ids[trimmed:]
        emit(
            Note(
                text=f"The prompt is longer than the model's context: its first {trimmed} tokens were left "
                f"out ({len(ids)} kept, {spec.max_new_tokens} left for new text)."
            )
        )
    return list(ids), trimmed, assembled


def chat_prompt(tok: Any, spec: WriteSpec, emit: Emit, known: str = "") -> list[int]:
    """A conversation in the model's chat template — or in the instruct format chosen, for a model without one (a
    plain transcript when neither is there, said); the system prompt first (with ``known``: the story's Memory,
    Lorebook entries and notes the conversation calls up) when it is not already."""
    turns = with_system(list(spec.messages), spec.system, known)
    if spec.instruct_format in FORMATS:
        return list(tok(lay_out(turns, spec.instruct_format), add_special_tokens=False)["input_ids"])
    messages = [{"role": role, "content": text} for role, text in turns]
    if getattr(tok, "chat_template", None):
        ids = tok.apply_chat_template(messages, add_generation_prompt=True, tokenize=True)
        return list(ids["input_ids"] if hasattr(ids, "keys") else ids)
    emit(
        Note(
            text="This model has no chat template: the chat is written out as a plain transcript for it to "
            "continue."
        )
    )
    names = {"user": "User", "assistant": "Assistant", "system": "System"}
    transcript = "".join(f"{names.get(role, role)}: {text.strip()}\n" for role, text in turns)
    return tok(transcript + "Assistant:", add_special_tokens=True)["input_ids"]


def rewrite_prompt(tok: Any, spec: WriteSpec, emit: Emit) -> list[int]:
    """Instruct and chat models get the request through their own chat template; base models get a plain
    completion prompt (which they follow loosely), and the user is told so."""
    ask = (
        f"Rewrite the following passage: {spec.instruction.strip()}. Reply with the rewritten passage "
        f"only.\n\n{spec.prompt}"
    )
    if getattr(tok, "chat_template", None):
        ids = tok.apply_chat_template(
            [{"role": "user", "content": ask}], add_generation_prompt=True, tokenize=True
        )
        if isinstance(ids, dict) or hasattr(ids, "keys"):
            ids = ids["input_ids"]
        return list(ids)
    emit(
        Note(
            text="This model has no chat template (a base model): the rewrite is asked as plain text to "
            "continue, which such models follow only loosely."
        )
    )
    plain = f"{spec.prompt}\n\nThe same passage, rewritten ({spec.instruction.strip()}):\n\n"
    return tok(plain, add_special_tokens=True)["input_ids"]


def reusable_prefix(held: list[int], ids: list[int]) -> int:
    """How many of the prompt's first tokens a KV cache holding ``held`` already has: their shared prefix, less one
    when the prompt is all of it (at least one token is fed, for the next token's logits)."""
    n = 0
    for a, b in zip(held, ids, strict=False):
        if a != b:
            break
        n += 1
    return max(0, min(n, len(ids) - 1))
