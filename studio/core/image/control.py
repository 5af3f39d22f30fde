"""ControlNet units and reference images as a recipe gives them, and the preprocessors that need no model.

A unit on the command line is ``PREPROCESSOR:IMAGE:MODEL[:WEIGHT[:START:END]]`` (``canny:pose.png:control_sd15_canny:0.8``);
in a recipe file or the window it is an object with those keys. A reference image is ``IMAGE[:WEIGHT]``.

The built-in preprocessors are image filters (numpy/scipy): canny edges, soft edges, line art, scribble, tile,
inpaint, and "none" (the image as it is). Depth and pose need an estimator model; ``MODEL_PREPROCESSORS`` says
which, and the engine runs them with what the user has installed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from PIL import Image, ImageFilter


@dataclass(frozen=True)
class Preprocessor:
    name: str
    label: str
    help: str
    a1111: str  # the module name AUTOMATIC1111's ControlNet extension writes
    run: Callable[[Image.Image], Image.Image] | None = None  # None: needs a model (the engine runs it)


def _gray(image: Image.Image) -> np.ndarray:
    return np.asarray(image.convert("L"), dtype=np.float32)


def _to_image(values: np.ndarray) -> Image.Image:
    return Image.fromarray(np.clip(values, 0, 255).astype(np.uint8), "L").convert("RGB")


def canny(image: Image.Image, low: float = 100.0, high: float = 200.0) -> Image.Image:
    """Canny edges (white on black), by default with OpenCV's thresholds: Gaussian smoothing, Sobel gradients,
    non-maximum suppression along the gradient, and hysteresis (weak edges kept where they touch strong ones)."""
    from scipy import ndimage

    # the gradient of each colour channel, the strongest kept: an edge between two colours of the same brightness
    # (red on green) is an edge, which a grey conversion would lose
    rgb = np.asarray(image.convert("RGB"), dtype=np.float64)
    gx = np.zeros(rgb.shape[:2])
    gy = np.zeros(rgb.shape[:2])
    magnitude: np.ndarray = np.full(rgb.shape[:2], -1.0)
    for channel in range(3):
        g = ndimage.gaussian_filter(rgb[..., channel], 1.0)
        cx, cy = ndimage.sobel(g, axis=1), ndimage.sobel(g, axis=0)
        m = np.abs(cx) + np.abs(cy)  # OpenCV's default (L1) gradient norm
        take = m > magnitude
        gx, gy, magnitude = np.where(take, cx, gx), np.where(take, cy, gy), np.where(take, m, magnitude)
    angle = (np.rad2deg(np.arctan2(gy, gx)) + 180.0) % 180.0
    # the two neighbours along the gradient, by its direction rounded to 0°, 45°, 90° or 135°
    padded = np.pad(magnitude, 1)
    h, w = int(magnitude.shape[0]), int(magnitude.shape[1])

    def shifted(dy: int, dx: int) -> np.ndarray:
        return padded[1 + dy : 1 + dy + h, 1 + dx : 1 + dx + w]

    bins = ((angle + 22.5) // 45).astype(int) % 4
    offsets = {0: ((0, 1), (0, -1)), 1: ((1, 1), (-1, -1)), 2: ((1, 0), (-1, 0)), 3: ((1, -1), (-1, 1))}
    keep = np.zeros_like(magnitude, dtype=bool)
    for b, (a, c) in offsets.items():
        local = (magnitude >= shifted(*a)) & (magnitude >= shifted(*c))
        keep |= (bins == b) & local
    thin = np.where(keep, magnitude, 0.0)
    weak = thin >= low
    labels, count = ndimage.label(weak, structure=np.ones((3, 3), dtype=bool))
    if count == 0:
        return _to_image(np.zeros_like(thin))
    strong_labels = np.unique(labels[thin >= high])
    edges = np.isin(labels, strong_labels[strong_labels > 0])
    return _to_image(edges * 255.0)


def soft_edges(image: Image.Image) -> Image.Image:
    """Soft edges (white on black, with grey levels), as HED/PiDiNet give: the gradient's strength over two
    scales, normalised and brightened."""
    from scipy import ndimage

    g = _gray(image)
    total = np.zeros_like(g)
    for sigma in (1.0, 2.5):
        s = ndimage.gaussian_filter(g, sigma)
        total += np.hypot(ndimage.sobel(s, axis=1), ndimage.sobel(s, axis=0))
    top = float(np.percentile(total, 99.5)) or 1.0
    return _to_image(np.sqrt(np.clip(total / top, 0, 1)) * 255.0)


def lineart(image: Image.Image) -> Image.Image:
    """Line art (white lines on black, as the line-art ControlNets want): where a pixel is darker than its
    surroundings — a pencil-sketch filter."""
    from scipy import ndimage

    g = _gray(image)
    darker = ndimage.gaussian_filter(g, 2.0) - g
    top = float(np.percentile(darker, 99.5)) or 1.0
    return _to_image(np.clip(darker / top, 0, 1) ** 0.8 * 255.0)


def scribble(image: Image.Image) -> Image.Image:
    """Scribble (white strokes on black). A drawing (a light page with dark strokes, or strokes on black) is
    taken as drawn; a photograph becomes its bold soft edges."""
    from scipy import ndimage

    g = _gray(image)
    hist = np.histogram(g, bins=8, range=(0, 256))[0] / g.size
    if hist[0] + hist[-1] > 0.9:  # two-tone: a drawing
        strokes = g < 128 if hist[-1] > hist[0] else g >= 128
    else:
        soft = _gray(soft_edges(image))
        strokes = soft > 110
    strokes = ndimage.binary_dilation(strokes, iterations=1)
    return _to_image(strokes * 255.0)


def as_is(image: Image.Image) -> Image.Image:
    return image.convert("RGB")


def tile(image: Image.Image) -> Image.Image:
    """The tile ControlNet wants the picture itself, a little soft (it fills in the detail)."""
    return image.convert("RGB").filter(ImageFilter.GaussianBlur(0.5))


PREPROCESSORS: dict[str, Preprocessor] = {
    p.name: p
    for p in (
        Preprocessor("none", "None (as it is)", "The image is the control map already (a depth map, an edge "
                     "map, a pose skeleton).", "none", as_is),
        Preprocessor("canny", "Canny edges", "Hard edges of the image; for canny ControlNets.", "canny", canny),
        Preprocessor("softedge", "Soft edges", "Soft edges (HED-like); for softedge ControlNets.",
                     "softedge_hed", soft_edges),
        Preprocessor("lineart", "Line art", "Dark lines of a drawing or photo; for lineart ControlNets.",
                     "lineart_standard", lineart),
        Preprocessor("scribble", "Scribble", "Strokes of a drawing (white or black page); for scribble "
                     "ControlNets.", "scribble_hed", scribble),
        Preprocessor("tile", "Tile", "The picture itself; the tile ControlNet adds detail (upscaling).",
                     "tile_resample", tile),
        Preprocessor("inpaint", "Inpaint", "The init image with the masked area left open; for the inpaint "
                     "ControlNet, with a mask.", "inpaint_only", as_is),
        Preprocessor("depth", "Depth", "A depth map estimated by a depth model (controlnet-aux's MiDaS).",
                     "depth_midas"),
        Preprocessor("pose", "Pose (OpenPose)", "Body poses found by OpenPose (controlnet-aux).", "openpose"),
    )
}  # fmt: skip
MODEL_PREPROCESSORS = tuple(n for n, p in PREPROCESSORS.items() if p.run is None)


def preprocess(name: str, image: Image.Image, thresholds: tuple[float, float] | None = None) -> Image.Image:
    """The control map of ``image`` by a built-in preprocessor (raises KeyError for a model preprocessor);
    ``thresholds`` (A1111's Threshold A and B) for those that take them: canny's low and high."""
    run = PREPROCESSORS[name].run
    if run is None:
        raise KeyError(name)
    if name == "canny" and thresholds is not None:
        return canny(image, *thresholds)
    return run(image)


def unit_map(unit: Any, image: Image.Image) -> Image.Image:
    """A unit's control map, with its own thresholds."""
    return preprocess(unit.preprocessor, image, (unit.threshold_a, unit.threshold_b))


def empty_map_words(name: str, picture: Image.Image, thresholds: tuple[float, float]) -> str:
    """A sentence when a map came out empty (no edge found), saying what to change; "" when it has content."""
    brightest = picture.convert("L").getextrema()[1]
    if name != "canny" or (isinstance(brightest, int | float) and brightest > 0):
        return ""
    low, high = thresholds
    return f"No edges at thresholds {low:g}/{high:g}: lower them, or use soft edges."


def fit(image: Image.Image, size: tuple[int, int]) -> Image.Image:
    """Scaled to cover ``size`` and centre-cropped (as init images are)."""
    from PIL import ImageOps

    return ImageOps.fit(image.convert("RGB"), size, Image.Resampling.LANCZOS)
