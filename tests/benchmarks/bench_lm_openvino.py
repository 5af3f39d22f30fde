"""Would the Writer's local models run faster on the CPU through OpenVINO GenAI? The same ~0.5 B-parameter causal LM
(Qwen2.5-0.5B's shape, random weights: ``bench_writer_engines.QWEN_05B``) generating greedily after a 64-token
prompt: Studio's torch paths (fp32, and int8/int4 weight-only — ``bench_writer_engines``' children) and Studio's OpenVINO
path (``cpu_engine="openvino"``: its own conversion and token loop) against ``openvino_genai.LLMPipeline`` on the
same weights with int8 and int4 weights (nncf), each in its own process, in one run. Prints tokens/s and peak
resident memory; Studio's OpenVINO rows are a second process's (from the cache), with the first process's first job
time (converting the model) beside them.

``LLMPipeline`` reads a *stateful* network (the KV cache kept inside it, a ``beam_idx`` input) and tokenizer
networks: it runs here on the network Studio's conversion made (``engine/openvino_lm_export.py``) with the
tokenizer converted by openvino-tokenizers beside it.
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

TOKENIZERS = r"""
import sys
import openvino as ov
from openvino_tokenizers import convert_tokenizer
from transformers import AutoTokenizer
tokenizer, detokenizer = convert_tokenizer(AutoTokenizer.from_pretrained(sys.argv[1]), with_detokenizer=True)
ov.save_model(tokenizer, sys.argv[2] + "/openvino_tokenizer.xml")
ov.save_model(detokenizer, sys.argv[2] + "/openvino_detokenizer.xml")
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
    for weights in (
        "int8",
        "int4",
    ):  # LLMPipeline on Studio's own network, with the tokenizer as networks beside it
        (network,) = (a.work / "studio-cache").glob(f"*-lm-*-{weights}")
        genai = a.work / f"for-genai-{weights}"
        shutil.rmtree(genai, ignore_errors=True)
        shutil.copytree(network, genai)
        shutil.copy(model / "config.json", genai)
        subprocess.run(
            [sys.executable, "-c", TOKENIZERS, str(model), str(genai)], check=True, capture_output=True
        )
        out = subprocess.run([sys.executable, "-c", GENAI, str(genai), str(a.tokens)], capture_output=True,
                             text=True, cwd=ROOT)  # fmt: skip
        rows.append((f"OpenVINO GenAI, {weights} weights", last_json(out)))
    # the same int8 network under both token loops, alternating in one process: what Studio's loop costs against
    # LLMPipeline's, apart from the moment (this machine's speed drifts between processes)
    out = subprocess.run([sys.executable, "-c", AB, str(model), str(a.work / "for-genai-int8"),
                          str(a.work / "studio-cache"), "128"], capture_output=True, text=True, cwd=ROOT)  # fmt: skip
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
