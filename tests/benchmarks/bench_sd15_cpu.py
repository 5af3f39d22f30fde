"""SD 1.5 on the CPU: bare diffusers in fp32 (what AUTOMATIC1111 and ComfyUI users get on a CPU) ÷ Studio's default
path, in one run, on an SD 1.5-architecture pipeline with random weights built in code (860 M-parameter UNet;
saved once as fp16 safetensors, as real checkpoints are distributed, and loaded from there by both).

Prints, for each size: seconds per image (20 steps of Euler, CFG 7), the ratio, the peak resident memory of each
phase, and the agreement (cosine) of Studio's final latents with the fp32 ones; then a few-step run (LCM
scheduler, 4 steps, CFG 1) at 512²; then a whole `studio generate` process (start, load, one 256² image) ÷ a whole
bare-diffusers process doing the same.

    .venv/bin/python tests/benchmarks/bench_sd15_cpu.py [--sizes 256,512] [--steps 20] [--no-process]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import queue
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
PROMPT, NEGATIVE = "a lighthouse on a cliff at dusk, oil painting", "blurry"


def build(folder: Path) -> Path:
    """An SD 1.5-architecture diffusers folder with random weights (fp16 on disk), built once."""
    if (folder / "model_index.json").is_file():
        return folder
    import torch
    from diffusers import AutoencoderKL, EulerDiscreteScheduler, StableDiffusionPipeline, UNet2DConditionModel
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTokenizer

    from studio.core.io.paths import resource

    cfg = resource("model_configs", "sd1")
    torch.manual_seed(0)
    pipe = StableDiffusionPipeline(
        vae=AutoencoderKL.from_config(AutoencoderKL.load_config(cfg / "vae")),
        text_encoder=CLIPTextModel(CLIPTextConfig.from_pretrained(cfg / "text_encoder")),
        tokenizer=CLIPTokenizer.from_pretrained(cfg / "tokenizer", model_max_length=77),
        unet=UNet2DConditionModel.from_config(UNet2DConditionModel.load_config(cfg / "unet")),
        scheduler=EulerDiscreteScheduler.from_pretrained(cfg / "scheduler"),
        safety_checker=None,
        feature_extractor=None,
        requires_safety_checker=False,
    )
    pipe.to(torch.float16).save_pretrained(str(folder), safe_serialization=True)
    return folder


def peak_reset() -> None:
    with contextlib.suppress(OSError):
        Path("/proc/self/clear_refs").write_text("5")  # resets VmHWM (Linux)


def peak_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM"):
            return int(line.split()[1]) / 1024
    return 0.0


def on_runner(rt, fn):  # noqa: ANN001, ANN201 - torch's thread team belongs to the thread that calls
    out: queue.Queue = queue.Queue()
    rt.runner.call_soon(lambda: out.put(fn()))
    return out.get()


def cosine(a, b) -> float:  # noqa: ANN001
    a, b = a.flatten().double(), b.flatten().double()
    return float((a @ b) / (a.norm() * b.norm()))


def main() -> None:
    sys.stdout.reconfigure(line_buffering=True)  # type: ignore[attr-defined]
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="256,512")
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "studio-bench-sd15")
    ap.add_argument("--no-process", action="store_true", help="skip the whole-process comparison")
    a = ap.parse_args()
    sizes = [int(s) for s in a.sizes.split(",")]

    import torch
    from diffusers import EulerDiscreteScheduler, StableDiffusionPipeline

    import studio.engine.image as engine_image
    from studio.core.image.specs import GenerateSpec
    from studio.core.jobs.events import Failed, Finished
    from studio.engine.precision import cpu_caps, use_physical_cores
    from studio.runtime import build_runtime

    model = build(a.work / "sd15-random")
    rt = build_runtime(a.work / "home")
    threads = on_runner(rt, use_physical_cores)
    caps = cpu_caps()
    print(f"CPU: {caps.describe()}; torch {torch.__version__}, {threads} threads")

    # -- bare diffusers, fp32 ----------------------------------------------------------------------------------
    peak_reset()
    pipes = {}  # the bare pipeline, dropped before Studio's phase
    pipes["bare"] = bare = StableDiffusionPipeline.from_pretrained(str(model), dtype=torch.float32, safety_checker=None,
                                                   requires_safety_checker=False)  # fmt: skip
    bare.scheduler = EulerDiscreteScheduler.from_config(bare.scheduler.config)
    bare.set_progress_bar_config(disable=True)

    def bare_image(size: int, steps: int) -> tuple[float, torch.Tensor]:
        t = time.perf_counter()
        lat = pipes["bare"](
            PROMPT,
            negative_prompt=NEGATIVE,
            width=size,
            height=size,
            num_inference_steps=steps,
            guidance_scale=7.0,
            generator=torch.Generator("cpu").manual_seed(1),
            output_type="latent",
        ).images
        with torch.no_grad():
            vae = pipes["bare"].vae
            vae.decode(lat / vae.config.scaling_factor)
        return time.perf_counter() - t, lat.float().clone()

    bare_results = {}
    for size in sizes:
        on_runner(rt, lambda s=size: bare_image(s, 1))  # warm-up: oneDNN picks its kernels per shape
        bare_results[size] = on_runner(rt, lambda s=size: bare_image(s, a.steps))
    bare_peak = peak_mb()
    pipes.clear()
    del bare
    import gc

    gc.collect()

    # -- Studio's default path: a job on the runtime (queue → engine → PNG with metadata → index) -------------------
    captured: list[torch.Tensor] = []
    real_decode = engine_image.decode

    def capture(model_, pipe, latents):  # noqa: ANN001, ANN202
        captured.append(latents.float().clone())
        return real_decode(model_, pipe, latents)

    engine_image.decode = capture
    done: queue.Queue = queue.Queue()
    rt.subscribe(lambda e: isinstance(e, Finished | Failed) and done.put(e))

    def studio_image(size: int, steps: int, **kw: object) -> float:
        spec = GenerateSpec(model=str(model), prompt=PROMPT, negative_prompt=NEGATIVE, width=size, height=size,
                            steps=steps, cfg_scale=7.0, seed=1, sampler="Euler", schedule="Automatic")  # fmt: skip
        spec = spec.replace(**kw) if kw else spec
        t = time.perf_counter()
        rt.runner.submit(spec)
        e = done.get()
        assert isinstance(e, Finished), getattr(e, "error", e)
        return time.perf_counter() - t

    peak_reset()
    print(f"\nSD 1.5 architecture, random weights, {a.steps} steps Euler, CFG 7, one image per run")
    print(f"{'size':>6} {'bare fp32':>11} {'Studio':>9} {'ratio':>7} {'cosine':>8}")
    for size in sizes:
        studio_image(size, 1)  # warm-up (the first job also loads the model)
        captured.clear()
        s = studio_image(size, a.steps)
        b, bare_lat = bare_results[size]
        cos = cosine(captured[-1], bare_lat)
        print(f"{size:>5}² {b:>10.2f}s {s:>8.2f}s {b / s:>6.2f}× {cos:>8.4f}")
    studio_peak = peak_mb()
    dtype = rt.image_engine.cache.loaded.placement.dtype_name if rt.image_engine.cache.loaded else "?"
    print(f"Studio precision: {dtype}")
    print(f"peak resident memory: bare fp32 {bare_peak:.0f} MB, Studio {studio_peak:.0f} MB")

    studio_image(512, 1, sampler="LCM", cfg_scale=1.0)
    lcm = studio_image(512, 4, sampler="LCM", cfg_scale=1.0)
    print(f"few-step (LCM scheduler, 4 steps, CFG 1) at 512²: {lcm:.2f} s per image in Studio")
    rt.close()

    if a.no_process:
        return
    # -- whole processes: start, load, one 256² image ------------------------------------------------------------
    out = a.work / "out"
    bare_script = (
        "import sys, torch\n"
        "from diffusers import StableDiffusionPipeline, EulerDiscreteScheduler\n"
        "p = StableDiffusionPipeline.from_pretrained(sys.argv[1], dtype=torch.float32, safety_checker=None,"
        " requires_safety_checker=False)\n"
        "p.scheduler = EulerDiscreteScheduler.from_config(p.scheduler.config)\n"
        f"p({PROMPT!r}, negative_prompt={NEGATIVE!r}, width=256, height=256, num_inference_steps={a.steps},"
        " guidance_scale=7.0, generator=torch.Generator('cpu').manual_seed(1)).images[0].save(sys.argv[2])\n"
    )
    env = {**os.environ, "STUDIO_HOME": str(a.work / "home")}
    t = time.perf_counter()
    subprocess.run([sys.executable, "-c", bare_script, str(model), str(a.work / "bare.png")], check=True, env=env,
                   capture_output=True)  # fmt: skip
    bare_s = time.perf_counter() - t
    t = time.perf_counter()
    subprocess.run([sys.executable, "-m", "studio", "generate", PROMPT, "--negative", NEGATIVE, "--model",
                    str(model), "--width", "256", "--height", "256", "--steps", str(a.steps), "--sampler", "Euler",
                    "--cfg", "7", "--seed", "1", "--out", str(out)], check=True, env=env, capture_output=True,
                   cwd=ROOT)  # fmt: skip
    studio_s = time.perf_counter() - t
    print(f"\nwhole process (start, load, one 256² image): bare diffusers {bare_s:.1f} s, `studio generate` "
          f"{studio_s:.1f} s, ratio {bare_s / studio_s:.2f}×")  # fmt: skip


if __name__ == "__main__":
    main()
