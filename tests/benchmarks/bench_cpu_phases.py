"""Where a whole `studio generate` process spends its time, phase by phase, against a bare diffusers process doing
the same work — on the path of a CPU without bf16 instructions (forced with ``STUDIO_CPU_FEATURES=avx2`` when this
CPU has them), or this CPU's own path (``--native``). Forced, ATen's kernels and oneDNN's are held to AVX2 too
(``ATEN_CPU_CAPABILITY``, ``ONEDNN_MAX_CPU_ISA``), so the whole stack runs as on such a CPU.

Both processes make one picture of an SD 1.5-architecture folder (random weights, fp16 on disk, built once) at
256², 20 Euler steps, CFG 7. Each child marks its phases from inside (wrapped functions, the same ones in both
where they are shared: the pipeline's call, the VAE's decode); the parent measures the whole process. Phases:

- start → imports: the interpreter and the libraries (until the first model-loading call);
- identify: what Studio does before loading (settings, the gallery store, the recipe, the model's header);
- load: the pipeline from the folder (and, in Studio, its precision and memory plan);
- encode: the prompts' text encodings;
- denoise: the sampler's steps (the pipeline's call without its own encoding and decoding);
- decode: the VAE;
- save: the PNG (Studio: with its recipe, atomically, and the gallery's index row);
- exit: after the last phase until the process has ended.

    .venv/bin/python tests/benchmarks/bench_cpu_phases.py [--steps 20] [--size 256] [--native] [--runs 1]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
PROMPT, NEGATIVE = "a lighthouse on a cliff at dusk, oil painting", "blurry"
PHASES = ("imports", "identify", "load", "encode", "denoise", "decode", "save", "exit")

# Wrappers a child installs before it starts: each records (name, start, end) in perf_counter seconds since the
# child began; the pipeline call's own encoding and decoding are counted under theirs, not under denoise.
_MARKS = r"""
import atexit, json, sys, time
T0 = time.perf_counter()
MARKS = []
def _wrap(owner, attr, name):
    inner = getattr(owner, attr)
    def timed(*a, **k):
        t = time.perf_counter()
        try:
            return inner(*a, **k)
        finally:
            MARKS.append((name, t - T0, time.perf_counter() - T0))
    setattr(owner, attr, timed)
def _install():
    import diffusers
    from diffusers import AutoencoderKL, StableDiffusionPipeline, UNet2DConditionModel
    _wrap(UNet2DConditionModel, "forward", "unet")
    _wrap(StableDiffusionPipeline, "__call__", "call")
    _wrap(StableDiffusionPipeline, "encode_prompt", "encode")
    _wrap(AutoencoderKL, "decode", "decode")
    return diffusers
atexit.register(lambda: print("MARKS " + json.dumps(MARKS), file=sys.stderr, flush=True))
"""

BARE = (
    _MARKS
    + r"""
import torch
_install()
from diffusers import EulerDiscreteScheduler, StableDiffusionPipeline
MARKS.append(("imports", 0.0, time.perf_counter() - T0))
t = time.perf_counter()
p = StableDiffusionPipeline.from_pretrained(sys.argv[1], dtype=torch.float32, safety_checker=None,
                                            requires_safety_checker=False)
p.scheduler = EulerDiscreteScheduler.from_config(p.scheduler.config)
MARKS.append(("load", t - T0, time.perf_counter() - T0))
image = p(sys.argv[3], negative_prompt=sys.argv[4], width=int(sys.argv[5]), height=int(sys.argv[5]),
          num_inference_steps=int(sys.argv[6]), guidance_scale=7.0,
          generator=torch.Generator("cpu").manual_seed(1)).images[0]
t = time.perf_counter()
image.save(sys.argv[2])
MARKS.append(("save", t - T0, time.perf_counter() - T0))
"""
)

STUDIO = (
    _MARKS
    + r"""
import studio.engine.image as engine_image
import studio.engine.pipelines as pipelines
from studio.core.gallery.gallery_store import GalleryStore
from studio.cli import main
_install()
_wrap(pipelines.PipelineCache, "get", "load")
_wrap(engine_image, "encode", "encode")
_wrap(GalleryStore, "save", "save")
from studio.engine.openvino_unet import OpenVinoUNet
_wrap(OpenVinoUNet, "forward", "unet")  # the OpenVINO engine's UNet (compiling it for the job's shapes apart)
_wrap(OpenVinoUNet, "request_for", "compile")
MARKS.append(("imports", 0.0, time.perf_counter() - T0))
sys.exit(main(["generate", sys.argv[3], "--negative", sys.argv[4], "--model", sys.argv[1], "--width", sys.argv[5],
               "--height", sys.argv[5], "--steps", sys.argv[6], "--sampler", "Euler", "--cfg", "7", "--seed", "1",
               "--out", sys.argv[2]]))
"""
)


def phases(marks: list[list], total: float) -> dict[str, float]:
    """Seconds per phase from a child's marks (nested encode/decode taken out of the pipeline call)."""
    spans: dict[str, float] = {}
    first: dict[str, float] = {}
    last = 0.0
    for name, start, end in marks:
        spans[name] = spans.get(name, 0.0) + (end - start)
        first.setdefault(name, start)
        last = max(last, end)
    call = spans.pop("call", 0.0)
    unet = spans.pop("unet", 0.0)
    inside = sum(end - start for name, start, end in marks if name in ("encode", "decode")
                 and any(c[0] == "call" and c[1] <= start and end <= c[2] for c in marks))  # fmt: skip
    out = {
        "imports": spans.get("imports", 0.0),
        "load": spans.get("load", 0.0),
        "encode": spans.get("encode", 0.0),
        "denoise": call - inside,
        "decode": spans.get("decode", 0.0),
        "save": spans.get("save", 0.0),
        "exit": max(0.0, total - last),
    }
    out["identify"] = max(
        0.0, total - sum(out.values())
    )  # what is left: Studio's own work before and between
    out["unet"] = unet  # of the denoising: the UNet's own forward passes
    out["compile"] = spans.get("compile", 0.0)  # of those: OpenVINO compiling the UNet for the job's shapes
    return out


def run(
    script: str, model: Path, out: Path, size: int, steps: int, env: dict[str, str]
) -> tuple[float, dict]:
    t = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", script, str(model), str(out), PROMPT, NEGATIVE, str(size),
                           str(steps)], env=env, capture_output=True, text=True, cwd=ROOT)  # fmt: skip
    total = time.perf_counter() - t
    if done.returncode:
        raise SystemExit(f"the child failed:\n{done.stderr[-3000:]}")
    line = next(x for x in done.stderr.splitlines() if x.startswith("MARKS "))
    return total, phases(json.loads(line[6:]), total)


def main() -> None:
    from tests.benchmarks.bench_sd15_cpu import build

    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--size", type=int, default=256)
    ap.add_argument("--runs", type=int, default=1)
    ap.add_argument(
        "--native", action="store_true", help="this CPU's own path (else: forced to AVX2, no bf16)"
    )
    ap.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "studio-bench-sd15")
    a = ap.parse_args()
    model = build(a.work / "sd15")
    env = {**os.environ, "STUDIO_HOME": str(a.work / "home")}
    if not a.native:  # Studio's choices, ATen's kernels and oneDNN's as on a CPU with AVX2 and nothing newer
        env.update(
            STUDIO_CPU_FEATURES="avx2",
            ATEN_CPU_CAPABILITY="avx2",
            ONEDNN_MAX_CPU_ISA="AVX2",
            DNNL_MAX_CPU_ISA="AVX2",
        )
    from studio.engine.precision import cpu_caps

    print(f"CPU: {cpu_caps().describe()}; path measured: {'its own' if a.native else 'forced to AVX2 (fp32)'}; "
          f"{a.size}², {a.steps} Euler steps, CFG 7, one picture per process")  # fmt: skip
    results: dict[str, list[tuple[float, dict]]] = {"bare": [], "studio": []}
    for i in range(a.runs):  # alternating, so a slow minute of the machine hurts both alike
        results["bare"].append(run(BARE, model, a.work / f"bare-{i}.png", a.size, a.steps, env))
        results["studio"].append(run(STUDIO, model, a.work / "out", a.size, a.steps, env))
    for i, (b, s) in enumerate(zip(results["bare"], results["studio"], strict=True)):
        print(f"run {i + 1}: bare {b[0]:.1f} s, studio {s[0]:.1f} s")
    median = {k: _median(v) for k, v in results.items()}  # the run of median total time of each
    print("\n| phase | bare diffusers (s) | `studio generate` (s) | Studio − bare (s) |\n|---|---|---|---|")
    for name in PHASES:
        b, s = median["bare"][1].get(name, 0.0), median["studio"][1].get(name, 0.0)
        print(f"| {name} | {b:.1f} | {s:.1f} | {s - b:+.1f} |")
        if name == "denoise":
            b, s = median["bare"][1]["unet"], median["studio"][1]["unet"]
            print(f"| … of which the UNet's forward passes | {b:.1f} | {s:.1f} | {s - b:+.1f} |")
            s = median["studio"][1]["compile"]
            print(f"| … … of which compiling the OpenVINO UNet for the job's shapes | — | {s:.1f} | |")
    b_total, s_total = median["bare"][0], median["studio"][0]
    print(f"| **whole process** | **{b_total:.1f}** | **{s_total:.1f}** | **{s_total - b_total:+.1f}** |")
    print(f"\nratio (bare ÷ Studio, medians of {a.runs}): {b_total / s_total:.2f}×")


def _median(runs: list[tuple[float, dict]]) -> tuple[float, dict]:
    ordered = sorted(runs, key=lambda r: r[0])
    return ordered[len(ordered) // 2]


if __name__ == "__main__":
    main()
