"""Quantized local language models: int8/int4 weight-only on the CPU close to full precision, chosen by itself when
a model would not fit, said in the Loading line; GGUF files read through transformers (dequantized, said)."""

from __future__ import annotations

import pytest
import torch

from studio.core.jobs.cancel import CancelToken
from studio.core.jobs.errors import StudioError
from studio.core.jobs.events import Loading, Note
from studio.core.text.text_specs import WriteSpec
from studio.engine.devices import Placement
from studio.engine.quantize import cpu_kernels
from studio.engine.text import TextEngine

STORYTELLER = "resources/models/storyteller"
HELD_OUT = (
    "And it came to pass in those days, that the king sent messengers unto the city, and they spake unto the "
    "elders of the people, saying, Behold, the word of the LORD is come unto us. A fool and his money are soon "
    "parted. Never put off till tomorrow what you can do the day after tomorrow."
)

needs = pytest.mark.skipif(
    not all(cpu_kernels().values()), reason="this PyTorch lacks the weight-only CPU kernels"
)


def engine() -> TextEngine:
    return TextEngine(placement=lambda: Placement("cpu", torch.float32))


def next_token_logprobs(loaded) -> torch.Tensor:
    ids = loaded.tokenizer(HELD_OUT, return_tensors="pt")["input_ids"]
    with torch.inference_mode():
        return torch.log_softmax(loaded.model(ids).logits[0].float(), -1), ids[0]


@needs
@pytest.mark.parametrize("mode, agree, ppl_change", [("int8", 0.95, 0.02), ("int4", 0.8, 0.08)])
def test_quantized_storyteller_predicts_like_the_full_precision_one(mode, agree, ppl_change):
    events: list = []
    full = engine().load(STORYTELLER, events.append, "none")
    ref, ids = next_token_logprobs(full)
    quant = engine().load(STORYTELLER, events.append, mode)
    got, _ = next_token_logprobs(quant)
    assert quant.quantized == mode and quant.weights_bytes < full.weights_bytes * (
        0.5 if mode == "int8" else 0.4
    )
    top1 = (ref.argmax(-1) == got.argmax(-1)).float().mean().item()
    ppl = lambda lp: (-lp[:-1].gather(1, ids[1:, None]).mean()).exp().item()  # noqa: E731
    assert top1 >= agree
    assert abs(ppl(got) / ppl(ref) - 1) < ppl_change
    said = [e.text for e in events if isinstance(e, Note)]
    assert any(f"as {mode} weight-only" in s and "at full precision" in s for s in said)


@needs
def test_auto_quantizes_a_model_that_would_not_fit_and_says_so(monkeypatch):
    import studio.core.models.memory_plan as mp

    free = lambda mb: (8 * 2**30, int((0.5 * 2**30 + mb * 2**20) / 0.85))  # noqa: E731 (0.5 GB is for work)
    monkeypatch.setattr(mp, "system_memory", lambda: free(10))  # 17 MB at fp32 do not fit, 6 MB as int8 do
    events: list = []
    result = engine().write(
        WriteSpec(model=STORYTELLER, prompt="The king", max_new_tokens=8, seed=1, temperature=0),
        CancelToken(),
        events.append,
    )[0]
    loading = next(e.what for e in events if isinstance(e, Loading))
    assert "would not fit" in loading and "int8 weight-only" in loading
    assert result.quantized == "int8" and result.tokens == 8

    monkeypatch.setattr(mp, "system_memory", lambda: free(2))  # not even int4 (5 MB)
    with pytest.raises(StudioError, match="does not fit.*smaller model"):
        engine().load(STORYTELLER, lambda e: None, "auto")


def test_a_gguf_file_loads_dequantized_and_writes_like_its_source(tmp_path):
    pytest.importorskip("gguf")
    from tests.tiny_models import save_tiny_gguf, save_tiny_lm

    folder = save_tiny_lm(tmp_path / "lm", context=1024)  # (transformers reads GPT-2 GGUFs as 1024-token)
    gguf = save_tiny_gguf(folder, tmp_path / "lm.gguf")
    spec = dict(prompt="Once upon a time", max_new_tokens=10, seed=3, temperature=0, quantize="none")
    events: list = []
    from_folder = engine().write(WriteSpec(model=str(folder), **spec), CancelToken(), lambda e: None)[0]
    from_gguf = engine().write(WriteSpec(model=str(gguf), **spec), CancelToken(), events.append)[0]
    assert from_gguf.text == from_folder.text and from_gguf.tokens == 10
    assert any(isinstance(e, Note) and "dequantizes" in e.text for e in events)


def test_a_file_named_gguf_that_is_not_one_is_refused_clearly(tmp_path):
    pytest.importorskip("gguf")
    fake = tmp_path / "model.gguf"
    fake.write_bytes(b"PK\x03\x04 not a gguf")
    with pytest.raises(StudioError, match="not a GGUF file"):
        engine().load(str(fake), lambda e: None)


@needs
@pytest.mark.parametrize("torchao", [True, False])
def test_int8_on_a_cpu_without_bf16_keeps_the_predictions(torchao, monkeypatch):
    """The path of CPUs without bf16 instructions (forced here): torchao's dynamic int8, or without torchao the
    packed kernel with fp32 activations."""
    import builtins

    from studio.engine import quantize

    if torchao:
        pytest.importorskip("torchao")
    else:
        real_import = builtins.__import__
        monkeypatch.setattr(builtins, "__import__", lambda name, *a, **k: (_ for _ in ()).throw(ImportError(name))
                            if name.startswith("torchao") else real_import(name, *a, **k))  # fmt: skip
    full = engine().load(STORYTELLER, lambda e: None, "none")
    ref, ids = next_token_logprobs(full)
    other = engine().load(STORYTELLER, lambda e: None, "none")
    done = quantize.quantize_cpu(other.model, "int8", bf16=False)
    got, _ = next_token_logprobs(other)
    assert done.layers == 16 and done.bytes_after < done.bytes_before * 0.5
    assert (ref.argmax(-1) == got.argmax(-1)).float().mean().item() >= 0.95
