"""Train the built-in "Shapes" model on 2 CPU cores, in resumable runs.

    python -m workshop.shapes_train vae   --work DIR [--steps 2500]
    python -m workshop.shapes_train data  --work DIR [--images 40000]
    python -m workshop.shapes_train unet  --work DIR [--steps 12000] [--hours 1.9]
    python -m workshop.shapes_train export --work DIR --out resources/models/shapes

Every stage checkpoints atomically into DIR and resumes where it stopped (weights, optimiser, EMA, step and
random state), so the whole training fits in several runs of at most two hours each.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import time
from pathlib import Path
from typing import Any

from workshop.shapes_model import (
    build_components,
    build_tokenizer,
    sampling_scheduler,
    train_scheduler,
)
from workshop.shapes_world import SHAPES, random_scene, render, training_scene
from workshop.training_io import load_state, log, save_state

CFG_DROPOUT = 0.1


def _images_to_tensor(images: list[Any]) -> Any:
    import numpy as np
    import torch

    arr = np.stack([np.asarray(im, dtype=np.uint8) for im in images])
    return torch.from_numpy(arr).permute(0, 3, 1, 2).float() / 127.5 - 1.0


def _load(path: Path) -> Any:
    return load_state(path)


# -- stage 1: the VAE ---------------------------------------------------------------------------------------------
def train_vae(work: Path, steps: int, batch: int = 16, lr: float = 1e-3) -> None:
    import torch

    torch.manual_seed(0)
    tok = build_tokenizer(work / "tokenizer")
    vae = build_components(tok)["vae"]
    opt = torch.optim.AdamW(vae.parameters(), lr=1e-3, weight_decay=0.0)
    ckpt = work / "vae.json"
    step, rng = 0, random.Random(0)
    if ckpt.exists():
        state = _load(ckpt)
        vae.load_state_dict(state["model"])
        opt.load_state_dict(state["opt"])
        step = state["step"]
        rng.setstate(_tuple(state["rng"]))
    vae.train()
    t0 = time.time()
    while step < steps:
        x = _images_to_tensor(
            [render(random_scene(rng, p_size=0.4, p_position=0.4), rng=rng) for _ in range(batch)]
        )
        posterior = vae.encode(x).latent_dist
        recon = vae.decode(posterior.sample()).sample
        rec = (recon - x).abs().mean() + (recon - x).pow(2).mean()
        kl = posterior.kl().mean() / (4 * 16 * 16)
        loss = rec + 1e-4 * kl
        for g in opt.param_groups:
            g["lr"] = lr * min(1.0, (step + 1) / 100) * (0.1 if step > steps * 0.8 else 1.0)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(vae.parameters(), 1.0)
        opt.step()
        step += 1
        if step % 100 == 0 or step == steps:
            log(
                work,
                {
                    "stage": "vae",
                    "step": step,
                    "rec": round(float(rec), 5),
                    "kl": round(float(kl), 3),
                    "s_per_step": round((time.time() - t0) / 100, 3),
                },
            )
            t0 = time.time()
        if step % 500 == 0 or step == steps:
            save_state(
                {
                    "model": vae.state_dict(),
                    "opt": opt.state_dict(),
                    "step": step,
                    "rng": _plain(rng.getstate()),
                },
                ckpt,
            )


def _plain(state: Any) -> Any:
    """random.Random state as plain lists (as the checkpoints' JSON keeps it)."""
    return [state[0], list(state[1]), state[2]]


def _tuple(state: Any) -> Any:
    return (state[0], tuple(state[1]), state[2])


# -- stage 2: a fixed dataset, VAE-encoded once -------------------------------------------------------------------
def build_data(work: Path, images: int, batch: int = 256) -> None:
    import torch

    tok = build_tokenizer(work / "tokenizer")
    vae = build_components(tok)["vae"]
    vae.load_state_dict(_load(work / "vae.json")["model"])
    vae.eval()
    rng = random.Random(1234)
    scenes = [training_scene(rng) for _ in range(images)]
    latents = []
    with torch.no_grad():
        for i in range(0, images, batch):
            x = _images_to_tensor([render(s, rng=rng) for s in scenes[i : i + batch]])
            latents.append(vae.encode(x).latent_dist.mean)
    lat = torch.cat(latents)
    scale = float(1.0 / lat.std())
    save_state(
        {"latents": lat.half(), "prompts": [s.prompt for s in scenes], "scale": scale}, work / "data.json"
    )
    log(work, {"stage": "data", "images": images, "latent_std": float(lat.std()), "scaling_factor": scale})


# -- stage 3: UNet + text encoder ---------------------------------------------------------------------------------
def train_unet(work: Path, steps: int, hours: float, batch: int = 32, lr: float = 4e-4) -> None:
    import torch
    import torch.nn.functional as F

    torch.manual_seed(0)
    tok = build_tokenizer(work / "tokenizer")
    comps = build_components(tok)
    unet, te = comps["unet"], comps["text_encoder"]
    data = _load(work / "data.json")
    latents, prompts, scale = data["latents"], data["prompts"], data["scale"]
    ids_all = tok(
        prompts, padding="max_length", max_length=77, truncation=True, return_tensors="pt"
    ).input_ids
    empty = tok([""], padding="max_length", max_length=77, return_tensors="pt").input_ids[0]
    params = list(unet.parameters()) + list(te.parameters())
    opt = torch.optim.AdamW(params, lr=lr, weight_decay=1e-2)
    ema = [p.detach().clone() for p in params]
    noise_sched = train_scheduler()
    alphas = noise_sched.alphas_cumprod
    ckpt = work / "unet.json"
    step = 0
    gen = torch.Generator().manual_seed(42)
    if ckpt.exists():
        state = _load(ckpt)
        unet.load_state_dict(state["unet"])
        te.load_state_dict(state["te"])
        opt.load_state_dict(state["opt"])
        for e, v in zip(ema, state["ema"], strict=True):
            e.copy_(v)
        step = state["step"]
        gen.set_state(state["gen"])
    unet.train()
    te.train()
    deadline = time.time() + hours * 3600
    t0, losses = time.time(), []
    while step < steps and time.time() < deadline:
        idx = torch.randint(0, len(latents), (batch,), generator=gen)
        x0 = latents[idx].float() * scale
        ids = ids_all[idx].clone()
        drop = torch.rand(batch, generator=gen) < CFG_DROPOUT
        ids[drop] = empty
        noise = torch.randn(x0.shape, generator=gen)
        t = torch.randint(0, 1000, (batch,), generator=gen)
        a = alphas[t].view(-1, 1, 1, 1)
        xt = a.sqrt() * x0 + (1 - a).sqrt() * noise
        cond = te(ids)[0]
        pred = unet(xt, t, cond).sample
        # min-SNR-5 weighting: steadier training, faster convergence
        snr = a.view(-1) / (1 - a.view(-1))
        weight = torch.clamp(snr, max=5.0) / snr
        loss = (weight * F.mse_loss(pred, noise, reduction="none").mean(dim=(1, 2, 3))).mean()
        warm = min(1.0, (step + 1) / 300)
        decay = 0.5 * (1 + math.cos(math.pi * min(1.0, step / steps)))
        for g in opt.param_groups:
            g["lr"] = lr * warm * (0.1 + 0.9 * decay)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        step += 1
        with torch.no_grad():
            d = min(0.999, (1 + step) / (10 + step))
            for e, p in zip(ema, params, strict=True):
                e.mul_(d).add_(p.detach(), alpha=1 - d)
        losses.append(float(loss))
        if step % 100 == 0:
            log(
                work,
                {
                    "stage": "unet",
                    "step": step,
                    "loss": round(sum(losses) / len(losses), 5),
                    "lr": round(opt.param_groups[0]["lr"], 6),
                    "s_per_step": round((time.time() - t0) / 100, 3),
                },
            )
            t0, losses = time.time(), []
        if step % 500 == 0 or step == steps:
            save_state(
                {
                    "unet": unet.state_dict(),
                    "te": te.state_dict(),
                    "opt": opt.state_dict(),
                    "ema": ema,
                    "step": step,
                    "gen": gen.get_state(),
                },
                ckpt,
            )
    save_state(
        {
            "unet": unet.state_dict(),
            "te": te.state_dict(),
            "opt": opt.state_dict(),
            "ema": ema,
            "step": step,
            "gen": gen.get_state(),
        },
        ckpt,
    )


# -- stage 4: export as a diffusers pipeline ------------------------------------------------------------------------
def export(work: Path, out: Path, dtype: str = "fp16") -> Path:
    import torch
    from diffusers import StableDiffusionPipeline

    tok = build_tokenizer(work / "tokenizer")
    comps = build_components(tok)
    comps["vae"].load_state_dict(_load(work / "vae.json")["model"])
    comps["vae"].register_to_config(scaling_factor=_load(work / "data.json")["scale"])
    state = _load(work / "unet.json")
    params = list(comps["unet"].parameters()) + list(comps["text_encoder"].parameters())
    with torch.no_grad():
        for p, e in zip(params, state["ema"], strict=True):
            p.copy_(e)
    pipe: Any = StableDiffusionPipeline(
        vae=comps["vae"],
        text_encoder=comps["text_encoder"],
        tokenizer=tok,
        unet=comps["unet"],
        scheduler=sampling_scheduler(),
        safety_checker=None,
        feature_extractor=None,
        requires_safety_checker=False,
    )
    if dtype == "fp16":
        pipe.unet.half()  # the VAE and the small text encoder stay fp32: exact colours, no NaN risk
    pipe.save_pretrained(str(out), safe_serialization=True)
    (out / "training.json").write_text(json.dumps({"unet_steps": state["step"], "shapes": SHAPES}, indent=2))
    card = {
        "label": "Shapes (built-in demo)",
        "description": "Coloured shapes on coloured backgrounds, 64×64. Trained by Studio itself.",
        "recommended": {
            "width": 64,
            "height": 64,
            "steps": 20,
            "cfg_scale": 5.0,
            "sampler": "DPM++ 2M",
            "schedule": "Karras",
        },
    }
    (out / "studio.json").write_text(json.dumps(card, indent=2, ensure_ascii=False) + "\n")
    return out


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("stage", choices=["vae", "data", "unet", "export"])
    p.add_argument("--work", required=True, type=Path)
    p.add_argument("--steps", type=int)
    p.add_argument("--images", type=int, default=40000)
    p.add_argument("--hours", type=float, default=1.9)
    p.add_argument("--out", type=Path)
    p.add_argument("--threads", type=int, default=0)
    p.add_argument("--lr", type=float, help="peak learning rate (vae: 1e-3; continue a run with a lower one)")
    a = p.parse_args(argv)
    a.work.mkdir(parents=True, exist_ok=True)
    if a.threads:
        import torch

        torch.set_num_threads(a.threads)
    if a.stage == "vae":
        train_vae(a.work, a.steps or 2500, lr=a.lr or 1e-3)
    elif a.stage == "data":
        build_data(a.work, a.images)
    elif a.stage == "unet":
        train_unet(a.work, a.steps or 12000, a.hours)
    else:
        export(a.work, a.out or Path("resources/models/shapes"))


if __name__ == "__main__":
    main()
