"""The procedural world of the built-in "Shapes" model: coloured shapes on coloured backgrounds.

Pure Python + Pillow. It renders training images with their prompts and gives the evaluator the truth.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

from PIL import Image, ImageDraw

COLORS: dict[str, tuple[int, int, int]] = {
    "red": (220, 40, 40),
    "green": (40, 170, 60),
    "blue": (40, 80, 220),
    "yellow": (240, 215, 40),
    "orange": (245, 135, 25),
    "purple": (140, 60, 190),
    "white": (245, 245, 245),
    "black": (20, 20, 20),
}
SHAPES = ("circle", "square", "triangle", "cross")
EXTRA_SHAPES = ("star",)  # never in the base model's data: the fine-tuning demo teaches it
SIZES = {"small": (0.28, 0.36), "big": (0.62, 0.72)}
DEFAULT_SIZE = (0.42, 0.54)
POSITIONS = {
    "on the left": (0.3, 0.5),
    "on the right": (0.7, 0.5),
    "at the top": (0.5, 0.3),
    "at the bottom": (0.5, 0.7),
    "in the center": (0.5, 0.5),
}
VOCABULARY = sorted(
    {
        "a",
        "an",
        "on",
        "the",
        "background",
        "at",
        "in",
        *COLORS,
        *SHAPES,
        *EXTRA_SHAPES,
        *SIZES,
        "left",
        "right",
        "top",
        "bottom",
        "center",
        "picture",
        "of",
    }
)


@dataclass(frozen=True)
class Scene:
    shape: str
    color: str
    background: str
    size: str | None = None  # "small" | "big" | None
    position: str | None = None  # a key of POSITIONS | None

    @property
    def prompt(self) -> str:
        size = f"{self.size} " if self.size else ""
        where = f" {self.position}" if self.position else ""
        first = size or self.color
        article = "an" if first[0] in "aeiou" else "a"
        bg_article = "an" if self.background[0] in "aeiou" else "a"
        return (
            f"{article} {size}{self.color} {self.shape} on {bg_article} {self.background} background{where}"
        )


def random_scene(
    rng: random.Random, shapes: tuple[str, ...] = SHAPES, p_size: float = 0.3, p_position: float = 0.3
) -> Scene:
    color, background = rng.sample(list(COLORS), 2)
    return Scene(
        shape=rng.choice(shapes),
        color=color,
        background=background,
        size=rng.choice(list(SIZES)) if rng.random() < p_size else None,
        position=rng.choice(list(POSITIONS)) if rng.random() < p_position else None,
    )


def _polygon(shape: str, cx: float, cy: float, r: float, angle: float) -> list[tuple[float, float]]:
    def rot(points: list[tuple[float, float]]) -> list[tuple[float, float]]:
        c, s = math.cos(angle), math.sin(angle)
        return [(cx + x * c - y * s, cy + x * s + y * c) for x, y in points]

    if shape == "square":
        k = r * 0.86
        return rot([(-k, -k), (k, -k), (k, k), (-k, k)])
    if shape == "triangle":
        return rot([(0, -r), (r * 0.95, r * 0.7), (-r * 0.95, r * 0.7)])
    if shape == "cross":
        a, b = r, r * 0.34
        return rot(
            [
                (-b, -a),
                (b, -a),
                (b, -b),
                (a, -b),
                (a, b),
                (b, b),
                (b, a),
                (-b, a),
                (-b, b),
                (-a, b),
                (-a, -b),
                (-b, -b),
            ]
        )
    if shape == "star":
        pts = []
        for i in range(10):
            rr = r if i % 2 == 0 else r * 0.42
            t = -math.pi / 2 + i * math.pi / 5
            pts.append((rr * math.cos(t), rr * math.sin(t)))
        return rot(pts)
    raise ValueError(shape)


def render(
    scene: Scene, size: int = 64, rng: random.Random | None = None, supersample: int = 4
) -> Image.Image:
    """Draw the scene (anti-aliased). ``rng`` jitters size, position and rotation; None gives the canonical pose."""
    rng = rng or random.Random(0)
    big = size * supersample
    img = Image.new("RGB", (big, big), COLORS[scene.background])
    draw = ImageDraw.Draw(img)
    lo, hi = SIZES.get(scene.size or "", DEFAULT_SIZE)
    diameter = rng.uniform(lo, hi) * big
    r = diameter / 2
    if scene.position:
        px, py = POSITIONS[scene.position]
        cx, cy = px * big + rng.uniform(-0.04, 0.04) * big, py * big + rng.uniform(-0.04, 0.04) * big
    else:
        cx, cy = (0.5 + rng.uniform(-0.12, 0.12)) * big, (0.5 + rng.uniform(-0.12, 0.12)) * big
    cx, cy = min(max(cx, r + 2), big - r - 2), min(max(cy, r + 2), big - r - 2)
    fill = COLORS[scene.color]
    if scene.shape == "circle":
        draw.ellipse((cx - r, cy - r, cx + r, cy + r), fill=fill)
    else:
        angle = rng.uniform(-0.25, 0.25) if scene.shape != "cross" else rng.uniform(-0.2, 0.2)
        draw.polygon(_polygon(scene.shape, cx, cy, r, angle), fill=fill)
    return img.resize((size, size), Image.Resampling.LANCZOS)


def nearest_color(rgb: tuple[float, float, float]) -> str:
    return min(COLORS, key=lambda n: sum((a - b) ** 2 for a, b in zip(COLORS[n], rgb, strict=True)))


def _held_out(n: int = 24) -> frozenset[tuple[str, str, str]]:
    rng = random.Random(7)
    triples = [(c, s, b) for c in COLORS for s in SHAPES for b in COLORS if b != c]
    return frozenset(rng.sample(triples, n))


# (colour, shape, background) combinations never shown in training: the evaluator's held-out prompts.
HELD_OUT = _held_out()


def is_held_out(scene: Scene) -> bool:
    return (scene.color, scene.shape, scene.background) in HELD_OUT


def training_scene(rng: random.Random) -> Scene:
    while True:
        scene = random_scene(rng)
        if not is_held_out(scene):
            return scene
