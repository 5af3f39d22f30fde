"""Text jobs on an OpenAI-compatible server — llama.cpp's server, Ollama, LM Studio, vLLM, koboldcpp,
``transformers serve`` or a hosted one — through the same queue and events as a local model.

*Continue* sends the raw context (Memory, Lorebook, the story with the Author's Note, assembled as for a local
model) to ``/v1/completions``; *Rewrite* and the chat use ``/v1/chat/completions``. Tokens stream as server-sent
events; *Stop* closes the stream at once. Sampling settings map to the API's fields; those the API has no field for
are sent under the names llama.cpp, vLLM and Ollama take (``top_k``, ``min_p``, ``typical_p``,
``repetition_penalty``), and said so — a setting no server takes is said to be not applied, never silently
dropped. Token probabilities are read when the server returns them (``logprobs``).
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from studio.core.io.untrusted import integer, lst, number, obj, text
from studio.core.jobs.cancel import CancelToken
from studio.core.jobs.errors import ErrorKind, JobCancelled, StudioError
from studio.core.jobs.events import Event, Loading, Note, Token
from studio.core.jobs.servers import Endpoint
from studio.core.text.instruct import background, spoken
from studio.core.text.recipe import check_write
from studio.core.text.story_notes import Similar
from studio.core.text.text_specs import ContextSpec, TextResult, TokenProb, WriteSpec
from studio.core.text.writer_context import assemble
from studio.remote.http import ServerError, get_json, stream_events

Emit = Callable[[Event], None]
DEFAULT_CONTEXT = 4096  # tokens, when the server does not say
CHARS_PER_TOKEN = 4  # without the server's tokenizer the context is measured approximately
MAX_PROBS_PER_EVENT = 64  # a streamed event carries one token's probabilities, or a few
MAX_ALTERNATIVES = 20  # per token (the APIs allow 5 or 20)
OVERRUN = (
    16  # pieces past max_new_tokens a server may send before Studio stops reading (pieces are not tokens)
)


def approx_tokens(s: str) -> int:
    return 0 if not s else max(1, math.ceil(len(s) / CHARS_PER_TOKEN))


def list_models(endpoint: Endpoint) -> list[dict[str, Any]]:
    """The server's models (``GET /v1/models``): ``[{"id": …, "context": n or None}]``."""
    data = get_json(endpoint, "/models")
    out = []
    for m in lst(obj(data).get("data"))[:1000]:
        m = obj(m)
        mid = text(m.get("id"))
        if mid:
            ctx = next((integer(m.get(k)) for k in ("max_model_len", "context_length", "max_context_length")
                        if integer(m.get(k))), None)  # fmt: skip
            out.append({"id": mid[:500], "context": ctx})
    return out


EXTENSIONS = ("top_k", "min_p", "typical_p", "repetition_penalty", "dry_multiplier", "dry_base", "dry_allowed_length",
              "dry_sequence_breakers", "xtc_probability", "xtc_threshold", "logit_bias", "json_schema",
              "response_format", "grammar")  # fmt: skip


def _sampling(spec: WriteSpec) -> tuple[dict[str, Any], list[str], list[str]]:
    """(request fields, settings sent as extensions, settings not applied)."""
    body: dict[str, Any] = {
        "max_tokens": spec.max_new_tokens,
        "temperature": spec.temperature,
        "seed": spec.seed,
    }
    if spec.top_p < 1.0:
        body["top_p"] = spec.top_p
    if spec.stop:
        body["stop"] = list(spec.stop)[:4]  # OpenAI takes at most four
    extensions: list[str] = []
    for name, value, off in (("top_k", spec.top_k, 0), ("min_p", spec.min_p, 0.0), ("typical_p", spec.typical_p, 1.0),
                             ("repetition_penalty", spec.repetition_penalty, 1.0)):  # fmt: skip
        if value != off:
            body[name] = value
            extensions.append(name.replace("_", "-"))
    extensions += _controls(spec, body)
    not_applied = ["no-repeat n-gram size"] if spec.no_repeat_ngram_size else []
    if spec.banned:
        not_applied.append("banned phrases (Studio rolls them back on this machine only)")
    if len(spec.stop) > 4:
        not_applied.append(f"stop strings after the fourth ({len(spec.stop) - 4})")
    return body, extensions, not_applied


def chat_messages(spec: WriteSpec, story: str, known: str = "") -> list[dict[str, str]]:
    """The turns sent to a server: a chat's (with what the story's context calls up), a rewrite request, or
    (instruct) the story as a request to continue it — the system prompt first."""
    from studio.core.text.instruct import continue_messages, with_system

    if spec.messages:
        turns = list(spec.messages)
    elif spec.instruction:
        turns = [("user", f"Rewrite the following passage: {spec.instruction.strip()}. Reply with the rewritten "
                          f"passage only.\n\n{spec.prompt}")]  # fmt: skip
    else:
        turns, known = continue_messages(story, ""), ""  # the story already holds its context
    return [
        {"role": r, "content": t} for r, t in with_system(turns, spec.system, known if spec.messages else "")
    ]


def checked(spec: WriteSpec, results: list[TextResult], assembled: Any) -> list[TextResult]:
    """The results with the context they were written from; a server's answer to a JSON schema checked before it
    is accepted (a server may ignore the schema)."""
    if spec.json_schema:
        from studio.core.text.recipe import schema_problem

        for result in results:
            if why := schema_problem(json.loads(spec.json_schema), result.text):
                raise StudioError(ErrorKind.INVALID_INPUT, f"The server's answer was not accepted: {why}.",
                                  field="json_schema")  # fmt: skip
    return [replace(r, context=assembled) for r in results]


def _controls(spec: WriteSpec, body: dict[str, Any]) -> list[str]:
    """DRY, XTC, phrase bias, a JSON schema and a grammar under the names llama.cpp, KoboldCpp and
    text-generation-webui take (the answer to a schema is checked here either way); the names sent."""
    from studio.core.text.recipe import parse_bias
    from studio.core.text.text_specs import DRY_BREAKERS

    sent = []
    if spec.dry_multiplier > 0:
        body.update(dry_multiplier=spec.dry_multiplier, dry_base=spec.dry_base,
                    dry_allowed_length=spec.dry_allowed_length, dry_sequence_breakers=list(DRY_BREAKERS))  # fmt: skip
        sent.append("DRY")
    if spec.xtc_probability > 0:
        body.update(xtc_probability=spec.xtc_probability, xtc_threshold=spec.xtc_threshold)
        sent.append("XTC")
    if spec.bias:
        body["logit_bias"] = [[text, value if value > -100 else False]
                              for text, value in (b for b in map(parse_bias, spec.bias) if not isinstance(b, str))]  # fmt: skip
        sent.append("logit-bias (as llama.cpp's [text, bias] pairs)")
    if spec.json_schema:
        schema = json.loads(spec.json_schema)
        body["json_schema"] = schema
        body["response_format"] = {"type": "json_schema", "json_schema": {"name": "answer", "schema": schema}}
        sent.append("json-schema")
    if spec.grammar:
        body["grammar"] = spec.grammar
        sent.append("grammar (llama.cpp's GBNF)")
    return sent


def _probs_completion(lp: Any) -> list[TokenProb]:
    """``choices[0].logprobs`` of /v1/completions: parallel lists of tokens, their logprobs, top alternatives."""
    lp = obj(lp)
    tokens, values, tops = lst(lp.get("tokens")), lst(lp.get("token_logprobs")), lst(lp.get("top_logprobs"))
    out = []
    for i, tok in enumerate(tokens[:MAX_PROBS_PER_EVENT]):
        v = number(values[i]) if i < len(values) else None
        if v is None:
            continue
        alts = obj(tops[i]) if i < len(tops) else {}
        pairs = ((text(k)[:200], number(x)) for k, x in list(alts.items())[:MAX_ALTERNATIVES])
        ranked = sorted(((k, x) for k, x in pairs if x is not None), key=lambda kv: -(kv[1] or 0))
        out.append(TokenProb(text(tok), v, tuple((k, float(x or 0.0)) for k, x in ranked)))
    return out


def _probs_chat(lp: Any) -> list[TokenProb]:
    """``choices[0].logprobs.content`` of /v1/chat/completions: one object per token."""
    out = []
    for item in lst(obj(lp).get("content"))[:MAX_PROBS_PER_EVENT]:
        item = obj(item)
        v = number(item.get("logprob"))
        if v is None:
            continue
        alts = [
            (text(obj(a).get("token"))[:200], number(obj(a).get("logprob")))
            for a in lst(item.get("top_logprobs"))[:MAX_ALTERNATIVES]
        ]
        out.append(TokenProb(text(item.get("token")), v, tuple((t, x) for t, x in alts if x is not None)))
    return out


class OpenAIText:
    """The handler of text jobs whose ``engine`` is a server. ``endpoint(base)`` gives the key and TLS consent
    the user saved for that server (keys come from the system keyring, or the CLI's ``--api-key-env``)."""

    def __init__(self, endpoint: Callable[[str], Endpoint]):
        self.endpoint = endpoint
        self._contexts: dict[tuple[str, str], int] = {}
        self.similar: Similar | None = None  # the notes compared by meaning on this machine (the runtime's)

    def context_length(self, endpoint: Endpoint, model: str) -> int:
        key = (endpoint.base, model)
        if key not in self._contexts:
            try:
                found = next((m["context"] for m in list_models(endpoint) if m["id"] == model), None)
            except ServerError:
                found = None
            self._contexts[key] = found or DEFAULT_CONTEXT
        return self._contexts[key]

    def preview_context(self, spec: ContextSpec, cancel: CancelToken, emit: Emit) -> list[Any]:
        ep = self.endpoint(spec.engine)
        budget = max(1, self.context_length(ep, spec.model) - spec.max_new_tokens)
        assembled = assemble(spec.story, spec.context, approx_tokens, budget, self.similar)
        note = f"Counted approximately (about {CHARS_PER_TOKEN} characters a token): the server keeps its tokenizer."
        return [type(assembled)(**{**assembled.__dict__, "notes": (*assembled.notes, note)})]

    def write(self, spec: WriteSpec, cancel: CancelToken, emit: Emit) -> list[TextResult]:
        check_write(spec)
        ep = self.endpoint(spec.engine)
        body, extensions, not_applied = _sampling(spec)
        if extensions:
            emit(
                Note(
                    text=f"Sent as extensions that llama.cpp, vLLM and Ollama take: {', '.join(extensions)}."
                )
            )
        if not_applied:
            emit(Note(text=f"Not applied on a server: {', '.join(not_applied)}."))
        body["model"] = spec.model
        prompt, assembled = spec.prompt, None
        if spec.context is not None and not spec.instruction:
            budget = max(1, self.context_length(ep, spec.model) - spec.max_new_tokens)
            assembled = assemble(spoken(spec), spec.context, approx_tokens, budget, self.similar)
            prompt = assembled.prompt
            for note in assembled.notes:
                emit(Note(text=note))
        chat = bool(spec.messages or spec.instruction or spec.instruct)
        if chat:  # the server lays the turns out in its own template
            body["messages"] = chat_messages(spec, prompt, background(assembled))
            if spec.logprobs:
                body.update(logprobs=True, top_logprobs=spec.logprobs)
            path = "/chat/completions"
        else:
            body["prompt"] = prompt
            if spec.logprobs:
                body["logprobs"] = min(spec.logprobs, 5)  # the completions API's limit
            path = "/completions"
        emit(Loading(what=f"Asking {ep.where()} ({spec.model})…"))
        try:
            return checked(spec, self._stream(spec, ep, path, body, chat, cancel, emit), assembled)
        except ServerError as e:
            sent = [k for k in EXTENSIONS if k in body]
            if (
                e.status not in (400, 422)
                or not sent
                or not any(
                    k in e.details or "unexpected" in e.details.lower() or "unrecognized" in e.details.lower()
                    for k in sent
                )
            ):
                raise
        # a strict server refused the extension fields: ask again without them, and say they were not applied
        emit(
            Note(
                text=f"This server does not take {', '.join(k.replace('_', '-') for k in sent)}: not applied."
            )
        )
        for k in sent:
            body.pop(k)
        return checked(spec, self._stream(spec, ep, path, body, chat, cancel, emit), assembled)

    def _stream(self, spec: WriteSpec, ep: Endpoint, path: str, body: dict[str, Any], chat: bool,
                cancel: CancelToken, emit: Emit) -> list[TextResult]:  # fmt: skip
        pieces: list[str] = []
        probs: list[TokenProb] = []
        reason = "eos"
        usage: dict[str, Any] = {}
        started = time.perf_counter()
        try:
            for event in stream_events(ep, path, body, cancel):
                choice = obj(lst(obj(event).get("choices"))[0]) if lst(obj(event).get("choices")) else {}
                piece = text(obj(choice.get("delta")).get("content")) if chat else text(choice.get("text"))
                if piece:
                    pieces.append(piece)
                    emit(Token(text=piece))
                if choice.get("logprobs") and len(probs) <= spec.max_new_tokens + OVERRUN:
                    probs += (
                        _probs_chat(choice["logprobs"]) if chat else _probs_completion(choice["logprobs"])
                    )
                if len(pieces) > spec.max_new_tokens + OVERRUN:  # a server that does not stop: Studio does
                    reason = "length"
                    emit(
                        Note(
                            text=f"The server wrote past {spec.max_new_tokens} tokens; Studio stopped reading."
                        )
                    )
                    break
                if (finish := text(choice.get("finish_reason"))) and finish != "null":
                    reason = {"length": "length", "stop": "stop" if spec.stop else "eos"}.get(finish, "eos")
                usage = obj(event).get("usage") or usage
        except JobCancelled:
            raise
        except StudioError:
            raise
        except Exception as e:  # noqa: BLE001 - an answer of an unexpected shape
            raise StudioError(ErrorKind.IO, f"The server at {ep.where()} sent an answer Studio cannot read.",
                              repr(e), field="engine") from e  # fmt: skip
        seconds = time.perf_counter() - started
        if spec.logprobs and not probs and pieces:
            emit(Note(text="This server does not return token probabilities (logprobs)."))
        probs = probs[: spec.max_new_tokens + OVERRUN]
        tokens = integer(obj(usage).get("completion_tokens")) or len(probs) or len(pieces)
        prompt_tokens = integer(obj(usage).get("prompt_tokens")) or 0
        return [TextResult("".join(pieces), tokens, seconds, reason, prompt_tokens, probs=tuple(probs),
                           engine=ep.base)]  # fmt: skip
