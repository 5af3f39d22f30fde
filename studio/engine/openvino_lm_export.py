"""A language model converted for OpenVINO, kept beside the models (``<models>/openvino-cache/<name>-lm-<key>-<w>/``):
one per model folder and weights (int8 or int4 through nncf's weight compression, or fp16). The network is
*stateful* — its KV cache lives inside the compiled model, which is what makes OpenVINO's CPU decoding fast — and it
computes logits for the last position only (a long prompt's prefill does not hold a vocabulary-wide row per token).
Made once with a progress bar and the disk space said, in a scratch folder moved into place whole; a damaged cache
is removed and made again (``openvino_cache``' rules, shared)."""

from __future__ import annotations

import hashlib
import json
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from studio.core.io.words import duration, size
from studio.core.jobs.events import Note
from studio.engine.openvino_cache import (
    DamagedCache,
    Emit,
    building,
    check_space,
    checked_manifest,
    compress_weights,
    finish,
    with_progress,
)

FORMAT = 2  # 2: the cache read through a Gather by beam
FILES = ("openvino_model.xml", "openvino_model.bin")
WEIGHTS = ("f16", "int8", "int4")
# measured here (2 cores): a 0.5 B-parameter Qwen2 traces, compresses to int8 and is written in about 40 s
SECONDS_PER_BILLION = 80.0


def lm_key(model: Path, weights: str) -> str:
    """Changes when the model's weights or config, the weights' format, the converter's version or this format
    change."""
    from studio.engine.openvino_unet import openvino_version

    files = sorted(p for p in model.iterdir() if p.suffix == ".safetensors" or p.name == "config.json")
    facts = {
        "format": FORMAT,
        "model": str(model.resolve()),
        "files": [[p.name, p.stat().st_size, p.stat().st_mtime_ns] for p in files],
        "openvino": openvino_version(),
        "weights": weights,
    }
    return hashlib.sha1(json.dumps(facts, sort_keys=True).encode()).hexdigest()[:12]


@dataclass(frozen=True)
class LmVariant:
    """Where one language model's converted network (with these weights) lives."""

    root: Path  # <models>/openvino-cache
    model: Path  # a transformers folder
    weights: str = "int8"  # one of WEIGHTS

    @property
    def folder(self) -> Path:
        stem = "".join(c if c.isalnum() or c in "-_." else "_" for c in self.model.name)[:60] or "model"
        return self.root / f"{stem}-lm-{lm_key(self.model, self.weights)}-{self.weights}"

    @property
    def xml(self) -> Path:
        return self.folder / FILES[0]

    def manifest(self) -> dict[str, Any] | None:
        """The manifest of a whole cache, else None; a damaged one is removed (``DamagedCache`` is raised)."""
        return checked_manifest(self.folder, FILES)


def traceable() -> str:
    """Why this transformers cannot be traced with its cache as plain tensors ("" when it can)."""
    from transformers import DynamicCache

    if not hasattr(DynamicCache(), "layers"):
        return "the OpenVINO conversion of language models needs transformers ≥ 4.56"
    return ""


def _with_cache(model: Any) -> Any:
    """The model as a function of plain tensors: the new tokens, the mask, their positions and each layer's keys
    and values so far → the last position's logits and each layer's keys and values now."""
    import torch
    from transformers import DynamicCache

    from studio.engine.text_sampling import cache_keyword

    keyword = cache_keyword()

    class WithCache(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.lm = model

        def forward(self, input_ids: Any, attention_mask: Any, position_ids: Any, *past: Any) -> Any:
            cache = DynamicCache(config=model.config)
            layers: list[Any] = list(cache.layers)
            for i, layer in enumerate(layers):  # filled directly: an empty tensor would be traced as such
                layer.lazy_initialization(past[2 * i], past[2 * i + 1])
                layer.keys, layer.values = past[2 * i], past[2 * i + 1]
            out = self.lm(input_ids=input_ids, attention_mask=attention_mask, position_ids=position_ids,
                          use_cache=True, logits_to_keep=1, **{keyword: cache})  # fmt: skip
            return (out.logits, *[t for layer in layers for t in (layer.keys, layer.values)])

    return WithCache().eval()


def _shape(model: Any) -> tuple[int, int, int]:
    """(layers, key/value heads, head width) of a causal LM's config."""
    c = model.config.get_text_config() if hasattr(model.config, "get_text_config") else model.config
    heads = c.num_attention_heads
    kv = getattr(c, "num_key_value_heads", None) or heads
    return c.num_hidden_layers, kv, getattr(c, "head_dim", None) or c.hidden_size // heads


def _trace(model: Any) -> Any:
    """The stateful network: traced with its cache as inputs, then OpenVINO's make-stateful transformation keeps
    the cache inside, each state starting empty and as wide as the batch."""
    import numpy as np
    import openvino as ov
    import openvino.opset13 as ops
    import torch
    from openvino._offline_transformations import apply_make_stateful_transformation

    layers, kv_heads, head = _shape(model)
    past_len, new = 3, 2
    example = (torch.randint(0, 100, (1, new)), torch.ones(1, past_len + new, dtype=torch.int64),
               torch.arange(past_len, past_len + new)[None],
               *[torch.randn(1, kv_heads, past_len, head) for _ in range(2 * layers)])  # fmt: skip
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the tracer warns of every shape-dependent branch
        net = ov.convert_model(_with_cache(model), example_input=example)
    cache_in = [f"past_key_values.{i}.{k}" for i in range(layers) for k in ("key", "value")]
    cache_out = [f"present.{i}.{k}" for i in range(layers) for k in ("key", "value")]
    for port, name in zip(
        net.inputs, ["input_ids", "attention_mask", "position_ids", *cache_in], strict=True
    ):
        port.get_tensor().set_names({name})
    for port, name in zip(net.outputs, ["logits", *cache_out], strict=True):
        port.get_tensor().set_names({name})
    beam = ops.parameter(ov.PartialShape([-1]), ov.Type.i32, name="beam_idx")
    beam.output(0).get_tensor().set_names({"beam_idx"})
    for port in net.inputs[3:]:  # each cache read through a Gather by beam: the pattern of the CPU plugin's
        param = port.get_node()  # fused attention with its cache inside (without it: 0.75× the tokens/s)
        param.set_partial_shape(ov.PartialShape([-1, kv_heads, -1, head]))
        users = list(param.output(0).get_target_inputs())
        picked = ops.gather(param, beam, ops.constant(np.int64(0)))
        for user in users:
            user.replace_source_output(picked.output(0))
    net.add_parameters([beam])
    net.validate_nodes_and_infer_types()
    apply_make_stateful_transformation(net, dict(zip(cache_in, cache_out, strict=True)))
    batch = ops.gather(ops.shape_of(net.input("input_ids"), output_type="i64"),
                       ops.constant(np.array([0], dtype=np.int64)), ops.constant(np.int64(0)))  # fmt: skip
    for op in net.get_ops():
        if op.get_type_name() == "ReadValue":
            dims = [d.get_min_length() for d in op.get_output_partial_shape(0)][1:]
            shape = ops.concat([batch, *[ops.constant(np.array([d], dtype=np.int64)) for d in dims]], axis=0)
            op.set_arguments([ops.broadcast(ops.constant(np.array(0.0, dtype=np.float32)), shape)])
    net.validate_nodes_and_infer_types()
    return net


def _compress(net: Any, weights: str) -> Any:
    if weights == "f16":
        return net
    import nncf
    from nncf.quantization.advanced_parameters import AdvancedCompressionParameters

    if weights == "int8":
        return compress_weights(net, mode=nncf.CompressWeightsMode.INT8_ASYM)
    # groups of 128 weights share a scale; a layer narrower than that (a small model) gets the widest that fits
    return compress_weights(net, mode=nncf.CompressWeightsMode.INT4_ASYM, group_size=128, ratio=1.0,
                            advanced_parameters=AdvancedCompressionParameters(
                                group_size_fallback_mode=nncf.GroupSizeFallbackMode.ADJUST))  # fmt: skip


def agreement(model: Any, xml: Path) -> float:
    """The cosine between the torch model's next-token logits and the saved network's, after a short fixed prompt:
    the quality cost of the weights' format, said to the user and kept in the manifest."""
    import numpy as np
    import openvino as ov
    import torch

    ids = np.arange(3, 19, dtype=np.int64)[None] % int(model.config.vocab_size)
    with torch.no_grad():
        a = model(torch.from_numpy(ids)).logits[0, -1].double().numpy()
    compiled = ov.Core().compile_model(str(xml), "CPU", {"INFERENCE_PRECISION_HINT": "f32"})
    feed = {
        "input_ids": ids,
        "attention_mask": np.ones_like(ids),
        "position_ids": np.arange(ids.shape[1])[None],
        "beam_idx": np.zeros(1, dtype=np.int32),
    }
    b = np.asarray(compiled.create_infer_request().infer(feed)["logits"], dtype=np.float64)[0, -1]
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b) + 1e-12))


def convert_lm(variant: LmVariant, emit: Emit) -> dict[str, Any]:
    """Convert ``variant.model`` into its cache folder, saying how far it is; its manifest."""
    import openvino as ov
    import torch
    from transformers import AutoModelForCausalLM

    from studio.engine.openvino_unet import openvino_version
    from studio.engine.precision import cpu_caps

    name = variant.model.name
    params = _parameters(variant.model)
    needed = params * {"f16": 2.0, "int8": 1.0, "int4": 0.6}[variant.weights] + (8 << 20)
    check_space(variant.root, int(needed), name)
    estimate = SECONDS_PER_BILLION * max(params, 1e7) / 1e9 * 2 / max(1, cpu_caps().physical_cores)
    weights = {"f16": "fp16", "int8": "int8", "int4": "int4"}[variant.weights]
    what = f"Converting {name} for OpenVINO, {weights} weights (once; {size(int(needed))} on disk, about " \
           f"{duration(estimate, rough=True)})"  # fmt: skip
    started = time.perf_counter()
    agree: list[float] = []

    def work(scratch: Path) -> None:
        model = AutoModelForCausalLM.from_pretrained(
            variant.model, local_files_only=True, use_safetensors=True, dtype=torch.float32
        ).eval()
        net = _compress(_trace(model), variant.weights)
        ov.save_model(net, str(scratch / FILES[0]), compress_to_fp16=variant.weights == "f16")
        del net
        agree.append(agreement(model, scratch / FILES[0]))

    with building(variant.root, variant.folder) as scratch:
        with_progress(lambda: work(scratch), estimate, what, emit)
        manifest = finish(scratch, FILES, {
            "format": FORMAT,
            "model": str(variant.model),
            "openvino": openvino_version(),
            "weights": variant.weights,
            "agreement": round(agree[0], 5),
            "seconds": round(time.perf_counter() - started, 1),
        })  # fmt: skip
    emit(Note(text=f"{name} was converted for OpenVINO ({weights} weights) in {duration(manifest['seconds'])} "
                   f"({size(sum(manifest['files'].values()))} in {variant.root}); its next-token predictions agree "
                   f"with the original's at a cosine of {manifest['agreement']:.4f}."))  # fmt: skip
    return manifest


def _parameters(model: Path) -> int:
    from studio.core.text.text_memory import parameters_of

    return parameters_of(model)


__all__ = ["FILES", "WEIGHTS", "DamagedCache", "LmVariant", "convert_lm", "lm_key", "traceable"]
