"""Would the Writer's local models run faster on the CPU through OpenVINO GenAI? The same ~0.5 B-parameter causal LM
(Qwen2.5-0.5B's shape, random weights: ``bench_writer_engines.QWEN_05B``) generating greedily after a 64-token
prompt: Studio's torch paths (fp32, and int8/int4 weight-only — ``bench_writer_engines``' children) against
``openvino_genai.LLMPipeline`` on the same weights exported with int8 and int4 weights, each in its own process,
in one run. Prints tokens/s and peak resident memory.

OpenVINO GenAI reads models exported by optimum-intel, which pins transformers < 5.6 (Studio needs 5.x) and
torchvision, so the export and the GenAI runs happen in a second virtual environment, made once:

    python3.11 -m venv /tmp/ovgenai
    /tmp/ovgenai/bin/pip install --no-deps "transformers==5.5.*" "optimum==2.3.*" "optimum-intel==2.2.0" \\
        "openvino-genai==2026.4.1.0" "openvino-tokenizers==2026.4.1.0" "huggingface-hub>=1.3,<1.22" httpx \\
        "tokenizers==0.22.2"
    echo "$PWD/.venv/lib/python3.11/site-packages" > /tmp/ovgenai/lib/python3.11/site-packages/zz_studio.pth
    # Studio's diffusers needs a newer huggingface-hub; optimum does not need diffusers for a language model:
    printf 'import importlib.util as u\nf = u.find_spec\nu.find_spec = lambda n, p=None: None if n.split(".")[0] == "diffusers" else f(n, p)\n' \
        > /tmp/ovgenai/lib/python3.11/site-packages/sitecustomize.py

    .venv/bin/python tests/benchmarks/bench_lm_openvino.py --genai-python /tmp/ovgenai/bin/python [--tokens 64]
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


def last_json(out: subprocess.CompletedProcess) -> dict:
    lines = [x for x in out.stdout.splitlines() if x.startswith("{")]
    return json.loads(lines[-1]) if lines else {"error": out.stderr[-600:]}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--genai-python", required=True, help="the Python of the environment with optimum-intel")
    ap.add_argument("--tokens", type=int, default=64)
    ap.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "studio-bench-lm")
    a = ap.parse_args()
    from studio.engine.precision import cpu_caps

    model = a.work / "qwen2-0.5b-shape"
    if not (model / "config.json").is_file():
        subprocess.run([a.genai_python, "-c", BUILD, str(model), str(ROOT)], check=True)
    rows: list[tuple[str, dict]] = []
    for mode in ("fp32", "int8", "int4"):  # Studio's torch paths, as the Writer runs them
        out = subprocess.run([sys.executable, str(ROOT / "tests/benchmarks/bench_writer_engines.py"), "--child",
                              mode, "--tokens", str(a.tokens)], capture_output=True, text=True)  # fmt: skip
        rows.append((f"Studio, torch {mode}", last_json(out)))
    for weights in ("int8", "int4"):
        exported = a.work / f"openvino-{weights}"
        if not (exported / "openvino_model.xml").is_file():
            shutil.rmtree(exported, ignore_errors=True)
            cli = Path(a.genai_python).with_name("optimum-cli")
            subprocess.run([str(cli), "export", "openvino", "-m", str(model), "--task", "text-generation-with-past",
                            "--weight-format", weights, str(exported)], check=True, capture_output=True)  # fmt: skip
        out = subprocess.run([a.genai_python, "-c", GENAI, str(exported), str(a.tokens)], capture_output=True,
                             text=True, cwd=ROOT)  # fmt: skip
        rows.append((f"OpenVINO GenAI, {weights} weights", last_json(out)))
    base = rows[0][1].get("tok_s")
    print(f"CPU: {cpu_caps().describe()}; a 0.5 B causal LM (Qwen2.5-0.5B's shape), {a.tokens} tokens greedy")
    print("\n| engine | tokens/s | ÷ torch fp32 | peak resident (GB) |\n|---|---|---|---|")
    for name, r in rows:
        if "tok_s" not in r:
            print(f"| {name} | failed: {r.get('error', '')[-200:]!r} | | |")
            continue
        print(f"| {name} | {r['tok_s']} | {r['tok_s'] / base:.2f}× | {r.get('peak_rss_gb', '')} |")


if __name__ == "__main__":
    main()
