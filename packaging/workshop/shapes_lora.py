"""Fine-tuning demo on Shapes: teach the base model a shape it never saw (a star) with a LoRA on 20 images.

    python -m workshop.shapes_lora train --out resources/models/loras/shapes-star.safetensors
    python -m workshop.shapes_lora score --lora resources/models/loras/shapes-star.safetensors

The base model's training data has circles, squares, triangles and crosses only; the word "star" is in its
vocabulary but was never shown with a picture. ``train`` renders 20 star images (random colour pairs, never the
evaluation pairs), fits a rank-16 LoRA on the attention of the UNet and the text encoder with the same noise-prediction loss the base model
was trained with, and saves it in the diffusers/peft format that Studio (and ``load_lora_weights``) loads.
``score`` generates the evaluation prompts through Studio's engine with and without the LoRA and reads the
images with the Shapes evaluator.
"""

from __future__ import annotations

import argparse
import json
import random
from pathlib import Path

from studio.core.models.builtin_models import BUILTIN_IMAGE_DIRS
from workshop.shapes_world import COLORS, Scene, render

SHAPES_DIR = BUILTIN_IMAGE_DIRS[0]
STAR_METADATA = {  # Shapes is an SD 1.x layout: the Models room files the LoRA with it, not as "cannot be told"
    "format": "pt",
    "studio_base_family": "sd1",
    "studio_base_model": "shapes",
    "ss_sd_model_name": "shapes",
    "ss_base_model_version": "sd_v1",
}
EVAL_PAIRS = (
    ("yellow", "black"),
    ("red", "white"),
    ("blue", "yellow"),
    ("white", "purple"),
    ("green", "orange"),
    ("orange", "blue"),
    ("purple", "green"),
    ("black", "red"),
)


def training_scenes(n: int = 20, seed: int = 0) -> list[Scene]:
    """Twenty pictures of stars, as a user would collect them: assorted colours, a few small, big or off-centre."""
    rng = random.Random(seed)
    pairs = [(c, b) for c in COLORS for b in COLORS if c != b and (c, b) not in EVAL_PAIRS]
    return [
        Scene(
            "star",
            c,
            b,
            size=rng.choice([None, None, "small", "big"]),
            position=rng.choice([None, None, None, "on the left", "on the right", "at the top"]),
        )
        for c, b in rng.sample(pairs, n)
    ]


def eval_scenes() -> list[Scene]:
    return [Scene("star", c, b) for c, b in EVAL_PAIRS]


def train(
    out: Path, steps: int = 2000, rank: int = 16, batch: int = 8, lr: float = 1e-3, seed: int = 0
) -> Path:
    import numpy as np
    import torch
    import torch.nn.functional as F
    from diffusers import StableDiffusionPipeline
    from diffusers.utils import convert_state_dict_to_diffusers
    from peft import LoraConfig, inject_adapter_in_model
    from peft.utils import get_peft_model_state_dict

    from workshop.shapes_model import train_scheduler

    torch.manual_seed(seed)
    pipe = StableDiffusionPipeline.from_pretrained(
        str(SHAPES_DIR), torch_dtype=torch.float32, local_files_only=True
    )
    unet, vae, te, tok = pipe.unet.float(), pipe.vae, pipe.text_encoder, pipe.tokenizer
    for module in (unet, vae, te):
        module.requires_grad_(False)
    scenes = training_scenes(seed=seed)
    rng = random.Random(seed)
    images = np.stack([np.asarray(render(s, rng=rng), dtype=np.float32) for s in scenes])
    x = torch.from_numpy(images).permute(0, 3, 1, 2) / 127.5 - 1.0
    with torch.no_grad():  # latents of the pictures and of their mirror images (the usual flip augmentation)
        latents = (
            torch.cat([vae.encode(v).latent_dist.mean for v in (x, x.flip(3))]) * vae.config.scaling_factor
        )
    ids = tok(
        [s.prompt for s in scenes] * 2,
        padding="max_length",
        max_length=tok.model_max_length,
        truncation=True,
        return_tensors="pt",
    ).input_ids
    # The word "star" was never seen in training, so the text encoder learns it too (a LoRA on its attention).
    unet.add_adapter(
        LoraConfig(
            r=rank,
            lora_alpha=rank,
            init_lora_weights="gaussian",
            target_modules=["to_q", "to_k", "to_v", "to_out.0"],
        )
    )
    te = inject_adapter_in_model(
        LoraConfig(
            r=rank,
            lora_alpha=rank,
            init_lora_weights="gaussian",
            target_modules=["q_proj", "k_proj", "v_proj", "out_proj"],
        ),
        te,
    )
    params = [p for m in (unet, te) for p in m.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=lr, weight_decay=1e-2)
    alphas = train_scheduler().alphas_cumprod
    gen = torch.Generator().manual_seed(seed)
    unet.train()
    te.train()
    for step in range(steps):
        idx = torch.randint(0, len(latents), (batch,), generator=gen)
        x0 = latents[idx]
        noise = torch.randn(x0.shape, generator=gen)
        t = torch.randint(0, 1000, (batch,), generator=gen)
        a = alphas[t].view(-1, 1, 1, 1)
        pred = unet(a.sqrt() * x0 + (1 - a).sqrt() * noise, t, te(ids[idx])[0]).sample
        snr = a.view(-1) / (1 - a.view(-1))  # min-SNR-5 weighting, as in the base model's training
        loss = (
            torch.clamp(snr, max=5.0) / snr * F.mse_loss(pred, noise, reduction="none").mean((1, 2, 3))
        ).mean()
        for g in opt.param_groups:
            g["lr"] = lr * min(1.0, (step + 1) / 100)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if (step + 1) % 100 == 0:
            print(json.dumps({"step": step + 1, "loss": round(loss.item(), 4)}), flush=True)
    out.parent.mkdir(parents=True, exist_ok=True)
    StableDiffusionPipeline.save_lora_weights(
        str(out.parent),
        weight_name=out.name,
        safe_serialization=True,
        unet_lora_layers=convert_state_dict_to_diffusers(get_peft_model_state_dict(unet)),
        text_encoder_lora_layers=convert_state_dict_to_diffusers(get_peft_model_state_dict(te)),
    )
    # what the file says about itself, as a LoRA trained in Studio does: the base model and its family
    from safetensors.torch import load_file, save_file

    save_file(load_file(str(out)), str(out), metadata=STAR_METADATA)
    return out


def score(lora: Path | None, seeds: int = 4) -> dict[str, float]:
    from studio.core.image.specs import LoraRef
    from workshop.shapes_eval import ShapeReader, generate
    from workshop.shapes_eval import score as score_images

    scenes = [s for s in eval_scenes() for _ in range(seeds)]
    loras = (LoraRef(str(lora), 1.0),) if lora else ()
    images = generate(str(SHAPES_DIR), scenes, 20, 5.0, "DPM++ 2M", "Karras", seed=500, loras=loras)
    return score_images(images, scenes, ShapeReader.load(SHAPES_DIR.parent / "shapes-eval"))


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("command", choices=["train", "score"])
    p.add_argument("--out", type=Path, default=Path("resources/models/loras/shapes-star.safetensors"))
    p.add_argument("--lora", type=Path, default=Path("resources/models/loras/shapes-star.safetensors"))
    p.add_argument("--steps", type=int, default=2000)
    p.add_argument("--threads", type=int, default=0)
    a = p.parse_args(argv)
    if a.threads:
        import torch

        torch.set_num_threads(a.threads)
    if a.command == "train":
        print(train(a.out, a.steps))
        return
    for name, lora in (("base model", None), ("with the star LoRA", a.lora)):
        print(json.dumps({"model": name, **{k: round(v, 4) for k, v in score(lora).items()}}))


if __name__ == "__main__":
    main()
