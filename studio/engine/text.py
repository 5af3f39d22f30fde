"""The text job handler: a causal language model continues a prompt, token events stream out as it writes."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from studio.core.jobs.cancel import CancelToken
from studio.core.jobs.errors import ErrorKind, JobCancelled, StudioError
from studio.core.jobs.events import Event, Note, Token
from studio.core.text.recipe import check_write
from studio.core.text.story_notes import Similar
from studio.core.text.text_specs import ContextSpec, TextResult, TokenProb, WriteSpec
from studio.engine.devices import Placement, choose_placement, free_device_memory
from studio.engine.pipelines import _LIBRARY_LOCK, PICKLE_SUFFIXES
from studio.engine.text_controls import needs_own_loop
from studio.engine.text_loading import LoadedText, context_length
from studio.engine.text_prompt import prompt_ids, reusable_prefix
from studio.engine.text_sampling import cache_keyword

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


class TextEngine:
    """Runs text jobs on one device; holds one language model. Owned by the runner thread."""

    def __init__(
        self,
        *,
        placement: Callable[[], Placement] | None = None,
        make_room: Callable[[], None] = lambda: None,
        openvino_cache: Callable[[], Path] | None = None,
    ):
        from studio.engine.openvino_cache import default_root

        self._placement = placement or choose_placement
        self.make_room = make_room  # frees the image model before a load
        self._openvino_cache = openvino_cache or default_root
        self._not_converted: dict[str, str] = {}  # model path → why its conversion for OpenVINO failed
        self._loaded: LoadedText | None = None
        self._tokenizer: tuple[str, Any, int] | None = None
        self._cache: tuple[list[int], Any] | None = None  # (token ids it holds, the KV cache) of the last job
        self.similar: Similar | None = (
            None  # how notes are compared with the story (the runtime's NoteVectors)
        )

    def _cache_for(self, ids: list[int]) -> tuple[Any, int]:
        """A KV cache holding the longest prefix of ``ids`` that the last job already encoded (cropped to it),
        and how many tokens that saves; a fresh cache when nothing is shared."""
        from transformers import DynamicCache

        if self._cache is not None:
            old_ids, cache = self._cache
            n = reusable_prefix(old_ids, ids)
            if n > 0:
                extra = cache.get_seq_length() - n
                if extra > 0:
                    cache.crop(-extra)  # (transformers counts what to remove)
                return cache, n
        return DynamicCache(), 0

    @property
    def on_openvino(self) -> bool:
        """Whether the model held now runs on OpenVINO."""
        return self._loaded is not None and self._loaded.on_openvino

    def clear(self) -> None:
        self._cache = None
        if self._loaded is not None:
            device = self._loaded.placement.device
            self._loaded = None
            free_device_memory(device)

    def load(
        self, model: str, emit: Emit, quantize: str = "auto", lora: str = "", cpu_engine: str = "torch"
    ) -> LoadedText:
        """The model on its device (kept between jobs while the same one is asked for); on the CPU, on torch or on
        OpenVINO as ``cpu_engine`` and the model allow."""
        from studio.engine.text_loading import choose_text_engine, load_openvino, load_torch

        path = resolve_text_model(model)
        placement = self._placement()
        device = placement.device.split(":")[0]
        engine, note = choose_text_engine(cpu_engine, device, path, quantize, lora, self._openvino_cache())
        if engine == "openvino" and str(path) in self._not_converted:
            engine, note = "torch", self._not_converted[str(path)] if cpu_engine == "openvino" else ""
        cur = self._loaded
        if cur is not None and (cur.path, cur.placement, cur.quantize, cur.lora, cur.on_openvino) == (
            str(path), placement, quantize, lora, engine == "openvino"
        ):  # fmt: skip
            return cur
        self.clear()
        self.make_room()
        if note:
            emit(Note(text=note))
        loaded = None
        if engine == "openvino":
            try:
                loaded = load_openvino(path, placement, quantize, self._openvino_cache(), emit)
            except (StudioError, JobCancelled):
                raise
            except Exception as e:  # an architecture the conversion cannot trace: said once, then torch
                why = f"{path.name} could not be converted for OpenVINO ({type(e).__name__}: {str(e)[:200]}): " \
                      "it is written with torch."  # fmt: skip
                self._not_converted[str(path)] = why
                emit(Note(text=why))
        if loaded is None:
            loaded = load_torch(path, placement, quantize, lora, emit)
        self._loaded = loaded
        return loaded

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
            self._tokenizer = (str(path), tok, context_length(config))
        return self._tokenizer[1], self._tokenizer[2]

    def preview_context(self, spec: ContextSpec, cancel: CancelToken, emit: Emit) -> list[Any]:
        from studio.core.text.writer_context import assemble

        tok, length = self.tokenizer(spec.model)
        budget = max(1, length - spec.max_new_tokens)
        count = lambda t: len(tok(t)["input_ids"]) if t else 0  # noqa: E731
        return [assemble(spec.story, spec.context, count, budget, self.similar)]

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
        loaded = self.load(spec.model, emit, spec.quantize, spec.lora, spec.cpu_engine)
        spec = with_turn_end(spec)
        cancel.raise_if_cancelled()
        ids, trimmed, assembled = prompt_ids(loaded, spec, emit, self.similar)
        pieces: list[str] = []

        def piece(text: str, written: int = 0) -> None:
            pieces.append(text)
            emit(Token(text=text, tokens=written))

        # Streamed from the runner thread itself. A TextIteratorStreamer needs generate() on a second thread, and
        # a second thread gets its own OpenMP pool: on a 2-core CPU the two pools fight and decoding runs at
        # 40 % of the speed (tests/benchmarks/bench_writer.py measured it).
        streamer = _EmitStreamer(loaded.tokenizer, piece)
        started = time.perf_counter()
        if loaded.on_openvino or needs_own_loop(spec):
            own = self._on_openvino if loaded.on_openvino else self._own_torch
            out, reused = own(loaded, spec, ids, piece, cancel)
            new, logits, reason, sampled = out.new, out.logits, out.reason, out.sampled
            settle(out, "".join(pieces), emit)
        else:
            new, logits, reason, reused = self._on_torch(loaded, spec, ids, streamer, cancel)
            sampled = []
        seconds = time.perf_counter() - started
        probs = token_probs(loaded.tokenizer, new, logits, spec.logprobs, sampled) if spec.logprobs else ()
        if cancel.cancelled:
            raise JobCancelled()
        return TextResult("".join(pieces), len(new), seconds, reason, len(ids), trimmed, reused, probs,
                          quantized=loaded.quantized, runtime=loaded.runtime, context=assembled)  # fmt: skip

    def _on_openvino(
        self, loaded: LoadedText, spec: WriteSpec, ids: list[int], piece: Callable[[str, int], None],
        cancel: CancelToken,
    ) -> tuple[Any, int]:  # fmt: skip
        """The token loop on OpenVINO: the runtime gives each step's logits, ``text_sampling`` picks the token."""
        from studio.engine.text_sampling import sample, stop_check

        lm = loaded.model
        try:
            first, reused = lm.start(ids)
            out = sample(first, lambda t: lm.step([t]), ids, spec, eos=set(loaded.eos),
                         stopped=stop_check(loaded.tokenizer, spec.stop), cancelled=lambda: cancel.cancelled,
                         tok=loaded.tokenizer, on_text=piece, restart=lambda i: lm.start(i)[0])  # fmt: skip
        except BaseException:
            lm.reset()  # a half-fed state is not to be trusted
            raise
        return out, reused

    def _own_torch(
        self, loaded: LoadedText, spec: WriteSpec, ids: list[int], piece: Callable[[str, int], None],
        cancel: CancelToken,
    ) -> tuple[Any, int]:  # fmt: skip
        """Studio's token loop on torch (what generate() cannot do): the model fed a token at a time through its
        KV cache, which a rolled-back phrase crops."""
        from studio.engine.text_sampling import sample, stop_check

        cache, reused = self._cache_for(ids)
        feeder = _CacheFeeder(loaded, cache, ids[:reused])
        try:
            out = sample(feeder.start(ids), lambda t: feeder.start([*feeder.held, t]), ids, spec,
                         eos={loaded.tokenizer.eos_token_id}, stopped=stop_check(loaded.tokenizer, spec.stop),
                         cancelled=lambda: cancel.cancelled, tok=loaded.tokenizer, on_text=piece,
                         restart=feeder.start)  # fmt: skip
        except BaseException:
            self._cache = None  # a half-filled cache is not to be trusted
            raise
        self._cache = (feeder.held, cache)
        return out, reused

    def _on_torch(
        self, loaded: LoadedText, spec: WriteSpec, ids: list[int], streamer: Any, cancel: CancelToken
    ) -> tuple[list[int], Any, str, int]:
        import torch
        from transformers import StoppingCriteria, StoppingCriteriaList

        tok, lm = loaded.tokenizer, loaded.model
        input_ids = torch.tensor([ids], device=loaded.placement.device)

        class _Cancel(StoppingCriteria):
            def __call__(self, input_ids: Any, scores: Any, **kwargs: Any) -> Any:
                return torch.full(
                    (input_ids.shape[0],), cancel.cancelled, dtype=torch.bool, device=input_ids.device
                )

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
        kwargs[cache_keyword()] = cache
        torch.manual_seed(spec.seed)
        try:
            with torch.inference_mode():
                output = lm.generate(**kwargs)
        except BaseException:
            self._cache = None  # a half-filled cache is not to be trusted
            raise
        sequences = output.sequences if spec.logprobs else output
        new = sequences[0, input_ids.shape[1] :].tolist()
        # The cache now holds the prompt and what was written: the next Continue (the same story a little
        # longer, or with only the Author's Note moved) re-encodes just what changed.
        self._cache = (sequences[0].tolist()[: cache.get_seq_length()], cache)
        if new and new[-1] == eos:
            reason = "eos"
        elif len(new) >= spec.max_new_tokens:
            reason = "length"
        else:
            reason = "stop"
        return new, output.logits if spec.logprobs else None, reason, reused


class _CacheFeeder:
    """Feeds a torch model through one KV cache: ``start(ids)`` crops the cache to what ``ids`` shares with what it
    holds, feeds the rest, and gives the next token's logits (a numpy row)."""

    def __init__(self, loaded: LoadedText, cache: Any, held: list[int]):
        self.lm, self.device, self.cache, self.held = loaded.model, loaded.placement.device, cache, list(held)

    def start(self, ids: list[int]) -> Any:
        import torch

        keep = reusable_prefix(self.held, ids)
        keep = min(keep, len(ids) - 1)  # at least one token is fed: its logits are the answer
        extra = self.cache.get_seq_length() - keep
        if extra > 0:
            self.cache.crop(-extra)  # (transformers counts what to remove)
        rest = ids[keep:]
        with torch.inference_mode():
            out = self.lm(input_ids=torch.tensor([rest], device=self.device), use_cache=True,
                          **{cache_keyword(): self.cache})  # fmt: skip
        self.held = list(ids)
        return out.logits[0, -1].float().cpu().numpy()


def with_turn_end(spec: WriteSpec) -> WriteSpec:
    """A conversation laid out in a named instruct format ends the model's turn where the format says."""
    from dataclasses import replace

    from studio.core.text.instruct import FORMATS

    talking = spec.messages or spec.instruct
    if not talking or spec.instruct_format not in FORMATS:
        return spec
    return replace(spec, stop=tuple(dict.fromkeys((*spec.stop, *FORMATS[spec.instruct_format].stop))))


def settle(out: Any, text: str, emit: Emit) -> None:
    """What Studio's own loop has to say: phrases rolled back; a grammar's answer checked before it is accepted."""
    if out.backtracks:
        emit(Note(text=f"{out.backtracks} banned phrase{'s' if out.backtracks != 1 else ''} rolled back and written "
                       "again."))  # fmt: skip
    if out.constraint is not None and out.reason != "cancelled" and (why := out.constraint.check(text)):
        raise StudioError(
            ErrorKind.INVALID_INPUT, f"The answer was not accepted: {why}.", field="max_new_tokens"
        )


def token_probs(tok: Any, new: list[int], logits: Any, n: int, sampled: list[float] | None = None
                ) -> tuple[TokenProb, ...]:  # fmt: skip
    """Each written token with its log-probability under the model (its raw distribution, before the sampler's
    temperature and cut-offs), the ``n`` likeliest tokens at that step, and — from Studio's own loop — its
    probability with the writer's settings."""
    import torch

    out: list[TokenProb] = []
    for token, step in zip(new, logits or (), strict=False):
        logp = torch.log_softmax(step[0].float(), dim=-1)
        top = torch.topk(logp, min(n, logp.shape[-1]))
        alternatives = tuple(
            (tok.decode([int(i)]), float(v))
            for v, i in zip(top.values.tolist(), top.indices.tolist(), strict=True)
        )
        chance = sampled[len(out)] if sampled and len(out) < len(sampled) else None
        out.append(TokenProb(tok.decode([token]), float(logp[token]), alternatives, chance))
    return tuple(out)
