"""Would the Writer's local models run faster on the CPU through OpenVINO GenAI? The same ~0.5 B-parameter causal LM
(Qwen2.5-0.5B's shape, random weights: ``bench_writer_engines.QWEN_05B``) generating greedily after a 64-token
prompt: Studio's torch paths (fp32, and int8/int4 weight-only — ``bench_writer_engines``' children) and Studio's OpenVINO
path (``cpu_engine="openvino"``: its own conversion and token loop) against ``openvino_genai.LLMPipeline`` on the
same weights with int8 and int4 weights (nncf), each in its own process, in one run. Prints tokens/s and peak
resident memory; Studio's OpenVINO rows are a second process's (from the cache), with the first process's first job
time (converting the model) beside them.

``LLMPipeline`` reads a *stateful* network (the KV cache kept inside it, a ``beam_idx`` input) and tokenizer
networks — the layout optimum-intel exports, but optimum-intel pins transformers < 5.6. This benchmark makes that
layout itself (``EXPORT``: the model traced with its cache as inputs, OpenVINO's make-stateful transformation, the
states' zero initialisers, openvino-tokenizers for the tokenizer); on a tiny Qwen2 the network gives the same greedy
tokens as transformers when the KV cache is kept in f32 (the CPU plugin's default compresses it to u8).
It needs ``pip install openvino-genai==2026.4.1.0 openvino-tokenizers==2026.4.1.0`` (not Studio dependencies).

    .venv/bin/python tests/benchmarks/bench_lm_openvino.py [--tokens 64]
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

BUILD = r"""
import shutil, sys, torch
from transformers import Qwen2Config, Qwen2ForCausalLM
sys.path.insert(0, sys.argv[2])
from tests.benchmarks.bench_writer_engines import QWEN_05B
torch.manual_seed(0)
model = Qwen2ForCausalLM(Qwen2Config(**QWEN_05B))
for p in model.parameters():
    torch.nn.init.normal_(p, std=0.02)
model.save_pretrained(sys.argv[1])
for name in ("tokenizer.json", "tokenizer_config.json"):  # any tokenizer: the runs feed token ids
    shutil.copy(f"{sys.argv[2]}/resources/models/storyteller/{name}", sys.argv[1])
"""

EXPORT = r"""
import shutil, sys, warnings
from pathlib import Path
import numpy as np, openvino as ov, openvino.opset13 as ops, torch
from openvino._offline_transformations import apply_make_stateful_transformation
from transformers import AutoModelForCausalLM, AutoTokenizer, DynamicCache
src, dst, weights = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3]
model = AutoModelForCausalLM.from_pretrained(src, dtype=torch.float32).eval()
cfg = model.config
layers, kv_heads = cfg.num_hidden_layers, cfg.num_key_value_heads
head = getattr(cfg, "head_dim", None) or cfg.hidden_size // cfg.num_attention_heads

class WithCache(torch.nn.Module):  # the cache as plain tensors in and out
    def __init__(self):
        super().__init__()
        self.lm = model
    def forward(self, input_ids, attention_mask, position_ids, *past):
        cache = DynamicCache(config=cfg)
        for i, layer in enumerate(cache.layers):  # filled directly: an empty first tensor would be traced as such
            layer.lazy_initialization(past[2 * i], past[2 * i + 1])
            layer.keys, layer.values = past[2 * i], past[2 * i + 1]
        out = self.lm(input_ids=input_ids, attention_mask=attention_mask, position_ids=position_ids,
                      past_key_values=cache, use_cache=True)
        return (out.logits, *[t for layer in out.past_key_values.layers for t in (layer.keys, layer.values)])

past_len, new = 3, 2
example = (torch.randint(0, 100, (1, new)), torch.ones(1, past_len + new, dtype=torch.int64),
           torch.arange(past_len, past_len + new)[None], *[torch.randn(1, kv_heads, past_len, head)
                                                           for _ in range(2 * layers)])
with torch.no_grad(), warnings.catch_warnings():
    warnings.simplefilter("ignore")
    net = ov.convert_model(WithCache(), example_input=example)
del model
cache_in = [f"past_key_values.{i}.{k}" for i in range(layers) for k in ("key", "value")]
cache_out = [f"present.{i}.{k}" for i in range(layers) for k in ("key", "value")]
for port, name in zip(net.inputs, ["input_ids", "attention_mask", "position_ids", *cache_in]):
    port.get_tensor().set_names({name})
for port, name in zip(net.outputs, ["logits", *cache_out]):
    port.get_tensor().set_names({name})
beam = ops.parameter(ov.PartialShape([-1]), ov.Type.i32, name="beam_idx")
beam.output(0).get_tensor().set_names({"beam_idx"})
for port in net.inputs[3:]:  # the cache reordered by beam (GenAI's input), then kept as state
    param = port.get_node()
    param.set_partial_shape(ov.PartialShape([-1, kv_heads, -1, head]))
    users = list(param.output(0).get_target_inputs())
    picked = ops.gather(param, beam, ops.constant(np.int64(0)))
    for user in users:
        user.replace_source_output(picked.output(0))
net.add_parameters([beam])
net.validate_nodes_and_infer_types()
apply_make_stateful_transformation(net, dict(zip(cache_in, cache_out)))
batch = ops.gather(ops.shape_of(net.input("input_ids"), output_type="i64"),
                   ops.constant(np.array([0], dtype=np.int64)), ops.constant(np.int64(0)))
for op in net.get_ops():  # each state starts empty, as wide as the batch
    if op.get_type_name() == "ReadValue":
        dims = [d.get_min_length() for d in op.get_output_partial_shape(0)][1:]
        shape = ops.concat([batch, *[ops.constant(np.array([d], dtype=np.int64)) for d in dims]], axis=0)
        op.set_arguments([ops.broadcast(ops.constant(np.array(0.0, dtype=np.float32)), shape)])
net.validate_nodes_and_infer_types()
if weights != "none":
    import nncf
    mode = nncf.CompressWeightsMode.INT8_ASYM if weights == "int8" else nncf.CompressWeightsMode.INT4_ASYM
    net = nncf.compress_weights(net, mode=mode, **({} if weights == "int8" else {"group_size": 128, "ratio": 1.0}))
dst.mkdir(parents=True, exist_ok=True)
ov.save_model(net, str(dst / "openvino_model.xml"))
from openvino_tokenizers import convert_tokenizer
tokenizer, detokenizer = convert_tokenizer(AutoTokenizer.from_pretrained(src), with_detokenizer=True)
ov.save_model(tokenizer, str(dst / "openvino_tokenizer.xml"))
ov.save_model(detokenizer, str(dst / "openvino_detokenizer.xml"))
for name in ("config.json", "generation_config.json"):
    if (src / name).exists():
        shutil.copy(src / name, dst / name)
"""

STUDIO = r"""
import json, resource, sys, time
from pathlib import Path
import torch
from studio.core.jobs.cancel import CancelToken
from studio.core.text.text_specs import WriteSpec
from studio.engine.devices import Placement
from studio.engine.text import TextEngine
model, weights, tokens, cache = sys.argv[1], sys.argv[2], int(sys.argv[3]), Path(sys.argv[4])
engine = TextEngine(placement=lambda: Placement("cpu", torch.float32), openvino_cache=lambda: cache)
words = "the sea was dark and cold and she waited by the lamp until morning came " * 4
def write(prompt, n):
    spec = WriteSpec(model=model, prompt=prompt, max_new_tokens=n, temperature=0.0, repetition_penalty=1.0,
                     cpu_engine="openvino", quantize=weights)
    return engine.write(spec, CancelToken(), lambda e: None)[0]
t = time.perf_counter()
write("Once " + words, 4)  # converts on the first run (timed apart), compiles, warms up
first = time.perf_counter() - t
r = write("Night " + words, tokens)  # another prompt: nothing is reused
print(json.dumps({"tok_s": round(r.tokens / r.seconds, 2), "runtime": r.runtime, "prompt_tokens": r.prompt_tokens,
                  "load_s": round(first, 1),
                  "peak_rss_gb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20, 2)}))
"""

GENAI = r"""
import json, resource, sys, time
import numpy as np, openvino as ov, openvino_genai as og
from studio.engine.precision import cpu_caps
tokens = int(sys.argv[2])
pipe = og.LLMPipeline(sys.argv[1], "CPU", {"INFERENCE_NUM_THREADS": cpu_caps().physical_cores})
ids = np.random.default_rng(0).integers(0, 32000, (1, 64)).astype(np.int64)
prompt = og.TokenizedInputs(ov.Tensor(ids), ov.Tensor(np.ones_like(ids)))
config = og.GenerationConfig()
config.do_sample = False
config.max_new_tokens = config.min_new_tokens = 4
pipe.generate(prompt, config)
config.max_new_tokens = config.min_new_tokens = tokens
t = time.perf_counter()
pipe.generate(prompt, config)
seconds = time.perf_counter() - t
print(json.dumps({"tok_s": round(tokens / seconds, 2),
                  "peak_rss_gb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20, 2)}))
"""

AB = r"""
import json, statistics, sys, time
from pathlib import Path
import numpy as np, openvino as ov, openvino_genai as og, torch
from studio.core.jobs.cancel import CancelToken
from studio.core.text.text_specs import WriteSpec
from studio.engine.devices import Placement
from studio.engine.text import TextEngine
model, network, cache, n = sys.argv[1], sys.argv[2], Path(sys.argv[3]), int(sys.argv[4])
pipe = og.LLMPipeline(network, "CPU", {"INFERENCE_NUM_THREADS": 2, "PERFORMANCE_HINT": "LATENCY"})
engine = TextEngine(placement=lambda: Placement("cpu", torch.float32), openvino_cache=lambda: cache)
words = "the sea was dark and cold and she waited by the lamp until morning came " * 4
rng = np.random.default_rng(0)
def studio(i):
    spec = WriteSpec(model=model, prompt=f"{i} " + words, max_new_tokens=n, temperature=0.0, repetition_penalty=1.0,
                     cpu_engine="openvino", quantize="int8")
    r = engine.write(spec, CancelToken(), lambda e: None)[0]
    return r.tokens / r.seconds
def genai(i):
    ids = rng.integers(0, 32000, (1, 71)).astype(np.int64)
    c = og.GenerationConfig()
    c.do_sample, c.max_new_tokens, c.min_new_tokens = False, n, n
    t = time.perf_counter()
    pipe.generate(og.TokenizedInputs(ov.Tensor(ids), ov.Tensor(np.ones_like(ids))), c)
    return n / (time.perf_counter() - t)
studio(0), genai(0)
a, b = zip(*[(studio(i), genai(i)) for i in range(1, 6)])
print(json.dumps({"studio": statistics.median(a), "genai": statistics.median(b)}))
"""


def last_json(out: subprocess.CompletedProcess) -> dict:
    lines = [x for x in out.stdout.splitlines() if x.startswith("{")]
    return json.loads(lines[-1]) if lines else {"error": out.stderr[-600:]}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--tokens", type=int, default=64)
    ap.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "studio-bench-lm")
    a = ap.parse_args()
    from studio.engine.precision import cpu_caps

    model = a.work / "qwen2-0.5b-shape"
    if not (model / "config.json").is_file():
        subprocess.run([sys.executable, "-c", BUILD, str(model), str(ROOT)], check=True)
    rows: list[tuple[str, dict]] = []
    for mode in ("fp32", "int8", "int4"):  # Studio's torch paths, as the Writer runs them
        out = subprocess.run([sys.executable, str(ROOT / "tests/benchmarks/bench_writer_engines.py"), "--child",
                              mode, "--tokens", str(a.tokens)], capture_output=True, text=True)  # fmt: skip
        rows.append((f"Studio, torch {mode}", last_json(out)))
    for weights in ("int8", "int4"):  # Studio's own OpenVINO path: its conversion, its token loop
        runs = []
        for _ in ("first: converts, unless cached", "second: from the cache"):
            out = subprocess.run([sys.executable, "-c", STUDIO, str(model), weights, str(a.tokens),
                                  str(a.work / "studio-cache")], capture_output=True, text=True, cwd=ROOT)  # fmt: skip
            runs.append(last_json(out))
        rows.append((f"Studio, OpenVINO {weights}", {**runs[1], "load_s": runs[0].get("load_s", "?")}))
    for weights in ("int8", "int4"):
        exported = a.work / f"stateful-{weights}"
        if not (exported / "openvino_model.xml").is_file():
            shutil.rmtree(exported, ignore_errors=True)
            subprocess.run([sys.executable, "-c", EXPORT, str(model), str(exported), weights], check=True,
                           capture_output=True)  # fmt: skip
        out = subprocess.run([sys.executable, "-c", GENAI, str(exported), str(a.tokens)], capture_output=True,
                             text=True, cwd=ROOT)  # fmt: skip
        rows.append((f"OpenVINO GenAI, {weights} weights", last_json(out)))
    # the same int8 network (Studio's, with the tokenizer networks beside it) under both token loops, alternating
    # in one process: what Studio's loop costs against LLMPipeline's, apart from the network and the moment
    (studio_int8,) = (a.work / "studio-cache").glob("*-lm-*-int8")
    both = a.work / "studio-network-for-genai"
    shutil.rmtree(both, ignore_errors=True)
    shutil.copytree(studio_int8, both)
    for f in (a.work / "stateful-int8").glob("openvino_*tokenizer.*"):
        shutil.copy(f, both / f.name)
    out = subprocess.run([sys.executable, "-c", AB, str(model), str(both), str(a.work / "studio-cache"), "128"],
                         capture_output=True, text=True, cwd=ROOT)  # fmt: skip
    ab = last_json(out)
    base = rows[0][1].get("tok_s")
    print(f"CPU: {cpu_caps().describe()}; a 0.5 B causal LM (Qwen2.5-0.5B's shape), {a.tokens} tokens greedy")
    print("\n| engine | tokens/s | ÷ torch fp32 | peak resident (GB) |\n|---|---|---|---|")
    for name, r in rows:
        if "tok_s" not in r:
            print(f"| {name} | failed: {r.get('error', '')[-200:]!r} | | |")
            continue
        load = f" (first run's first job, converting: {r['load_s']} s)" if "load_s" in r else ""
        print(f"| {name}{load} | {r['tok_s']} | {r['tok_s'] / base:.2f}× | {r.get('peak_rss_gb', '')} |")
    if "studio" in ab:
        print(
            f"\nStudio's int8 network, 128 tokens, medians of 5 alternating jobs in one process: Studio's token loop "
            f"{ab['studio']:.1f} tokens/s, LLMPipeline {ab['genai']:.1f} ({ab['studio'] / ab['genai']:.2f}×)"
        )
    else:
        print(f"\nthe same-network comparison failed: {ab.get('error', '')[-300:]!r}")


if __name__ == "__main__":
    main()
