"""The Writer's engines, measured in one run:

1. **Server path**: tokens/s of Studio's engine path (the OpenAI-compatible handler, streaming through the runner
   and its events, as the Writer and ``studio write --engine`` use it) ÷ the server's own stream read by a bare
   client (``http.client``, SSE lines counted) — the same `transformers serve`, prompt, settings, alternating runs.
2. **Quantized local models**: a ~0.5 B-parameter causal LM built in code (Qwen2.5-0.5B's shape, random weights),
   fp32 vs bf16 vs int8 vs int4 weight-only — tokens/s (greedy) and peak memory, each in its own process.
3. **Quality**: the Storyteller's held-out perplexity (the 451 documents the workshop held out; needs the Debian
   packages bible-kjv and fortunes) at full precision, int8 and int4.

    .venv/bin/python tests/benchmarks/bench_writer_engines.py [--part server|quant|quality|all] [--tokens 64]
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
sys.path.append(str(ROOT / "packaging"))
STORYTELLER = ROOT / "resources" / "models" / "storyteller"
PROMPT = "And it came to pass in those days, that the king"


# -- 1. the server path ---------------------------------------------------------------------------------------
def bare_stream(base: str, model: str, tokens: int) -> tuple[int, float]:
    """(chunks, seconds from the first to the last) of /v1/completions streamed and read with http.client."""
    host, _, rest = base.removeprefix("http://").partition("/")
    conn = http.client.HTTPConnection(host, timeout=120)
    body = json.dumps(
        {"model": model, "prompt": PROMPT, "max_tokens": tokens, "temperature": 0, "stream": True}
    )
    conn.request("POST", f"/{rest}/completions", body, {"Content-Type": "application/json"})
    resp = conn.getresponse()
    n, first, last = 0, None, 0.0
    for raw in resp:
        line = raw.strip()
        if line.startswith(b"data:") and line != b"data: [DONE]":
            data = json.loads(line[5:])
            if data["choices"] and data["choices"][0].get("text"):
                now = time.perf_counter()
                first = first or now
                last, n = now, n + 1
    conn.close()
    return n, (last - first) if first else 0.0


def engine_stream(runtime, base: str, model: str, tokens: int) -> tuple[int, float]:
    """The same through Studio: a WriteSpec with the engine, submitted to the runner, tokens counted as events."""
    import threading

    from studio.core.jobs.events import Failed, Finished, Token
    from studio.core.text.text_specs import WriteSpec

    done = threading.Event()
    stamps: list[float] = []

    def on(e) -> None:  # noqa: ANN001
        if isinstance(e, Token):
            stamps.append(time.perf_counter())
        elif isinstance(e, Finished | Failed) and e.job_id == job:
            done.set()

    runtime.subscribe(on)
    spec = WriteSpec(
        model=model, prompt=PROMPT, max_new_tokens=tokens, temperature=0, engine=base, logprobs=0
    )
    job = runtime.runner.submit(spec)
    done.wait(300)
    runtime.unsubscribe(on)
    return len(stamps), (stamps[-1] - stamps[0]) if len(stamps) > 1 else 0.0


def server_part(tokens: int, rounds: int) -> dict:
    from studio.runtime import build_runtime
    from tests.servers import start_server

    work = Path(tempfile.mkdtemp())
    model = work / "storyteller"
    shutil.copytree(STORYTELLER, model)
    proc, base = start_server(model)
    runtime = build_runtime(work / "home")
    try:
        bare_stream(base, str(model), 8)  # warm both
        engine_stream(runtime, base, str(model), 8)
        bare, ours = [], []
        for _ in range(rounds):
            n, s = bare_stream(base, str(model), tokens)
            bare.append((n - 1) / s)
            n, s = engine_stream(runtime, base, str(model), tokens)
            ours.append((n - 1) / s)
    finally:
        runtime.close(5)
        proc.kill()
        shutil.rmtree(work, ignore_errors=True)
    b, o = statistics.median(bare), statistics.median(ours)
    return {"bare_client_tok_s": round(b, 1), "studio_engine_tok_s": round(o, 1), "ratio": round(o / b, 3),
            "rounds": rounds, "tokens": tokens}  # fmt: skip


# -- 2. quantized local models --------------------------------------------------------------------------------
QWEN_05B = dict(vocab_size=151936, hidden_size=896, intermediate_size=4864, num_hidden_layers=24,
                num_attention_heads=14, num_key_value_heads=2, max_position_embeddings=4096,
                tie_word_embeddings=True)  # fmt: skip


def quant_child(mode: str, tokens: int) -> dict:
    """In its own process: build the model, put it in ``mode``, generate; tokens/s and the process's peak RSS."""
    import torch
    from transformers import Qwen2Config, Qwen2ForCausalLM

    from studio.engine.precision import cpu_caps, use_physical_cores
    from studio.engine.quantize import quantize_cpu

    use_physical_cores()
    torch.manual_seed(0)
    dtype = torch.bfloat16 if mode in ("bf16", "int8", "int4") and cpu_caps().bf16 else torch.float32
    with torch.device("meta"):
        model = Qwen2ForCausalLM(Qwen2Config(**QWEN_05B))
    model = model.to_empty(device="cpu").to(dtype)  # (random weights without an fp32 copy first)
    model.tie_weights()
    for p in model.parameters():
        torch.nn.init.normal_(p, std=0.02)
    model.eval()
    params = sum(p.numel() for p in model.parameters())
    if mode in ("int8", "int4"):
        quantize_cpu(model, mode, cpu_caps().bf16)
    weights = sum(
        t.numel() * t.element_size()
        for t in {id(t): t for t in (*model.parameters(), *model.buffers())}.values()
    )
    ids = torch.randint(0, 32000, (1, 64))
    with torch.inference_mode():
        model.generate(ids, max_new_tokens=4, min_new_tokens=4, do_sample=False)
        t = time.perf_counter()
        model.generate(ids, max_new_tokens=tokens, min_new_tokens=tokens, do_sample=False)
        seconds = time.perf_counter() - t
    return {"mode": mode, "tok_s": round(tokens / seconds, 2), "peak_rss_gb": round(resource.getrusage(
        resource.RUSAGE_SELF).ru_maxrss / 2**20, 2), "rss_after_gb": round(rss() / 2**30, 2),
        "weights_gb": round(weights / 2**30, 2), "params_m": round(params / 1e6)}  # fmt: skip


def rss() -> int:
    """Resident memory now, after glibc hands freed blocks back (each mode measured the same way)."""
    from studio.engine.quantize import release_freed_memory

    release_freed_memory()
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


def quant_part(tokens: int) -> dict:
    from studio.engine.precision import cpu_caps

    rows = []
    for mode in ("fp32", "bf16", "int8", "int4"):
        out = subprocess.run([sys.executable, __file__, "--child", mode, "--tokens", str(tokens)],
                             capture_output=True, text=True, check=False)  # fmt: skip
        line = out.stdout.strip().splitlines()[-1] if out.stdout.strip() else ""
        rows.append(json.loads(line) if line.startswith("{") else {"mode": mode, "error": out.stderr[-400:]})
    base = next(r for r in rows if r["mode"] == "fp32")
    for r in rows:
        if "tok_s" in r and "tok_s" in base:
            r["speed_vs_fp32"] = round(r["tok_s"] / base["tok_s"], 2)
            r["memory_vs_fp32"] = round(r["rss_after_gb"] / base["rss_after_gb"], 2)
            r["weights_vs_fp32"] = round(r["weights_gb"] / base["weights_gb"], 2)
    return {"cpu": cpu_caps().describe(), "tokens": tokens, "rows": rows}


# -- 3. quality -------------------------------------------------------------------------------------------------
def quality_part() -> dict:
    import torch
    from workshop.story_corpus import load_corpus
    from workshop.story_train import perplexity

    from studio.engine.devices import Placement
    from studio.engine.text import TextEngine

    try:
        docs = load_corpus().held_out
    except Exception as e:  # noqa: BLE001 - the Debian corpora are not installed
        return {"skipped": f"the held-out corpus needs bible-kjv and fortunes ({e})"}
    out = {}
    for mode in ("none", "int8", "int4"):
        loaded = TextEngine(placement=lambda: Placement("cpu", torch.float32)).load(str(STORYTELLER), lambda e: None,
                                                                                     mode)  # fmt: skip
        out[mode] = round(perplexity(loaded.model, loaded.tokenizer, docs)["perplexity"], 3)
    out["int8_change_pct"] = round(100 * (out["int8"] / out["none"] - 1), 2)
    out["int4_change_pct"] = round(100 * (out["int4"] / out["none"] - 1), 2)
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--part", default="all", choices=("server", "quant", "quality", "all"))
    ap.add_argument("--tokens", type=int, default=64)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--child", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        print(json.dumps(quant_child(args.child, args.tokens)))
        return
    report = {}
    if args.part in ("server", "all"):
        report["server_path"] = server_part(max(args.tokens, 200), args.rounds)
        print(json.dumps(report["server_path"]), flush=True)
    if args.part in ("quant", "all"):
        report["quantized_0_5b"] = quant_part(args.tokens)
        print(json.dumps(report["quantized_0_5b"]), flush=True)
    if args.part in ("quality", "all"):
        report["storyteller_perplexity"] = quality_part()
        print(json.dumps(report["storyteller_perplexity"]), flush=True)
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
