"""On an NVIDIA GPU: SD 1.5 at 512² and SDXL at 1024² (architectures with random weights, built in code), 30 steps
of Euler at CFG 7 — iterations per second of a bare diffusers pipeline (fp16, its defaults) against Studio's path
(the precision policy: bf16 from Ampere on, channels-last; with ``--compile`` also torch.compile), and the fraction
of the GPU's bf16 matrix peak that the UNet reaches (its FLOPs counted by torch's FLOP counter; the peak measured on
this card with a large bf16 matmul).

One prepared script, for a machine lent for minutes:

    .venv/bin/python tests/benchmarks/bench_gpu.py [--steps 30] [--compile] [--only sd15|sdxl]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))


def random_pipeline(family: str, dtype):  # noqa: ANN001, ANN201
    import torch
    from diffusers import (
        AutoencoderKL,
        EulerDiscreteScheduler,
        StableDiffusionPipeline,
        StableDiffusionXLPipeline,
        UNet2DConditionModel,
    )
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTextModelWithProjection, CLIPTokenizer

    from studio.core.io.paths import resource

    cfg = resource("model_configs", "sd1" if family == "sd15" else "sdxl")
    torch.manual_seed(0)
    parts = {
        "vae": AutoencoderKL.from_config(AutoencoderKL.load_config(cfg / "vae")),
        "text_encoder": CLIPTextModel(CLIPTextConfig.from_pretrained(cfg / "text_encoder")),
        "tokenizer": CLIPTokenizer.from_pretrained(cfg / "tokenizer", model_max_length=77),
        "unet": UNet2DConditionModel.from_config(UNet2DConditionModel.load_config(cfg / "unet")),
        "scheduler": EulerDiscreteScheduler.from_pretrained(cfg / "scheduler"),
    }
    if family == "sd15":
        pipe = StableDiffusionPipeline(**parts, safety_checker=None, feature_extractor=None,
                                       requires_safety_checker=False)  # fmt: skip
    else:
        parts["text_encoder_2"] = CLIPTextModelWithProjection(
            CLIPTextConfig.from_pretrained(cfg / "text_encoder_2")
        )
        parts["tokenizer_2"] = CLIPTokenizer.from_pretrained(cfg / "tokenizer_2", model_max_length=77)
        pipe = StableDiffusionXLPipeline(**parts)
    pipe.set_progress_bar_config(disable=True)
    return pipe.to("cuda", dtype)


def bf16_peak_tflops() -> float:
    import torch

    n = 8192
    a = torch.randn(n, n, device="cuda", dtype=torch.bfloat16)
    b = torch.randn(n, n, device="cuda", dtype=torch.bfloat16)
    for _ in range(3):
        a @ b
    torch.cuda.synchronize()
    t, reps = time.perf_counter(), 50
    for _ in range(reps):
        a @ b
    torch.cuda.synchronize()
    return 2 * n**3 * reps / (time.perf_counter() - t) / 1e12


def unet_flops(pipe, size: int) -> float:  # noqa: ANN001
    """FLOPs of one UNet call at this size, batch 2 (CFG), counted by torch."""
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    unet = pipe.unet
    lat = torch.randn(2, 4, size // 8, size // 8, device="cuda", dtype=unet.dtype)
    ctx = torch.randn(2, 77, unet.config.cross_attention_dim, device="cuda", dtype=unet.dtype)
    extra = {}
    if unet.config.addition_embed_type == "text_time":
        extra["added_cond_kwargs"] = {"text_embeds": torch.randn(2, 1280, device="cuda", dtype=unet.dtype),
                                      "time_ids": torch.zeros(2, 6, device="cuda", dtype=unet.dtype)}  # fmt: skip
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        unet(lat, torch.tensor(500, device="cuda"), ctx, **extra)
    return float(counter.get_total_flops())


def run(pipe, size: int, steps: int) -> float:  # noqa: ANN001
    import torch

    kw = {"prompt": "a lighthouse at dusk", "negative_prompt": "blurry", "width": size, "height": size,
          "guidance_scale": 7.0, "output_type": "latent"}  # fmt: skip
    pipe(num_inference_steps=2, generator=torch.Generator("cpu").manual_seed(0), **kw)  # warm-up
    torch.cuda.synchronize()
    t = time.perf_counter()
    pipe(num_inference_steps=steps, generator=torch.Generator("cpu").manual_seed(1), **kw)
    torch.cuda.synchronize()
    return steps / (time.perf_counter() - t)


def main() -> None:
    sys.stdout.reconfigure(line_buffering=True)  # type: ignore[attr-defined]
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=30)
    ap.add_argument("--compile", action="store_true", help="also Studio's maximum-speed mode (torch.compile)")
    ap.add_argument("--only", choices=["sd15", "sdxl"])
    a = ap.parse_args()

    import torch

    from studio.engine.precision import apply_precision, choose_precision

    if not torch.cuda.is_available():
        sys.exit("bench_gpu: no CUDA device here.")
    name = torch.cuda.get_device_name(0)
    peak = bf16_peak_tflops()
    print(f"{name}, compute capability {torch.cuda.get_device_capability()}, torch {torch.__version__}; "
          f"measured bf16 matmul peak {peak:.0f} TFLOP/s")  # fmt: skip
    for family, size in (("sd15", 512), ("sdxl", 1024)):
        if a.only and family != a.only:
            continue
        bare = random_pipeline(family, torch.float16)
        bare_its = run(bare, size, a.steps)
        del bare
        torch.cuda.empty_cache()
        studio = random_pipeline(family, torch.float32)
        precision = choose_precision("cuda", "auto")
        apply_precision(studio, precision)
        studio.to("cuda")
        studio_its = run(studio, size, a.steps)
        flops = unet_flops(studio, size)
        line = (f"{family} {size}²: bare diffusers fp16 {bare_its:.2f} it/s, Studio ({precision.name}, channels-last)"
                f" {studio_its:.2f} it/s ({studio_its / bare_its:.2f}×); UNet at {flops * studio_its / 1e12:.0f} "
                f"TFLOP/s = {flops * studio_its / 1e12 / peak:.0%} of the measured peak")  # fmt: skip
        if a.compile:
            studio.unet = torch.compile(studio.unet, fullgraph=False, dynamic=False)
            t = time.perf_counter()
            compiled_its = run(studio, size, a.steps)
            line += f"; compiled {compiled_its:.2f} it/s (warm-up {time.perf_counter() - t:.0f} s)"
        print(line)
        del studio
        torch.cuda.empty_cache()


if __name__ == "__main__":
    main()
