"""Loading a language model for the text engine: on torch (a transformers folder or a GGUF file, full precision or
int8/int4 weight-only, with a text LoRA), or on OpenVINO — a transformers folder converted once into a stateful
network with int8/int4/fp16 weights — and which of the two a job gets on the CPU (``cpu_engine``)."""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from studio.core.jobs.errors import ErrorKind, StudioError
from studio.core.jobs.events import Event, Loading, Note
from studio.engine.devices import Placement
from studio.engine.pipelines import _LIBRARY_LOCK

Emit = Callable[[Event], None]
# auto converts a model for OpenVINO from this size up: below it torch writes fast enough that a conversion would
# cost more than it saves (the built-in Storyteller has 4 M parameters); at 0.5 B OpenVINO's int8 writes 1.66× as
# fast as torch's int8 and 6.2× torch's float32 (tests/benchmarks/bench_lm_openvino.py)
AUTO_MIN_PARAMS = 100_000_000
# the conversion's peak: the model in float32 and the traced network's constants beside it (measured: 3.5 GB for a
# 0.5 B model, 7.1 bytes a parameter, with the process itself)
CONVERSION_BYTES_PER_PARAMETER = 8.0
OV_WEIGHTS = {"auto": "int8", "none": "f16", "int8": "int8", "int4": "int4"}  # quantize → the cached weights


def _bad(message: str, kind: ErrorKind = ErrorKind.MODEL_INVALID) -> StudioError:
    return StudioError(kind, message, field="model")


@dataclass
class LoadedText:
    path: str
    placement: Placement
    model: Any  # a transformers model, or an ``OpenVinoLM`` (both have ``.config``)
    tokenizer: Any
    quantize: str = "none"  # what was asked ("auto" included): the cache key
    quantized: str = "none"  # what was done
    weights_bytes: int = 0
    lora: str = ""  # a text LoRA attached (its path)
    runtime: str = "torch"  # what runs it: "torch", or "OpenVINO 2026.4.1 (bf16)"
    eos: frozenset[int] = frozenset()  # the tokens that end the text (the model's generation config)

    @property
    def context_length(self) -> int:
        return context_length(self.model.config)

    @property
    def on_openvino(self) -> bool:
        return self.runtime != "torch"


def context_length(config: Any) -> int:
    """The most tokens a model with this (transformers) config reads at once; 2048 when it does not say."""
    for name in ("max_position_embeddings", "n_positions", "max_sequence_length", "seq_length"):
        value = getattr(config, name, None)
        if isinstance(value, int) and value > 0:
            return value
    return 2048


def choose_text_engine(
    asked: str, device: str, path: Path, quantize: str, lora: str, cache: Path | None = None
) -> tuple[str, str]:
    """("torch" | "openvino", a note for the user when the engine they named is not the one used); with ``cache``
    (where converted models live), a model not converted yet whose conversion would not fit in memory stays on
    torch."""
    from studio.core.text.text_memory import parameters_of
    from studio.engine.openvino_cache import openvino_missing
    from studio.engine.openvino_lm_export import traceable

    if asked == "torch":
        return "torch", ""
    named = asked == "openvino"
    if device != "cpu":
        return "torch", f"OpenVINO is Studio's CPU engine; this machine runs on {device}." if named else ""
    why = openvino_missing()
    if not why and path.suffix.lower() == ".gguf":
        why = "GGUF files run on torch"
    if not why and lora:
        why = "A text LoRA is attached on torch"
    if not why and OV_WEIGHTS.get(quantize, "int8") != "f16" and importlib.util.find_spec("nncf") is None:
        why = "int8/int4 weights on OpenVINO need nncf (pip install nncf)"
    if not why and not named and parameters_of(path) < AUTO_MIN_PARAMS:
        return "torch", ""
    why = why or traceable() or (conversion_memory(path, quantize, cache) if cache is not None else "")
    if why:
        return "torch", f"{why}: this text is written with torch." if named else ""
    return "openvino", ""


def conversion_memory(path: Path, quantize: str, cache: Path) -> str:
    """Why this model cannot be converted here for lack of memory ("" when it can, or is converted already): the
    conversion holds the model in float32 with its traced network beside it."""
    from studio.core.io.words import size
    from studio.core.models.memory_plan import system_memory
    from studio.core.text.text_memory import parameters_of
    from studio.engine.openvino_lm_export import LmVariant

    if LmVariant(cache, path, OV_WEIGHTS.get(quantize, "int8")).folder.is_dir():
        return ""
    need, (_total, free) = int(parameters_of(path) * CONVERSION_BYTES_PER_PARAMETER), system_memory()
    if free and need > free:
        return (
            f"Converting {path.name} for OpenVINO needs about {size(need)} of memory and {size(free)} is free"
        )
    return ""


def load_openvino(path: Path, placement: Placement, quantize: str, cache: Path, emit: Emit) -> LoadedText:
    """The model converted for OpenVINO (from the cache, else converted and cached), with its tokenizer."""
    from studio.engine.openvino_cache import DamagedCache
    from studio.engine.openvino_lm import OpenVinoLM
    from studio.engine.openvino_lm_export import LmVariant, convert_lm
    from studio.engine.openvino_unet import openvino_version
    from studio.engine.precision import cpu_caps

    variant = LmVariant(cache, path, OV_WEIGHTS.get(quantize, "int8"))
    try:
        manifest = variant.manifest()
    except DamagedCache:
        emit(Note(text=f"The OpenVINO cache of {path.name} was damaged; it is made again."))
        manifest = None
    if manifest is None:
        convert_lm(variant, emit)
    emit(Loading(what=f"Loading {path.name} on OpenVINO…"))
    tok, config, eos = _tokenizer_and_config(path)
    lm = OpenVinoLM(variant.xml, config, cpu_caps().physical_cores)
    weights = {"f16": "fp16 weights", "int8": "int8 weights", "int4": "int4 weights"}[variant.weights]
    quantized = variant.weights if variant.weights != "f16" else "none"
    return LoadedText(str(path), placement, lm, tok, quantize, quantized, variant.xml.with_suffix(".bin").stat().st_size,
                      runtime=f"OpenVINO {openvino_version()} ({weights}, {lm.hint})",
                      eos=eos)  # fmt: skip


def _tokenizer_and_config(path: Path) -> tuple[Any, Any, frozenset[int]]:
    with _LIBRARY_LOCK:
        from transformers import AutoConfig, AutoTokenizer, GenerationConfig

        try:
            tok = AutoTokenizer.from_pretrained(path, local_files_only=True)
            config = AutoConfig.from_pretrained(path, local_files_only=True)
        except (OSError, ValueError, KeyError) as e:
            raise _bad(f"{path.name} could not be loaded as a language model: {e}") from e
        try:
            generation = GenerationConfig.from_pretrained(path, local_files_only=True)
            ids = generation.eos_token_id
        except (OSError, ValueError):
            ids = None
    eos = set(ids if isinstance(ids, list) else [ids] if isinstance(ids, int) else [])
    if tok.eos_token_id is not None:
        eos.add(int(tok.eos_token_id))
    return tok, config, frozenset(eos)


def load_torch(path: Path, placement: Placement, quantize: str, lora: str, emit: Emit) -> LoadedText:
    """A transformers folder or GGUF file on torch: full precision, or int8/int4 weight-only where asked or where
    only that fits; with a text LoRA attached."""
    import torch

    from studio.core.models.memory_plan import system_memory
    from studio.core.text.text_memory import parameters_of, plan
    from studio.engine.precision import cpu_caps
    from studio.engine.quantize import bnb_config, can_quantize, model_bytes, quantize_cpu

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

        folder, where = (path.parent, {"gguf_file": path.name}) if gguf else (path, {"use_safetensors": True})
        try:
            tok = AutoTokenizer.from_pretrained(folder, local_files_only=True, **where)
            lm = AutoModelForCausalLM.from_pretrained(
                folder, local_files_only=True, dtype=dtype, **where, **extra
            )
        except ImportError as e:
            raise _bad(f"{path.name} needs a package that is not installed: {e}") from e
        except (OSError, ValueError, KeyError, RuntimeError) as e:
            raise _bad(f"{path.name} could not be loaded as a language model: {e}") from e
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
    return LoadedText(str(path), placement, lm, tok, quantize, q.mode, weights, lora)


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
