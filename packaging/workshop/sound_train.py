"""Train the built-in sound model ("Tones") on 2 CPU cores, in resumable runs.

    python -m workshop.sound_train data   --work DIR [--sounds 8000]
    python -m workshop.sound_train train  --work DIR [--steps 3000] [--hours 1.0]
    python -m workshop.sound_train export --work DIR --out resources/models/tones

The data are log-mel spectrograms of sounds rendered by ``sound_world`` (held-out combinations left out); the
UNet and the text encoder are trained together from scratch (epsilon prediction on a cosine schedule, min-SNR-5,
10 % prompt dropout for guidance, EMA weights exported). Checkpoints are atomic and resumable.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import time
from pathlib import Path
from typing import Any

from workshop.sound_model import (
    FRAMES,
    SCALE,
    build_components,
    build_tokenizer,
    sampling_scheduler,
    train_scheduler,
)
from workshop.sound_world import HELD_OUT, KINDS, render, training_sound
from workshop.training_io import load_state, log, save_state

CFG_DROPOUT = 0.1
# sampling starts here, not at 999: the cosine schedule's last 60 steps are nearly pure noise (alpha-bar < 0.01),
# where the model cannot tell what to paint; started there, 7 of 12 seeds collapsed into white hiss, from 940 none
START_TIMESTEP = 940


def build_data(work: Path, sounds: int) -> None:
    import numpy as np
    import torch

    rng = random.Random(1234)
    chosen = [training_sound(rng) for _ in range(sounds)]
    pictures = np.stack([SCALE.picture(render(s, rng=rng))[:, :FRAMES] for s in chosen])
    save_state({"pictures": torch.from_numpy(pictures).half().unsqueeze(1), "prompts": [s.prompt for s in chosen]},
               work / "data.json")  # fmt: skip
    log(
        work,
        {"stage": "data", "sounds": sounds, "mean": float(pictures.mean()), "std": float(pictures.std())},
    )


def _state(unet: Any, te: Any, opt: Any, ema: list[Any], step: int, gen: Any) -> dict[str, Any]:
    return {"unet": unet.state_dict(), "te": te.state_dict(), "opt": opt.state_dict(), "ema": ema, "step": step,
            "gen": gen.get_state()}  # fmt: skip


def train(work: Path, steps: int, hours: float, batch: int = 16, lr: float = 5e-4) -> None:
    import torch
    import torch.nn.functional as F

    torch.manual_seed(0)
    tok = build_tokenizer(work / "tokenizer")
    comps = build_components(tok)
    unet, te = comps["unet"], comps["text_encoder"]
    data = load_state(work / "data.json")
    pictures, prompts = data["pictures"], data["prompts"]
    ids_all = tok(
        prompts, padding="max_length", max_length=77, truncation=True, return_tensors="pt"
    ).input_ids
    empty = tok([""], padding="max_length", max_length=77, return_tensors="pt").input_ids[0]
    params = list(unet.parameters()) + list(te.parameters())
    opt = torch.optim.AdamW(params, lr=lr, weight_decay=1e-2)
    ema = [p.detach().clone() for p in params]
    alphas = train_scheduler().alphas_cumprod
    ckpt, step, gen = work / "train.json", 0, torch.Generator().manual_seed(42)
    if ckpt.exists():
        state = load_state(ckpt)
        unet.load_state_dict(state["unet"])
        te.load_state_dict(state["te"])
        opt.load_state_dict(state["opt"])
        for e, v in zip(ema, state["ema"], strict=True):
            e.copy_(v)
        step = state["step"]
        gen.set_state(state["gen"])
    deadline, t0, losses = time.time() + hours * 3600, time.time(), []
    while step < steps and time.time() < deadline:
        idx = torch.randint(0, len(pictures), (batch,), generator=gen)
        x0 = pictures[idx].float()
        ids = ids_all[idx].clone()
        ids[torch.rand(batch, generator=gen) < CFG_DROPOUT] = empty
        noise = torch.randn(x0.shape, generator=gen)
        t = torch.randint(0, 1000, (batch,), generator=gen)
        a = alphas[t].view(-1, 1, 1, 1)
        pred = unet(a.sqrt() * x0 + (1 - a).sqrt() * noise, t, te(ids)[0]).sample
        snr = a.view(-1) / (1 - a.view(-1))
        weight = torch.clamp(snr, max=5.0) / snr
        loss = (weight * F.mse_loss(pred, noise, reduction="none").mean(dim=(1, 2, 3))).mean()
        decay = 0.5 * (1 + math.cos(math.pi * min(1.0, step / steps)))
        for g in opt.param_groups:
            g["lr"] = lr * min(1.0, (step + 1) / 200) * (0.1 + 0.9 * decay)
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
            log(work, {"stage": "train", "step": step, "loss": round(sum(losses) / len(losses), 5),
                       "s_per_step": round((time.time() - t0) / 100, 3)})  # fmt: skip
            t0, losses = time.time(), []
        if step % 250 == 0:
            save_state(_state(unet, te, opt, ema, step, gen), ckpt)
    save_state(_state(unet, te, opt, ema, step, gen), ckpt)


CARD = {
    "label": "Tones (built-in demo)",
    "description": "Tones, chords, bells, drums and noise, high or low, slow or fast; 16 kHz. Trained by Studio itself.",
    "kind": "sound",
    "architecture": "spectrogram-diffusion",
    "recommended": {"seconds": 2.0, "steps": 20, "guidance": 3.0},
}


def export(work: Path, out: Path) -> Path:
    import torch

    tok = build_tokenizer(work / "tokenizer")
    comps = build_components(tok)
    state = load_state(work / "train.json")
    params = list(comps["unet"].parameters()) + list(comps["text_encoder"].parameters())
    with torch.no_grad():
        for p, e in zip(params, state["ema"], strict=True):
            p.copy_(e)
    out.mkdir(parents=True, exist_ok=True)
    comps["unet"].half().save_pretrained(str(out / "unet"), safe_serialization=True)
    comps["text_encoder"].save_pretrained(str(out / "text_encoder"), safe_serialization=True)
    tok.save_pretrained(str(out / "tokenizer"))
    sampling_scheduler().save_pretrained(str(out / "scheduler"))
    data = json.loads(
        (work / "log.jsonl").read_text().splitlines()[0]
    )  # the data stage's line: the pictures' mean
    sampling = {"start_timestep": START_TIMESTEP, "start_mean": round(float(data.get("mean", 0.0)), 3)}
    (out / "spectrogram.json").write_text(json.dumps({**SCALE.to_dict(), **sampling}, indent=2) + "\n")
    (out / "training.json").write_text(json.dumps({"steps": state["step"], "kinds": KINDS,
                                                   "held_out": HELD_OUT}, indent=2) + "\n")  # fmt: skip
    (out / "studio.json").write_text(json.dumps(CARD, indent=2, ensure_ascii=False) + "\n")
    return out


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("stage", choices=["data", "train", "export"])
    p.add_argument("--work", required=True, type=Path)
    p.add_argument("--steps", type=int, default=3000)
    p.add_argument("--sounds", type=int, default=8000)
    p.add_argument("--hours", type=float, default=1.0)
    p.add_argument("--threads", type=int, default=0)
    p.add_argument("--out", type=Path, default=Path("resources/models/tones"))
    a = p.parse_args(argv)
    a.work.mkdir(parents=True, exist_ok=True)
    if a.threads:
        import torch

        torch.set_num_threads(a.threads)
    if a.stage == "data":
        build_data(a.work, a.sounds)
    elif a.stage == "train":
        train(a.work, a.steps, a.hours)
    else:
        export(a.work, a.out)


if __name__ == "__main__":
    main()
