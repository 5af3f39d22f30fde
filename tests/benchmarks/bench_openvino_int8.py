"""What int8 convolutions cost in quality and give in speed (the CPU engine *openvino-int8*, auto's choice on a CPU
without bf16 instructions): the same model, prompts and seeds through the OpenVINO UNet with fp16 weights and with
int8 convolutions, in one process; the cosine of the final latents and the PSNR of the decoded pictures against the
fp16 network's, and the seconds of a UNet step of each.

The variants are made as Studio makes them (a job with ``--cpu-engine openvino-int8`` in a home of the benchmark's
own, kept in ``--work``). By default the SD 1.5-architecture folder of ``bench_sd15_cpu`` (random weights: a hard
case, its activations have no structure to keep) at 256², 20 Euler steps, CFG 7; ``--model resources/models/shapes
--size 64`` measures the built-in Shapes model (the held-out score of the same: ``workshop.shapes_eval score
--cpu-engine openvino-int8``). ``--force avx2`` holds OpenVINO and Studio's choices to AVX2 with no bf16.

    .venv/bin/python tests/benchmarks/bench_openvino_int8.py [--model FOLDER] [--size 256] [--seeds 3] [--force avx2]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
PROMPTS = ("a lighthouse on a cliff at dusk, oil painting", "a bowl of oranges on a table, studio photo",
           "a red circle on a blue background")  # fmt: skip


def make_variants(model: Path, home: Path, size: int) -> Path:
    """Studio's own OpenVINO cache of ``model`` with both variants (made by a job when not there yet)."""
    os.environ["STUDIO_HOME"] = str(home)
    from studio.__main__ import main as studio

    studio(["generate", "a test", "--model", str(model), "--width", str(size), "--height", str(size),
            "--steps", "2", "--cpu-engine", "openvino-int8", "--out", str(home / "out")])  # fmt: skip
    return home / "models" / "openvino-cache"


def run(pipe, unet, prompt: str, seed: int, size: int, steps: int, cfg: float):  # noqa: ANN001, ANN201
    import torch

    pipe.unet = unet
    calls = []
    inner = unet.forward

    def timed(*a, **k):  # noqa: ANN002, ANN003, ANN202
        started = time.perf_counter()
        out = inner(*a, **k)
        calls.append(time.perf_counter() - started)
        return out

    unet.forward = timed
    latents = pipe(prompt, negative_prompt="blurry", width=size, height=size, num_inference_steps=steps,
                   guidance_scale=cfg, generator=torch.Generator("cpu").manual_seed(seed),
                   output_type="latent").images  # fmt: skip
    unet.forward = inner
    with torch.no_grad():
        image = pipe.vae.decode(latents / pipe.vae.config.scaling_factor).sample.clamp(-1, 1)
    return latents.double().flatten(), image.double(), sorted(calls[1:])[len(calls[1:]) // 2]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", type=Path, default=None)
    ap.add_argument("--size", type=int, default=256)
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--cfg", type=float, default=7.0)
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--force", choices=("avx2", ""), default="")
    ap.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "studio-bench-int8")
    a = ap.parse_args()
    if a.force:  # before OpenVINO and torch are imported
        os.environ.update(STUDIO_CPU_FEATURES="avx2", ATEN_CPU_CAPABILITY="avx2", ONEDNN_MAX_CPU_ISA="AVX2")
    import torch
    from diffusers import EulerDiscreteScheduler, StableDiffusionPipeline

    from studio.engine.cpu_engine import unet_from
    from studio.engine.openvino_cache import Variant
    from studio.engine.precision import cpu_caps
    from tests.benchmarks.bench_sd15_cpu import build

    model = (a.model or build(Path(tempfile.gettempdir()) / "studio-bench-sd15" / "sd15")).resolve()
    root = make_variants(model, a.work / model.name, a.size)
    pipe = StableDiffusionPipeline.from_pretrained(model, dtype=torch.float32, safety_checker=None,
                                                   requires_safety_checker=False)  # fmt: skip
    pipe.scheduler = EulerDiscreteScheduler.from_config(pipe.scheduler.config)
    pipe.set_progress_bar_config(disable=True)
    variants = {w: Variant(root, model, (), w) for w in ("f16", "int8")}
    unets = {w: unet_from(v.manifest(), v) for w, v in variants.items()}
    print(f"CPU: {cpu_caps().describe()}{' (forced avx2)' if a.force else ''}; {model.name} at {a.size}², "
          f"{a.steps} Euler steps, CFG {a.cfg:g}; OpenVINO computing in {unets['f16'].hint}")  # fmt: skip
    print(
        "\n| prompt, seed | cosine of the final latents | PSNR of the picture (dB) | UNet step fp16 · int8 (s) |"
    )
    print("|---|---|---|---|")
    cosines, speed = [], []
    for i in range(a.seeds):
        prompt = PROMPTS[i % len(PROMPTS)]
        (la, ia, sa), (lb, ib, sb) = (run(pipe, unets[w], prompt, i, a.size, a.steps, a.cfg) for w in unets)
        cosine = float(torch.nn.functional.cosine_similarity(la, lb, dim=0))
        mse = float(((ia - ib) / 2).pow(2).mean())
        psnr = 10 * torch.log10(torch.tensor(1.0 / max(mse, 1e-12))).item()
        cosines.append(cosine)
        speed.append(sa / sb)
        print(f"| {prompt[:28]}…, {i} | {cosine:.4f} | {psnr:.1f} | {sa:.3f} · {sb:.3f} ({sa / sb:.2f}×) |")
    print(f"\nmean cosine {sum(cosines) / len(cosines):.4f}; int8 step {sum(speed) / len(speed):.2f}× fp16's")


if __name__ == "__main__":
    main()
