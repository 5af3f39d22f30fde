"""Score how well an image model follows Shapes prompts: shape, shape colour and background colour.

    python -m workshop.shapes_eval train-classifier --out resources/models/shapes-eval
    python -m workshop.shapes_eval score --model resources/models/shapes [--prompts 96] [--json]

Colours are read by border/centre analysis (the border's median colour is the background; the shape is the
median of the pixels that differ clearly from it); the shape by a small CNN trained on the generator's own
images. Prompts are the held-out (colour, shape, background) triples that training never showed.
"""

from __future__ import annotations

import argparse
import json
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from studio.core.image.specs import CPU_ENGINES
from workshop.shapes_world import COLORS, EXTRA_SHAPES, HELD_OUT, SHAPES, Scene, nearest_color, render

CLASSES = (*SHAPES, *EXTRA_SHAPES)


def colours_of(image: Image.Image) -> tuple[str, str | None]:
    """(background colour, shape colour or None) by border/centre analysis."""
    a = np.asarray(image.convert("RGB").resize((64, 64)), dtype=np.float32)
    border = np.concatenate(
        [a[:3].reshape(-1, 3), a[-3:].reshape(-1, 3), a[:, :3].reshape(-1, 3), a[:, -3:].reshape(-1, 3)]
    )
    bg_rgb = np.median(border, axis=0)
    background = nearest_color(tuple(bg_rgb))
    # A shape pixel is one clearly off the background that reads as another palette colour. A fixed distance
    # threshold cannot work: yellow and orange are only ~80 apart, nearer than the noise of a dark pair.
    palette = np.array(list(COLORS.values()), dtype=np.float32)
    nearest = ((a[:, :, None, :] - palette) ** 2).sum(-1).argmin(-1)
    ref = np.array(COLORS[background], dtype=np.float32)
    dist = np.sqrt(((a - ref) ** 2).sum(-1))
    mask = (dist > 40) & (nearest != list(COLORS).index(background))
    if mask.sum() < 20:
        return background, None
    shape_rgb = np.median(a[mask], axis=0)
    return background, nearest_color(tuple(shape_rgb))


def _classifier() -> Any:
    import torch.nn as nn

    def block(i: int, o: int) -> list[Any]:
        return [nn.Conv2d(i, o, 3, padding=1), nn.BatchNorm2d(o), nn.ReLU(), nn.MaxPool2d(2)]

    return nn.Sequential(
        *block(1, 16),
        *block(16, 32),
        *block(32, 64),
        *block(64, 64),
        nn.Flatten(),
        nn.Linear(64 * 4 * 4, 64),
        nn.ReLU(),
        nn.Linear(64, len(CLASSES)),
    )


def _shape_input(images: list[Image.Image]) -> Any:
    """Colour-independent input: distance of each pixel from the background colour, in [0, 1]."""
    import torch

    out = []
    for im in images:
        a = np.asarray(im.convert("RGB").resize((64, 64)), dtype=np.float32)
        bg = np.array(COLORS[colours_of(im)[0]], dtype=np.float32)
        out.append(np.clip(np.sqrt(((a - bg) ** 2).sum(-1)) / 200.0, 0, 1))
    return torch.from_numpy(np.stack(out))[:, None]


def _soften(x: Any, torch: Any) -> Any:
    """Blur each map by a random amount and re-threshold half of them: the rounded corners and stubby points that
    a small decoder draws (a crisp-only classifier reads a soft star as a circle or a cross)."""
    out = []
    for m in x:
        sigma = float(torch.empty(1).uniform_(0.01, 2.2))
        r = torch.arange(-4, 5, dtype=torch.float32)
        k = torch.exp(-(r**2) / (2 * sigma**2))
        k = k / k.sum()
        m = torch.nn.functional.conv2d(m[None], k.view(1, 1, 1, -1), padding=(0, 4))
        m = torch.nn.functional.conv2d(m, k.view(1, 1, -1, 1), padding=(4, 0))[0]
        if torch.rand(1).item() < 0.5:
            m = torch.sigmoid((m - m.amax() * float(torch.empty(1).uniform_(0.35, 0.65))) * 12) * m.amax()
        r = torch.rand(1).item()
        if r < 0.25:  # thicker strokes
            m = torch.nn.functional.max_pool2d(m[None], 3, 1, 1)[0]
        elif r < 0.5:  # thinner strokes
            m = -torch.nn.functional.max_pool2d(-m[None], 3, 1, 1)[0]
        out.append(m)
    x = torch.stack(out)
    # small random stretches and shears: drawn shapes are never exactly the rendered geometry
    theta = torch.eye(2, 3).repeat(len(x), 1, 1)
    theta[:, :, :2] += torch.empty(len(x), 2, 2).uniform_(-0.12, 0.12)
    grid = torch.nn.functional.affine_grid(theta, list(x.shape), align_corners=False)
    return torch.nn.functional.grid_sample(x, grid, align_corners=False)


def train_classifier(out: Path, steps: int = 3000, batch: int = 64) -> float:
    import torch
    from safetensors.torch import save_file

    torch.manual_seed(0)
    rng = random.Random(99)
    net = _classifier()
    opt = torch.optim.Adam(net.parameters(), 2e-3)
    lossf = torch.nn.CrossEntropyLoss()

    def sample(n: int) -> tuple[Any, Any]:
        scenes = []
        for _ in range(n):
            c, b = rng.sample(list(COLORS), 2)
            scenes.append(
                Scene(
                    rng.choice(CLASSES),
                    c,
                    b,
                    rng.choice([None, "small", "big"]),
                    rng.choice([None, None, "on the left", "on the right", "at the top", "at the bottom"]),
                )
            )
        images = [render(s, rng=rng) for s in scenes]
        return _shape_input(images), torch.tensor([CLASSES.index(s.shape) for s in scenes])

    pool_x, pool_y = sample(12000)  # rendered once; every step draws from it with fresh augmentation
    net.train()
    for step in range(steps):
        idx = torch.randint(0, len(pool_y), (batch,))
        x, y = pool_x[idx], pool_y[idx]
        x = _soften(x, torch) + 0.08 * torch.randn_like(
            x
        )  # generated images are never as clean as rendered ones
        loss = lossf(net(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        if (step + 1) % 250 == 0:
            print(json.dumps({"step": step + 1, "loss": round(float(loss), 4)}), flush=True)
    net.eval()
    x, y = sample(1000)
    with torch.no_grad():
        acc = float((net(x).argmax(1) == y).float().mean())
    out.mkdir(parents=True, exist_ok=True)
    save_file(
        {k: v.contiguous() for k, v in net.state_dict().items()},
        str(out / "classifier.safetensors"),
        metadata={"classes": ",".join(CLASSES), "accuracy_on_rendered": f"{acc:.4f}"},
    )
    return acc


@dataclass
class ShapeReader:
    net: Any

    @classmethod
    def load(cls, folder: Path) -> ShapeReader:
        from safetensors.torch import load_file

        net = _classifier()
        net.load_state_dict(load_file(str(folder / "classifier.safetensors")))
        net.eval()
        return cls(net)

    def shapes(self, images: list[Image.Image]) -> list[str]:
        import torch

        with torch.no_grad():
            return [CLASSES[i] for i in self.net(_shape_input(images)).argmax(1).tolist()]


def held_out_scenes(n: int) -> list[Scene]:
    """``n`` prompts cycling through the held-out triples (each with its own seed when generated)."""
    triples = sorted(HELD_OUT)
    return [Scene(s, c, b) for c, s, b in (triples[i % len(triples)] for i in range(n))]


def score(images: list[Image.Image], scenes: list[Scene], reader: ShapeReader) -> dict[str, float]:
    shapes = reader.shapes(images)
    hits = {"shape": 0, "color": 0, "background": 0, "all": 0}
    for im, scene, shape in zip(images, scenes, shapes, strict=True):
        bg, color = colours_of(im)
        ok = (shape == scene.shape, color == scene.color, bg == scene.background)
        hits["shape"] += ok[0]
        hits["color"] += ok[1]
        hits["background"] += ok[2]
        hits["all"] += all(ok)
    return {k: v / len(images) for k, v in hits.items()}


def generate(
    model: str,
    scenes: list[Scene],
    steps: int,
    cfg: float,
    sampler: str,
    schedule: str,
    seed: int = 1000,
    loras: tuple = (),
    precision: str = "auto",
    cpu_engine: str = "auto",
) -> list[Image.Image]:
    """Images for the scenes through Studio's own engine (the same road as the app)."""
    import tempfile

    from studio.core.gallery.gallery_store import GalleryStore
    from studio.core.image.specs import GenerateSpec
    from studio.core.io.hashing import HashCache
    from studio.core.jobs.cancel import CancelToken
    from studio.engine.devices import choose_placement
    from studio.engine.image import ImageEngine

    tmp = Path(tempfile.mkdtemp(prefix="shapes-eval-"))
    engine = ImageEngine(
        GalleryStore(tmp / "out", tmp / "index.sqlite", dated=False),
        HashCache(tmp / "h.json"),
        placement=lambda: choose_placement(
            "auto", precision
        ),  # "auto": Studio's fast path; "fp32": the reference
    )
    images = []
    for i, scene in enumerate(scenes):
        spec = GenerateSpec(
            model=model,
            prompt=scene.prompt,
            width=64,
            height=64,
            steps=steps,
            cfg_scale=cfg,
            seed=seed + i,
            sampler=sampler,
            schedule=schedule,
            loras=loras,
            cpu_engine=cpu_engine,
        )
        item = engine.generate(spec, CancelToken(), lambda e: None)[0]
        with Image.open(item.path) as im:
            images.append(im.convert("RGB"))
    return images


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("command", choices=["train-classifier", "score"])
    p.add_argument("--out", type=Path, default=Path("resources/models/shapes-eval"))
    p.add_argument("--model", default="resources/models/shapes")
    p.add_argument("--prompts", type=int, default=96)
    p.add_argument("--steps", type=int, default=20)
    p.add_argument("--cfg", type=float, default=5.0)
    p.add_argument("--sampler", default="DPM++ 2M")
    p.add_argument("--schedule", default="Karras")
    p.add_argument("--grid", type=Path, help="also save a grid of the generated images here")
    p.add_argument("--threads", type=int, default=0)
    p.add_argument(
        "--precision",
        default="auto",
        choices=["auto", "fp32", "bf16", "fp16"],
        help="auto: Studio's precision policy for this machine (bf16 where the CPU has it)",
    )
    p.add_argument("--cpu-engine", default="auto", choices=list(CPU_ENGINES),
                   help="on a CPU: OpenVINO where it can run the job (auto), or the engine named")  # fmt: skip
    a = p.parse_args(argv)
    if a.threads:
        import torch

        torch.set_num_threads(a.threads)
    if a.command == "train-classifier":
        print(json.dumps({"accuracy_on_rendered": train_classifier(a.out)}))
        return
    scenes = held_out_scenes(a.prompts)
    images = generate(a.model, scenes, a.steps, a.cfg, a.sampler, a.schedule, precision=a.precision,
                      cpu_engine=a.cpu_engine)  # fmt: skip
    result = score(images, scenes, ShapeReader.load(a.out))
    if a.grid:
        cols = 12
        grid = Image.new("RGB", (cols * 64, -(-len(images) // cols) * 64))
        for i, im in enumerate(images):
            grid.paste(im, ((i % cols) * 64, (i // cols) * 64))
        grid.save(a.grid)
    print(
        json.dumps(
            {
                "prompts": len(scenes),
                "steps": a.steps,
                "cfg": a.cfg,
                "sampler": f"{a.sampler} {a.schedule}",
                "precision": a.precision,
                "cpu_engine": a.cpu_engine,
                **{k: round(v, 4) for k, v in result.items()},
            }
        )
    )


if __name__ == "__main__":
    main()
