"""LoRA training: Studio's steps/s (the real path: queue job → trainer subprocess → relayed events) ÷ a bare
peft + diffusers loop with the same model, pictures and settings; peak memory of each (in a fresh process); and
the GUI thread's longest stall while the Fine-tune room trains.

    .venv/bin/python tests/benchmarks/bench_train.py [--steps 40] [--resolution 128] [--runs 2]

The model is a small SD 1.x-shaped pipeline built in code (about 4 M UNet parameters), so the numbers speak for
the training loop's overhead, not for a real SD 1.5 (which a CPU trains at minutes per step).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).parent))

RANK, LR, BATCH, SEED = 8, 1e-4, 2, 0


def make_fixture(folder: Path) -> tuple[Path, Path]:
    """(a diffusers folder, a dataset folder of 12 pictures with captions)."""
    from studio.core.train.dataset import Dataset
    from tests.tiny_models import build_sd_pipeline
    from tests.training.conftest import photos

    model = folder / "model"
    if not model.is_dir():
        build_sd_pipeline(channels=(64, 128)).save_pretrained(str(model), safe_serialization=True)
    ds = Dataset(folder / "dataset", trigger="sks", class_word="disc")
    if not ds.folder.is_dir():
        ds.add_files([photos(folder / "pics", n=12, size=(320, 320))])
        for i, img in enumerate(ds.images):
            img.caption = f"a red disc, picture {i}"
        ds.save()
    return model, ds.folder


def bare_loop(model: Path, dataset: Path, steps: int, resolution: int) -> dict[str, float]:
    """The baseline: what a person writes with diffusers + peft alone (cached latents, AdamW, constant LR,
    gradient clipping), timed over the same steps."""
    import numpy as np
    import torch
    import torch.nn.functional as F
    from diffusers import DDPMScheduler, StableDiffusionPipeline
    from peft import LoraConfig
    from PIL import Image

    from studio.core.train.dataset import Dataset

    pipe = StableDiffusionPipeline.from_pretrained(
        str(model), safety_checker=None, requires_safety_checker=False
    )
    unet, vae, te, tok = pipe.unet, pipe.vae, pipe.text_encoder, pipe.tokenizer
    for m in (unet, vae, te):
        m.requires_grad_(False)
    unet.add_adapter(
        LoraConfig(
            r=RANK,
            lora_alpha=RANK,
            init_lora_weights="gaussian",
            target_modules=["to_q", "to_k", "to_v", "to_out.0"],
        )
    )
    params = [p for p in unet.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=LR, weight_decay=1e-2)
    sched = DDPMScheduler.from_config(pipe.scheduler.config)
    ds = Dataset.open(dataset)
    latents, captions = [], []
    with torch.no_grad():
        for img in ds.images:
            im = Image.open(ds.path(img)).convert("RGB").resize((resolution, resolution))
            x = torch.from_numpy(np.asarray(im, dtype=np.float32)).permute(2, 0, 1)[None] / 127.5 - 1
            latents.append(vae.encode(x).latent_dist.mean * vae.config.scaling_factor)
            captions.append(ds.full_caption(img))
    gen = torch.Generator().manual_seed(SEED)
    unet.train()
    times = []
    for step in range(steps):
        t0 = time.perf_counter()
        idx = [(step * BATCH + k) % len(latents) for k in range(BATCH)]
        x0 = torch.cat([latents[i] for i in idx])
        noise = torch.randn(x0.shape, generator=gen)
        t = torch.randint(0, sched.config.num_train_timesteps, (BATCH,), generator=gen)
        noisy = sched.add_noise(x0, noise, t)
        ids = tok(
            [captions[i] for i in idx],
            padding="max_length",
            max_length=tok.model_max_length,
            truncation=True,
            return_tensors="pt",
        ).input_ids
        states = te(ids)[0]
        loss = F.mse_loss(unet(noisy, t, states).sample.float(), noise.float())
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        times.append(time.perf_counter() - t0)
    warm = times[3:]  # the first steps warm allocators up, on both sides
    return {"steps_per_s": len(warm) / sum(warm)}


def studio_spec(model: Path, dataset: Path, steps: int, resolution: int, run_dir: Path):
    from studio.core.train.train_specs import TrainSpec

    return TrainSpec(
        dataset=str(dataset),
        base=str(model),
        out=str(run_dir / "out.safetensors"),
        run_dir=str(run_dir),
        trigger="sks",
        class_word="disc",
        steps=steps,
        rank=RANK,
        alpha=RANK,
        lr_unet=LR,
        train_text_encoder=False,
        schedule="constant",
        warmup_steps=0,
        batch_size=BATCH,
        resolution=resolution,
        min_snr_gamma=0.0,
        sample_every=0,
        checkpoint_every=0,
        grids="none",
        device="cpu",
        seed=SEED,
    )


def studio_run(model: Path, dataset: Path, steps: int, resolution: int, run_dir: Path) -> dict[str, float]:
    """Studio's trainer through its queue handler (subprocess, events relayed), the same settings."""
    from studio.core.jobs.cancel import CancelToken
    from studio.core.train.train_specs import TrainStep
    from studio.engine.train_job import TrainJob

    spec = studio_spec(model, dataset, steps, resolution, run_dir)
    stamps: list[float] = []
    TrainJob()(spec, CancelToken(), lambda e: stamps.append(e.seconds) if isinstance(e, TrainStep) else None)
    return {"steps_per_s": (len(stamps) - 4) / (stamps[-1] - stamps[3])}


def peak_rss_mb() -> float:
    """This process's resident-memory high-water mark (VmHWM; a new program starts its own, unlike ru_maxrss,
    which a child inherits from the parent that forked it)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def child(kind: str, folder: Path, steps: int, resolution: int) -> None:
    """One variant in a fresh process, for its peak memory. Studio's trainer runs in-process here (the same code
    its subprocess runs), so that the peak is the trainer's own."""
    model, dataset = make_fixture(folder)
    if kind == "bare":
        result = bare_loop(model, dataset, steps, resolution)
    else:
        from studio.engine.lora_train import train

        run = Path(tempfile.mkdtemp(prefix="bench-run-"))
        spec = studio_spec(model, dataset, steps, resolution, run)
        train(spec, lambda e: None)
        result = {}
    print(json.dumps({**result, "peak_rss_mb": peak_rss_mb()}))


def gui_stall(
    model: Path, dataset: Path, steps: int, resolution: int, home: Path
) -> tuple[float, float, int]:
    """The Fine-tune room trains while a 10 ms timer measures the GUI thread's lateness."""
    import shutil

    from gui_gaps import GapRecorder
    from PySide6.QtWidgets import QApplication

    from studio.app import create_window
    from studio.runtime import build_runtime

    app = QApplication.instance() or QApplication([])
    rt = build_runtime(home)
    st = create_window(rt)
    st.window.resize(1280, 800)
    st.window.show()
    page = st.window.finetune_page
    session = page.session
    shutil.copytree(dataset, session.dataset.folder, dirs_exist_ok=True)
    from studio.core.train.dataset import Dataset

    session.dataset = Dataset.open(session.dataset.folder)
    page.refresh()
    page.set_base_choices([("bench", str(model))])
    page.steps.setValue(steps)
    page.rank.setValue(RANK)
    page.resolution.setValue(resolution)
    page.text_encoder.setChecked(False)
    for _ in range(20):
        app.processEvents()
        time.sleep(0.01)
    rec = GapRecorder()
    done: list[str] = []
    session.stopped.connect(done.append)
    page.start()
    rec.start()
    deadline = time.monotonic() + 600
    while not done and time.monotonic() < deadline:
        app.processEvents()
        time.sleep(0.002)
    rec.stop()
    worst, p99 = rec.summary()
    rt.close(10)
    return worst, p99, len(session.curve.losses)


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--steps", type=int, default=40)
    p.add_argument("--resolution", type=int, default=128)
    p.add_argument("--runs", type=int, default=2)
    p.add_argument("--child", choices=["bare", "studio"], help=argparse.SUPPRESS)
    p.add_argument("--folder", help=argparse.SUPPRESS)
    a = p.parse_args()
    if a.child:
        child(a.child, Path(a.folder), a.steps, a.resolution)
        return
    folder = Path(tempfile.mkdtemp(prefix="studio-bench-train-"))
    os.environ["STUDIO_HOME"] = str(folder / "home")
    model, dataset = make_fixture(folder)
    studio_rates, bare_rates = [], []
    bare_loop(model, dataset, 4, a.resolution)  # warm imports and caches for both
    for run in range(a.runs):  # interleaved, so that machine noise falls on both sides
        bare_rates.append(bare_loop(model, dataset, a.steps, a.resolution)["steps_per_s"])
        studio_rates.append(
            studio_run(model, dataset, a.steps, a.resolution, folder / f"run{run}")["steps_per_s"]
        )
    out: dict[str, float] = {
        "bare_steps_per_s": statistics.median(bare_rates),
        "studio_steps_per_s": statistics.median(studio_rates),
    }
    out["ratio_studio_over_bare"] = out["studio_steps_per_s"] / out["bare_steps_per_s"]
    for kind in ("bare", "studio"):
        res = subprocess.run(
            [
                sys.executable,
                __file__,
                "--child",
                kind,
                "--folder",
                str(folder),
                "--steps",
                str(a.steps),
                "--resolution",
                str(a.resolution),
            ],
            capture_output=True,
            text=True,
            check=True,
        )
        out[f"{kind}_peak_rss_mb"] = json.loads(res.stdout.strip().splitlines()[-1])["peak_rss_mb"]
    worst, p99, points = gui_stall(model, dataset, a.steps, a.resolution, folder / "gui-home")
    out.update({"gui_longest_stall_ms": worst, "gui_p99_gap_ms": p99, "gui_loss_points": points})
    for k, v in out.items():
        print(f"{k:28s} {v:10.3f}" if isinstance(v, float) else f"{k:28s} {v}")
    print(
        f"\ntargets: ratio ≥ 0.95 → {'met' if out['ratio_studio_over_bare'] >= 0.95 else 'NOT met'}; "
        f"GUI stall < 50 ms → {'met' if worst < 50 else 'NOT met'}"
    )


if __name__ == "__main__":
    main()
