"""Studio's CPU engines against a bare diffusers fp32 process, whole processes, per CPU kind: one picture of the SD
1.5-architecture folder (random weights, built once by ``bench_sd15_cpu``) per process, timed from outside, with
each process's peak resident memory (``wait4``'s ``ru_maxrss``).

- bare: a plain diffusers script (fp32, the same sampler, steps and CFG);
- studio torch: ``studio generate --cpu-engine torch`` (Studio's torch path: bf16 where the CPU has it);
- studio openvino, first run: with an empty cache, so its time includes converting the UNet;
- studio openvino, second run: from the cache (what every later job is).

``--force avx2`` measures a CPU without bf16 instructions on a better one: Studio's choices
(``STUDIO_CPU_FEATURES``), ATen's kernels (``ATEN_CPU_CAPABILITY``) and oneDNN's — OpenVINO's too
(``ONEDNN_MAX_CPU_ISA``) — are held to AVX2. ``--lcm`` makes the few-step case: the LCM sampler, 4 steps, CFG 1; ``--engine`` names an OpenVINO variant instead
of Studio's default (auto: fp16 weights computed in bf16 where the CPU has bf16 instructions, int8 convolutions
where it has not).

    .venv/bin/python tests/benchmarks/bench_cpu_engines.py [--size 256] [--runs 2] [--force avx2] [--lcm]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
PROMPT, NEGATIVE = "a lighthouse on a cliff at dusk, oil painting", "blurry"

BARE = r"""
import sys, torch
from diffusers import EulerDiscreteScheduler, LCMScheduler, StableDiffusionPipeline
model, out, prompt, negative, size, steps, cfg, sampler = sys.argv[1:9]
p = StableDiffusionPipeline.from_pretrained(model, dtype=torch.float32, safety_checker=None,
                                            requires_safety_checker=False)
cls = LCMScheduler if sampler == "LCM" else EulerDiscreteScheduler
p.scheduler = cls.from_config(p.scheduler.config)
p.set_progress_bar_config(disable=True)
p(prompt, negative_prompt=negative, width=int(size), height=int(size), num_inference_steps=int(steps),
  guidance_scale=float(cfg), generator=torch.Generator("cpu").manual_seed(1)).images[0].save(out)
"""


def child(argv: list[str], env: dict[str, str]) -> tuple[float, float, float]:
    """(seconds, peak resident MB, peak anonymous MB) of one whole process. Resident memory counts the pages of
    files a process maps (OpenVINO maps its cache file: clean pages the kernel can drop under pressure);
    anonymous memory is what only swapping could free (sampled every 0.1 s)."""
    started = time.perf_counter()
    proc = subprocess.Popen(argv, env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    anon = [0]

    def sample() -> None:
        while proc.returncode is None:
            try:
                for line in Path(f"/proc/{proc.pid}/status").read_text().splitlines():
                    if line.startswith("RssAnon:"):
                        anon[0] = max(anon[0], int(line.split()[1]))
            except OSError:
                return
            time.sleep(0.1)

    threading.Thread(target=sample, daemon=True).start()
    err = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - started
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode:
        raise SystemExit(f"{argv[:3]} failed:\n{err[-3000:]}")
    return seconds, usage.ru_maxrss / 1024, anon[0] / 1024


def main() -> None:
    from tests.benchmarks.bench_sd15_cpu import build

    ap = argparse.ArgumentParser()
    ap.add_argument("--size", type=int, default=256)
    ap.add_argument("--runs", type=int, default=2, help="alternating runs of each (medians)")
    ap.add_argument("--force", choices=("avx2", "no-bf16", "avx512_bf16"), default="",
                    help="no-bf16: Studio's and OpenVINO's choices as without bf16, the kernels still AVX-512")  # fmt: skip
    ap.add_argument(
        "--lcm", action="store_true", help="LCM sampler, 4 steps, CFG 1 (else Euler, 20 steps, CFG 7)"
    )
    ap.add_argument(
        "--engine",
        default="auto",
        choices=("auto", "openvino", "openvino-int8"),
        help="Studio's engine (auto, the default: OpenVINO, with int8 convolutions on a CPU without bf16)",
    )
    ap.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "studio-bench-sd15")
    a = ap.parse_args()
    model = build(a.work / "sd15")
    sampler, steps, cfg = ("LCM", 4, 1.0) if a.lcm else ("Euler", 20, 7.0)
    env = dict(os.environ)
    if a.force:
        env["STUDIO_CPU_FEATURES"] = "avx2" if a.force == "no-bf16" else a.force
        if a.force == "avx2":
            env.update(ATEN_CPU_CAPABILITY="avx2", ONEDNN_MAX_CPU_ISA="AVX2", DNNL_MAX_CPU_ISA="AVX2")
    os.environ.update({k: env[k] for k in ("STUDIO_CPU_FEATURES",) if k in env})
    from studio.engine.precision import cpu_caps

    print(f"CPU: {cpu_caps().describe()}{' (forced ' + a.force + ')' if a.force else ''}; {a.size}², {sampler}, "
          f"{steps} steps, CFG {cfg:g}; whole processes, medians of {a.runs}")  # fmt: skip
    bare = [sys.executable, "-c", BARE, str(model), str(a.work / "bare.png"), PROMPT, NEGATIVE, str(a.size),
            str(steps), str(cfg), sampler]  # fmt: skip

    def studio(engine: str, home: Path) -> list[str]:
        return [sys.executable, "-m", "studio", "--home", str(home), "generate", PROMPT, "--negative", NEGATIVE,
                "--model", str(model), "--width", str(a.size), "--height", str(a.size), "--steps", str(steps),
                "--sampler", sampler, "--cfg", str(cfg), "--seed", "1", "--cpu-engine", engine,
                "--out", str(a.work / "out")]  # fmt: skip

    fresh = a.work / "home-first"
    shutil.rmtree(fresh, ignore_errors=True)
    first = child(studio(a.engine, fresh), env)  # converts, into a cache of its own
    runs: dict[str, list[tuple[float, float, float]]] = {"bare": [], "torch": [], "openvino": []}
    for _ in range(a.runs):  # alternating, so a slow minute of the machine hurts all alike
        runs["bare"].append(child(bare, env))
        runs["torch"].append(child(studio("torch", fresh), env))
        runs["openvino"].append(child(studio(a.engine, fresh), env))
    med = {k: sorted(v)[len(v) // 2] for k, v in runs.items()}
    b = med["bare"][0]
    print(
        "\n| process | seconds | bare ÷ it | peak resident (MB) | peak anonymous (MB) |\n|---|---|---|---|---|"
    )
    rows = (
        ("bare diffusers fp32", med["bare"]),
        ("studio, torch", med["torch"]),
        (f"studio, {a.engine}, first run (converts)", first),
        (f"studio, {a.engine}, second run", med["openvino"]),
    )
    for name, (seconds, resident, anonymous) in rows:
        print(f"| {name} | {seconds:.1f} | {b / seconds:.2f}× | {resident:.0f} | {anonymous:.0f} |")
    print("\nall runs (s):", {k: [round(r[0], 1) for r in v] for k, v in runs.items()})


if __name__ == "__main__":
    main()
