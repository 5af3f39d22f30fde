"""The Writer's local models on OpenVINO: a tiny Qwen2 converted once (stateful network, int8/int4/fp16 weights,
cached beside the models) writes what torch writes, streams, stops, seeds, gives token probabilities, reuses the
prompt it already holds, and falls back to torch — said — where it cannot run."""

from __future__ import annotations

import pytest

from studio.core.jobs.cancel import CancelToken
from studio.core.jobs.errors import JobCancelled
from studio.core.jobs.events import Loading, Note, Token
from studio.core.text.text_specs import WriteSpec

pytest.importorskip("openvino")
pytest.importorskip("nncf")


pytestmark = pytest.mark.usefixtures("openvino_on")


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    return tmp_path_factory.mktemp("openvino-cache")


def _engine(cache):
    import torch

    from studio.engine.devices import Placement
    from studio.engine.text import TextEngine

    return TextEngine(placement=lambda: Placement("cpu", torch.float32), openvino_cache=lambda: cache)


@pytest.fixture(scope="module")
def engine(cache):
    return _engine(cache)


def run(engine, model, cancel=None, on_event=None, **kw):
    spec = WriteSpec(**{"model": str(model), "prompt": "Once upon a time", "max_new_tokens": 16, "seed": 7,
                        "cpu_engine": "openvino", "quantize": "none", **kw})  # fmt: skip
    events = []

    def emit(e):
        events.append(e)
        if on_event:
            on_event(e)

    return engine.write(spec, cancel or CancelToken(), emit)[0], events


def test_converted_once_then_writes_what_torch_writes_streaming(engine, tiny_qwen, cache):
    ov, events = run(engine, tiny_qwen, temperature=0.0, max_new_tokens=20)
    said = [e.what for e in events if isinstance(e, Loading)] + [
        e.text for e in events if isinstance(e, Note)
    ]
    assert any("Converting tiny-qwen for OpenVINO" in s and "on disk" in s for s in said), said
    assert any("converted for OpenVINO" in s and "cosine" in s for s in said), said
    assert ov.runtime.startswith("OpenVINO ") and "fp16 weights" in ov.runtime
    streamed = [e for e in events if isinstance(e, Token)]
    assert len(streamed) >= 2 and "".join(e.text for e in streamed) == ov.text
    assert ov.tokens == 20 and ov.stop_reason == "length"
    torch_result, _ = run(engine, tiny_qwen, temperature=0.0, max_new_tokens=20, cpu_engine="torch")
    assert torch_result.runtime == "torch"
    assert ov.text == torch_result.text  # greedy on a trained model: the same words
    assert len([p for p in cache.iterdir() if p.name.startswith("tiny-qwen-lm-")]) == 1

    later, events = run(
        _engine(cache), tiny_qwen, temperature=0.0, max_new_tokens=20
    )  # a new process's engine
    assert not any(isinstance(e, Loading) and "Converting" in e.what for e in events)
    assert later.text == ov.text


def test_seeds_stop_strings_and_probabilities(engine, tiny_qwen):
    a, _ = run(engine, tiny_qwen, seed=1, temperature=1.5, max_new_tokens=24)
    b, _ = run(engine, tiny_qwen, seed=1, temperature=1.5, max_new_tokens=24)
    c, _ = run(engine, tiny_qwen, seed=2, temperature=1.5, max_new_tokens=24)
    assert a.text == b.text and a.text != c.text

    full, _ = run(engine, tiny_qwen, temperature=0.0, max_new_tokens=30)
    stop = full.text[len(full.text) // 2 : len(full.text) // 2 + 3]
    stopped, _ = run(engine, tiny_qwen, temperature=0.0, max_new_tokens=30, stop=(stop,))
    assert stop in stopped.text and len(stopped.text) < len(full.text) and stopped.stop_reason == "stop"

    probs, _ = run(engine, tiny_qwen, temperature=0.0, max_new_tokens=8, logprobs=3)
    assert len(probs.probs) == 8
    for p in probs.probs:  # greedy: each written token is its step's likeliest
        assert len(p.alternatives) == 3 and p.alternatives[0][0] == p.text and 0 < p.p <= 1


def test_stop_ends_within_a_token_and_the_next_job_is_whole(engine, tiny_qwen):
    cancel, seen = CancelToken(), []

    def on_event(e):
        if isinstance(e, Token):
            seen.append(e)
            if len(seen) == 3:
                cancel.cancel()

    with pytest.raises(JobCancelled):
        run(engine, tiny_qwen, cancel=cancel, on_event=on_event, max_new_tokens=100, repetition_penalty=1.0)
    assert 3 <= len(seen) <= 6
    again, _ = run(engine, tiny_qwen, temperature=0.0, max_new_tokens=12)
    fresh, _ = run(_engine(engine._openvino_cache()), tiny_qwen, temperature=0.0, max_new_tokens=12)
    assert again.text == fresh.text


def test_the_prompt_it_holds_is_not_encoded_again(engine, tiny_qwen):
    from studio.core.text.writer_context import StoryContext

    story = "Once upon a time there was a small dragon who lived by the sea. " * 2
    base = {"temperature": 0.0, "repetition_penalty": 1.0, "max_new_tokens": 6, "prompt": story}
    run(engine, tiny_qwen, context=StoryContext(memory="A sea tale.", note="calm", note_depth=0), **base)
    changed = StoryContext(memory="A sea tale.", note="stormy", note_depth=0)
    second, _ = run(engine, tiny_qwen, context=changed, **base)
    assert second.reused_tokens >= second.prompt_tokens - 8
    fresh, _ = run(_engine(engine._openvino_cache()), tiny_qwen, context=changed, **base)
    assert fresh.reused_tokens == 0 and fresh.text == second.text


def test_int4_weights_are_a_variant_of_their_own(engine, tiny_qwen):
    result, events = run(engine, tiny_qwen, quantize="int4", temperature=0.0, max_new_tokens=10)
    assert "int4 weights" in result.runtime and result.quantized == "int4"
    note = next(e.text for e in events if isinstance(e, Note) and "cosine" in e.text)
    assert float(note.rsplit("cosine of ", 1)[1].rstrip(".")) > 0.99


def test_a_damaged_cache_is_made_again(engine, tiny_qwen, cache, tmp_path):
    import shutil

    first, _ = run(engine, tiny_qwen, temperature=0.0, max_new_tokens=8)  # fp16 weights: converted already
    (folder,) = cache.glob("tiny-qwen-lm-*-f16")
    shutil.copytree(folder, tmp_path / folder.name)
    weights = tmp_path / folder.name / "openvino_model.bin"
    weights.write_bytes(weights.read_bytes()[:100])  # a disk error, a copy cut short
    again, events = run(_engine(tmp_path), tiny_qwen, temperature=0.0, max_new_tokens=8)
    assert any(isinstance(e, Note) and "damaged; it is made again" in e.text for e in events)
    assert again.text == first.text and again.runtime.startswith("OpenVINO")
    assert weights.stat().st_size > 100


def test_auto_and_what_openvino_cannot_run_go_to_torch_and_say_why(
    tiny_qwen, tiny_lm, cache, tmp_path, monkeypatch
):
    from studio.engine import openvino_lm_export, text_loading

    engine = _engine(cache)
    small, events = run(engine, tiny_qwen, cpu_engine="auto", max_new_tokens=4)
    assert small.runtime == "torch" and not [
        e for e in events if isinstance(e, Note)
    ]  # too small to be worth it
    monkeypatch.setattr(text_loading, "AUTO_MIN_PARAMS", 0)
    picked, _ = run(engine, tiny_qwen, cpu_engine="auto", quantize="auto", max_new_tokens=4)
    assert picked.runtime.startswith("OpenVINO") and "int8 weights" in picked.runtime  # auto weights: int8

    def broken(model):
        raise RuntimeError("an operation the converter does not know")

    monkeypatch.setattr(openvino_lm_export, "_trace", broken)
    for asked in ("auto", "openvino"):
        result, events = run(_engine(tmp_path / "other"), tiny_lm, cpu_engine=asked, max_new_tokens=4)
        notes = [e.text for e in events if isinstance(e, Note)]
        assert result.runtime == "torch" and any("could not be converted for OpenVINO" in n for n in notes), (
            notes
        )
        assert not list((tmp_path / "other").glob("*-lm-*"))  # no half cache left behind
    from studio.core.models import memory_plan

    monkeypatch.setattr(memory_plan, "system_memory", lambda: (8 << 30, 1000))  # next to nothing free
    elsewhere = text_loading.choose_text_engine(
        "openvino", "cpu", tiny_qwen, "auto", "", tmp_path / "elsewhere"
    )
    assert (
        elsewhere[0] == "torch"
        and "needs about" in elsewhere[1]
        and "of memory and 1000 B is free" in elsewhere[1]
    )
    converted = text_loading.choose_text_engine(
        "openvino", "cpu", tiny_qwen, "auto", "", cache
    )  # (int8, above)
    assert converted == ("openvino", "")
    for device, lora, why in (
        ("cpu", "voice.safetensors", "A text LoRA"),
        ("cuda", "", "this machine runs on cuda"),
    ):
        engine_name, note = text_loading.choose_text_engine("openvino", device, tiny_qwen, "none", lora)
        assert engine_name == "torch" and why in note


def test_attention_is_read_on_torch_and_says_so(engine, tiny_qwen):
    from studio.core.text.text_explain import TextAttentionSpec
    from studio.engine.text_explain import text_attention

    run(engine, tiny_qwen, temperature=0.0, max_new_tokens=4)
    assert engine.on_openvino
    text = "Once upon a time there was a small dragon"
    events = []
    spec = TextAttentionSpec(model=str(tiny_qwen), text=text, target=text.index("dragon"), quantize="none")
    (seen,) = text_attention(engine, spec, CancelToken(), events.append)
    assert seen.token.strip() and abs(sum(share for _a, _b, share in seen.spans) - 1) < 1e-3
    assert any(isinstance(e, Note) and "read from the model on torch" in e.text for e in events)
    assert not engine.on_openvino
    back, _ = run(engine, tiny_qwen, temperature=0.0, max_new_tokens=4)
    assert back.runtime.startswith("OpenVINO") and engine.on_openvino


def test_banned_phrases_and_a_schema_hold_on_openvino_as_on_torch(engine, tiny_qwen):
    import json

    from studio.core.text.recipe import schema_problem

    small = {"type": "object", "required": ["n"], "additionalProperties": False,
             "properties": {"n": {"type": "integer", "minimum": 0, "maximum": 9}}}  # fmt: skip
    for seed in range(3):
        result, _ = run(engine, tiny_qwen, json_schema=json.dumps(small), max_new_tokens=40, seed=seed)
        assert schema_problem(small, result.text) == "", result.text
    plain, _ = run(engine, tiny_qwen, temperature=0.0, max_new_tokens=20)
    word = plain.text.strip().split()[0] if plain.text.strip() else plain.text[:2]
    banned, events = run(engine, tiny_qwen, temperature=0.0, max_new_tokens=20, banned=(word,))
    assert word.lower() not in banned.text.lower()
    assert any("rolled back" in getattr(e, "text", "") for e in events)
