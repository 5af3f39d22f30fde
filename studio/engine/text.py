"""The text job handler: a causal language model continues a prompt, token events stream out as it writes."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from studio.core.jobs.cancel import CancelToken
from studio.core.jobs.errors import ErrorKind, JobCancelled, StudioError
from studio.core.jobs.events import Event, Loading, Note, Token
from studio.core.text.recipe import check_write
from studio.core.text.text_specs import ContextSpec, TextResult, TokenProb, WriteSpec
from studio.engine.devices import Placement, choose_placement, free_device_memory
from studio.engine.pipelines import _LIBRARY_LOCK, PICKLE_SUFFIXES

Emit = Callable[[Event], None]
_REPO_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")


def _bad(kind: ErrorKind, message: str) -> StudioError:
    return StudioError(kind, message, field="model")


def resolve_text_model(model: str) -> Path:
    """A local transformers folder (or a Hugging Face repo id already in the cache), checked before loading."""
    if not model:
        raise _bad(ErrorKind.MODEL_NOT_FOUND, "No text model is chosen: pick a transformers model folder.")
    path = Path(model).expanduser()
    if not path.exists() and _REPO_ID.match(model):
        from huggingface_hub import snapshot_download
        from huggingface_hub.errors import LocalEntryNotFoundError

        try:
            path = Path(snapshot_download(model, local_files_only=True))
        except (LocalEntryNotFoundError, OSError, ValueError) as e:
            raise _bad(
                ErrorKind.MODEL_NOT_FOUND,
                f"{model} is not in the Hugging Face cache on this machine (Studio works offline first). "
                "Download it from the Models room, or pick a model folder.",
            ) from e
    if not path.exists():
        raise _bad(
            ErrorKind.MODEL_NOT_FOUND,
            f"The text model {path} does not exist. Pick a transformers model folder.",
        )
    if path.is_file() and path.suffix.lower() == ".gguf":
        return _check_gguf(path)
    if not path.is_dir() or not (path / "config.json").is_file():
        raise _bad(
            ErrorKind.MODEL_INVALID,
            f"{path.name} is not a transformers model folder (it has no config.json).",
        )
    try:
        config = json.loads((path / "config.json").read_text("utf-8"))
    except (OSError, ValueError) as e:
        raise _bad(ErrorKind.MODEL_INVALID, f"{path / 'config.json'} is unreadable: {e}.") from e
    if "model_index.json" in {p.name for p in path.iterdir()} or "_class_name" in config:
        raise _bad(
            ErrorKind.MODEL_INVALID, f"{path.name} is an image model; the Writer needs a language model."
        )
    if not any(path.glob("*.safetensors")):
        if any(p.suffix in PICKLE_SUFFIXES for p in path.iterdir()):
            raise _bad(
                ErrorKind.MODEL_INVALID,
                f"{path.name} has only pickled weights (.bin/.pt), which can run arbitrary code when loaded. "
                "Use a safetensors version of this model.",
            )
        raise _bad(ErrorKind.MODEL_INVALID, f"{path.name} has no weights (.safetensors files).")
    return path


def _check_gguf(path: Path) -> Path:
    """A GGUF file (llama.cpp's format): transformers reads it and dequantizes it to full precision (then
    Studio's own int8/int4 applies as for any model)."""
    try:
        import gguf  # noqa: F401
    except ImportError as e:
        raise _bad(
            ErrorKind.MODEL_INVALID,
            f"{path.name} is a GGUF file; reading it needs the gguf package (pip install 'studio[gguf]').",
        ) from e
    from studio.core.io.gguf_header import GGUFError, read_gguf_header

    try:  # its header read with bounds first: the gguf reader behind transformers has none
        read_gguf_header(path)
    except GGUFError as e:
        raise _bad(ErrorKind.MODEL_INVALID, f"{e}.") from e
    return path


def _EmitStreamer(tok: Any, on_text: Callable[[str, int], None]) -> Any:
    """A transformers TextStreamer (word-boundary and multi-byte safe decoding) that hands each finished piece of
    text to ``on_text`` instead of printing it, with the number of tokens written so far (a piece is often several
    tokens, or a token part of a word)."""
    from transformers import TextStreamer

    class EmitStreamer(TextStreamer):
        written = 0

        def put(self, value: Any) -> None:
            if not (self.skip_prompt and self.next_tokens_are_prompt):
                self.written += int(value.numel())
            super().put(value)

        def on_finalized_text(self, text: str, stream_end: bool = False) -> None:
            if text:
                on_text(text, self.written)

    return EmitStreamer(tok, skip_prompt=True, skip_special_tokens=True)


def _cache_keyword(lm: Any) -> str:
    """generate()'s KV-cache argument: ``cache`` in recent transformers (``past_key_values`` is deprecated there and
    warns), ``past_key_values`` before."""
    import transformers

    major, minor = (int(x) for x in transformers.__version__.split(".")[:2])
    return "cache" if (major, minor) >= (5, 20) else "past_key_values"


@dataclass
class LoadedText:
    path: str
    placement: Placement
    model: Any
    tokenizer: Any
    quantize: str = "none"  # what was asked ("auto" included): the cache key
    quantized: str = "none"  # what was done
    weights_bytes: int = 0
    lora: str = ""  # a text LoRA attached (its path)

    @property
    def context_length(self) -> int:
        c = self.model.config
        for name in ("max_position_embeddings", "n_positions", "max_sequence_length", "seq_length"):
            value = getattr(c, name, None)
            if isinstance(value, int) and value > 0:
                return value
        return 2048


class TextEngine:
    """Runs text jobs on one device; holds one language model. Owned by the runner thread."""

    def __init__(
        self,
        *,
        placement: Callable[[], Placement] | None = None,
        make_room: Callable[[], None] = lambda: None,
    ):
        self._placement = placement or choose_placement
        self.make_room = make_room  # frees the image model before a load
        self._loaded: LoadedText | None = None
        self._tokenizer: tuple[str, Any, int] | None = None
        self._cache: tuple[list[int], Any] | None = None  # (token ids it holds, the KV cache) of the last job

    def _cache_for(self, ids: list[int]) -> tuple[Any, int]:
        """A KV cache holding the longest prefix of ``ids`` that the last job already encoded (cropped to it),
        and how many tokens that saves; a fresh cache when nothing is shared."""
        from transformers import DynamicCache

        if self._cache is not None:
            old_ids, cache = self._cache
            n = 0
            for a, b in zip(old_ids, ids, strict=False):
                if a != b:
                    break
                n += 1
            n = min(n, len(ids) - 1)  # at least one prompt token must be processed to get the next logits
            if n > 0:
                extra = cache.get_seq_length() - n
                if extra > 0:
                    cache.crop(-extra)  # (transformers counts what to remove)
                return cache, n
        return DynamicCache(), 0

    def clear(self) -> None:
        self._cache = None
        if self._loaded is not None:
            device = self._loaded.placement.device
            self._loaded = None
            free_device_memory(device)

    def load(self, model: str, emit: Emit, quantize: str = "auto", lora: str = "") -> LoadedText:
        import torch

        from studio.core.models.memory_plan import system_memory
        from studio.core.text.text_memory import parameters_of, plan
        from studio.engine.precision import cpu_caps
        from studio.engine.quantize import bnb_config, can_quantize, model_bytes, quantize_cpu

        path = resolve_text_model(model)
        placement = self._placement()
        cur = self._loaded
        if (
            cur is not None
            and cur.path == str(path)
            and cur.placement == placement
            and cur.quantize == quantize
            and cur.lora == lora
        ):
            return cur
        self.clear()
        self.make_room()
        device = placement.device.split(":")[0]
        gguf = path.suffix.lower() == ".gguf"
        bf16 = device == "cpu" and cpu_caps().bf16
        dtype_bytes = torch.tensor([], dtype=placement.dtype).element_size()
        params = _gguf_parameters(path) if gguf else parameters_of(path)
        free = device_free_memory(placement.device) if device != "cpu" else system_memory()[1]
        q = plan(quantize, params, dtype_bytes, free, can_quantize(device) and device != "mps")
        emit(Loading(what=f"Loading {path.name}" + (f" ({q.reason})…" if q.reason else "…")))
        if gguf:
            emit(
                Note(
                    text=f"{path.name} is a GGUF file: transformers dequantizes its weights to full precision "
                    "on loading (its own 4/5/8-bit blocks are not kept), then Studio's int8/int4 applies as for "
                    "any model."
                )
            )
        if not q.fits:
            raise StudioError(ErrorKind.OUT_OF_MEMORY, f"{path.name} does not fit: {q.reason}", field="model")
        if lora and q.mode != "none":
            raise StudioError(ErrorKind.INVALID_INPUT, f"A LoRA needs {path.name}'s full weights, and they would not "
                              f"fit ({q.reason}): choose a smaller base model.", field="lora")  # fmt: skip
        dtype = torch.bfloat16 if q.mode != "none" and bf16 else placement.dtype
        extra: dict[str, Any] = {}
        if q.mode != "none" and device == "cuda":
            extra["quantization_config"] = bnb_config(q.mode, placement.dtype)
        with _LIBRARY_LOCK:
            from transformers import AutoModelForCausalLM, AutoTokenizer
            from transformers.utils import logging as hf_logging

            hf_logging.disable_progress_bar()  # no "Loading weights" bars on the user's terminal

            folder, where = (
                (path.parent, {"gguf_file": path.name}) if gguf else (path, {"use_safetensors": True})
            )
            try:
                tok = AutoTokenizer.from_pretrained(folder, local_files_only=True, **where)
                lm = AutoModelForCausalLM.from_pretrained(
                    folder, local_files_only=True, dtype=dtype, **where, **extra
                )
            except ImportError as e:
                raise _bad(
                    ErrorKind.MODEL_INVALID, f"{path.name} needs a package that is not installed: {e}"
                ) from e
            except (OSError, ValueError, KeyError, RuntimeError) as e:
                raise _bad(
                    ErrorKind.MODEL_INVALID, f"{path.name} could not be loaded as a language model: {e}"
                ) from e
        if "quantization_config" not in extra:
            lm = lm.to(placement.device)  # type: ignore[arg-type]
        lm = lm.eval()
        if lora:
            from studio.engine.text_lora import attach

            attached = attach(lm, lora)
            emit(Note(text=f"With the LoRA {attached.name} (made on {attached.base})."))
        if q.mode != "none" and device == "cpu":
            done = quantize_cpu(lm, q.mode, bf16)
            emit(
                Note(
                    text=f"{path.name}: {done.layers} layers as {q.mode} weight-only — "
                    f"{_mb(done.bytes_after)} of weights instead of {_mb(q.full)} at full precision."
                )
            )
        weights = model_bytes(lm)
        self._loaded = LoadedText(str(path), placement, lm, tok, quantize, q.mode, weights, lora)
        return self._loaded

    def tokenizer(self, model: str) -> Any:
        """The model's tokenizer alone (cheap), for counting."""
        path = resolve_text_model(model)
        if self._loaded is not None and self._loaded.path == str(path):
            return self._loaded.tokenizer, self._loaded.context_length
        if self._tokenizer is None or self._tokenizer[0] != str(path):
            gguf = path.suffix.lower() == ".gguf"
            folder, where = (path.parent, {"gguf_file": path.name}) if gguf else (path, {})
            with _LIBRARY_LOCK:
                from transformers import AutoConfig, AutoTokenizer

                tok = AutoTokenizer.from_pretrained(folder, local_files_only=True, **where)
                config = AutoConfig.from_pretrained(folder, local_files_only=True, **where)
            length = next(
                (
                    v
                    for n in ("max_position_embeddings", "n_positions", "max_sequence_length")
                    if isinstance(v := getattr(config, n, None), int) and v > 0
                ),
                2048,
            )
            self._tokenizer = (str(path), tok, length)
        return self._tokenizer[1], self._tokenizer[2]

    def preview_context(self, spec: ContextSpec, cancel: CancelToken, emit: Emit) -> list[Any]:
        from studio.core.text.writer_context import assemble

        tok, length = self.tokenizer(spec.model)
        budget = max(1, length - spec.max_new_tokens)
        return [assemble(spec.story, spec.context, lambda t: len(tok(t)["input_ids"]) if t else 0, budget)]

    @staticmethod
    def _chat_prompt(tok: Any, spec: WriteSpec, emit: Emit) -> list[int]:
        messages = [{"role": role, "content": text} for role, text in spec.messages]
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
        transcript = "".join(f"{names.get(role, role)}: {text.strip()}\n" for role, text in spec.messages)
        return tok(transcript + "Assistant:", add_special_tokens=True)["input_ids"]

    @staticmethod
    def _rewrite_prompt(tok: Any, spec: WriteSpec, emit: Emit) -> list[int]:
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

    def write(self, spec: WriteSpec, cancel: CancelToken, emit: Emit) -> list[TextResult]:
        check_write(spec)
        cancel.raise_if_cancelled()
        try:
            return [self._write(spec, cancel, emit)]
        except (StudioError, JobCancelled):
            raise
        except Exception as e:
            from studio.engine.errors import translate

            raise translate(e) from e

    def _write(self, spec: WriteSpec, cancel: CancelToken, emit: Emit) -> TextResult:
        import torch
        from transformers import StoppingCriteria, StoppingCriteriaList

        loaded = self.load(spec.model, emit, spec.quantize, spec.lora)
        cancel.raise_if_cancelled()
        tok, lm = loaded.tokenizer, loaded.model
        room = loaded.context_length - spec.max_new_tokens
        if room < 1:
            raise StudioError(
                ErrorKind.INVALID_INPUT,
                f"Max new tokens must be below the model's context length ({loaded.context_length}).",
                field="max_new_tokens",
            )
        prompt = spec.prompt
        if spec.context is not None:
            from studio.core.text.writer_context import assemble

            assembled = assemble(
                spec.prompt, spec.context, lambda t: len(tok(t)["input_ids"]) if t else 0, room
            )
            prompt = assembled.prompt
            for note in assembled.notes:
                emit(Note(text=note))
        if spec.messages:
            ids = self._chat_prompt(tok, spec, emit)
        elif spec.instruction:
            ids = self._rewrite_prompt(tok, spec, emit)
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
        input_ids = torch.tensor([ids], device=loaded.placement.device)

        class _Cancel(StoppingCriteria):
            def __call__(self, input_ids: Any, scores: Any, **kwargs: Any) -> Any:
                return torch.full(
                    (input_ids.shape[0],), cancel.cancelled, dtype=torch.bool, device=input_ids.device
                )

        pieces: list[str] = []

        def piece(text: str, written: int = 0) -> None:
            pieces.append(text)
            emit(Token(text=text, tokens=written))

        # Streamed from the runner thread itself. A TextIteratorStreamer needs generate() on a second thread, and
        # a second thread gets its own OpenMP pool: on a 2-core CPU the two pools fight and decoding runs at
        # 40 % of the speed (tests/benchmarks/bench_writer.py measured it).
        streamer = _EmitStreamer(tok, piece)
        eos = tok.eos_token_id
        kwargs: dict[str, Any] = {
            "input_ids": input_ids,
            "attention_mask": torch.ones_like(input_ids),
            "max_new_tokens": spec.max_new_tokens,
            "do_sample": spec.temperature > 0,
            "repetition_penalty": spec.repetition_penalty,
            "no_repeat_ngram_size": spec.no_repeat_ngram_size,
            "streamer": streamer,
            "stopping_criteria": StoppingCriteriaList([_Cancel()]),
            "pad_token_id": tok.pad_token_id if tok.pad_token_id is not None else eos,
        }
        if spec.temperature > 0:
            kwargs.update(
                temperature=spec.temperature,
                top_p=spec.top_p,
                top_k=spec.top_k,
                typical_p=spec.typical_p,
                min_p=spec.min_p or None,
            )
        if spec.stop:
            kwargs.update(stop_strings=list(spec.stop), tokenizer=tok)
        if spec.logprobs:  # the model's raw distribution at each step, for the probability view
            kwargs.update(output_logits=True, return_dict_in_generate=True)
        cache, reused = self._cache_for(ids)
        kwargs[_cache_keyword(lm)] = cache
        torch.manual_seed(spec.seed)
        started = time.perf_counter()
        try:
            with torch.inference_mode():
                output = lm.generate(**kwargs)
        except BaseException:
            self._cache = None  # a half-filled cache is not to be trusted
            raise
        seconds = time.perf_counter() - started
        sequences = output.sequences if spec.logprobs else output
        new = sequences[0, input_ids.shape[1] :].tolist()
        probs = token_probs(tok, new, output.logits, spec.logprobs) if spec.logprobs else ()
        # The cache now holds the prompt and what was written: the next Continue (the same story a little
        # longer, or with only the Author's Note moved) re-encodes just what changed.
        self._cache = (sequences[0].tolist()[: cache.get_seq_length()], cache)
        if cancel.cancelled:
            raise JobCancelled()
        if new and new[-1] == eos:
            reason = "eos"
        elif len(new) >= spec.max_new_tokens:
            reason = "length"
        else:
            reason = "stop"
        return TextResult(
            "".join(pieces),
            len(new),
            seconds,
            reason,
            len(ids),
            trimmed,
            reused,
            probs,
            quantized=loaded.quantized,
        )


def _mb(n: int) -> str:
    return f"{n / 1024**2:,.0f} MB"


def _gguf_parameters(path: Path) -> int:
    """Parameters of a GGUF file, from its tensor table (no weights read); 0 when unknown."""
    try:
        from gguf import GGUFReader

        return int(sum(int(t.n_elements) for t in GGUFReader(path).tensors))
    except Exception:  # a damaged file: the load below says why
        return 0


def device_free_memory(device: str) -> int:
    import torch

    if device.startswith("cuda") and torch.cuda.is_available():
        return int(torch.cuda.mem_get_info()[0])
    return 0


def token_probs(tok: Any, new: list[int], logits: Any, n: int) -> tuple[TokenProb, ...]:
    """Each written token with its log-probability under the model (its raw distribution, before the sampler's
    temperature and cut-offs) and the ``n`` likeliest tokens at that step."""
    import torch

    out = []
    for token, step in zip(new, logits or (), strict=False):
        logp = torch.log_softmax(step[0].float(), dim=-1)
        top = torch.topk(logp, min(n, logp.shape[-1]))
        alternatives = tuple(
            (tok.decode([int(i)]), float(v))
            for v, i in zip(top.values.tolist(), top.indices.tolist(), strict=True)
        )
        out.append(TokenProb(tok.decode([token]), float(logp[token]), alternatives))
    return tuple(out)
