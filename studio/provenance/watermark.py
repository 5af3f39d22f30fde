"""An invisible watermark in the pixels: the DWT-DCT scheme of ``invisible-watermark`` (the one SDXL's reference
code uses), written here in numpy so that marking a 1024² picture costs milliseconds.

The picture's U channel (YUV, as OpenCV defines it) is split by a one-level Haar wavelet; in every 4×4 block of
the approximation band the largest coefficient after the first is quantised (step 36) so that its remainder says
one bit. The bits of the mark repeat over the blocks; reading takes the vote of every block that carries a bit.
``invisible-watermark``'s own decoder (``WatermarkDecoder('bytes', 48).decode(bgr, 'dwtDct')``) reads Studio's
mark as ``b'Studio'``. A lossless re-save keeps it; it is not meant to survive heavy editing (see docs/user/
provenance.md for what was measured)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image

STUDIO_MARK = b"Studio"
# diffusers' StableDiffusionXLWatermarker: 48 bits, the same scheme
SDXL_BITS = tuple(int(b) for b in bin(0b101100111110110010010000011110111011000110011110)[2:])
SCALE = np.float32(
    36
)  # the quantisation step of invisible-watermark's default (scales [0, 36, 36]: U only, its loop)
BLOCK = 4
MAX_WRONG_BITS = 6  # of 48: a picture without the mark agrees by chance with p ≈ 4·10⁻⁸
EDGE = np.float32(
    4
)  # how far inside its half of the step a written remainder is kept (a reader's rounding: ≤ 1)
CLIP_COST = 1000.0  # a unit of clipping costs as much as moving coefficients a thousand units
MARGIN = np.float32(2)  # how far below the written coefficient the others of its block are kept
MIN_SIDE = 32  # below this the picture has fewer blocks than the mark has bits


def _bits(mark: bytes) -> np.ndarray:
    return np.unpackbits(np.frombuffer(mark, dtype=np.uint8)).astype(np.float32)


def _quads(plane: np.ndarray) -> tuple[np.ndarray, ...]:
    """The four pixels of each 2×2 quad of a plane (cropped to whole blocks), as four strided views."""
    return plane[0::2, 0::2], plane[0::2, 1::2], plane[1::2, 0::2], plane[1::2, 1::2]


def _approx(rgb: np.ndarray) -> np.ndarray:
    """The approximation band of a one-level Haar transform of OpenCV's U channel (U = 0.492·(B − Y) + 128;
    pywt's cA = (a + b + c + d) / 2), computed from the quads' sums of each colour."""
    r, g, b = (np.sum([q.astype(np.float32) for q in _quads(rgb[..., c])], axis=0) for c in range(3))
    band: np.ndarray = np.float32(0.246) * (
        np.float32(0.886) * b - np.float32(0.299) * r - np.float32(0.587) * g
    )
    return band + np.float32(256)


def _as_blocks(band: np.ndarray) -> np.ndarray:
    """A band as (blocks, 16) in row-major block order."""
    bh, bw = band.shape[0] // BLOCK, band.shape[1] // BLOCK
    return band.reshape(bh, BLOCK, bw, BLOCK).transpose(0, 2, 1, 3).reshape(bh * bw, BLOCK * BLOCK)


def _whole(rgb: np.ndarray) -> np.ndarray:
    """The picture cropped to whole 8×8 blocks (a view)."""
    return rgb[: rgb.shape[0] // 8 * 8, : rgb.shape[1] // 8 * 8]


def _room(rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """How far each approximation coefficient can move up and down before its pixels' blue clips (cA units)."""
    quads = _quads(rgb[..., 2])
    high = np.maximum(np.maximum(quads[0], quads[1]), np.maximum(quads[2], quads[3]))
    low = np.minimum(np.minimum(quads[0], quads[1]), np.minimum(quads[2], quads[3]))
    return _as_blocks((255 - high).astype(np.float32) * np.float32(0.984)), _as_blocks(
        low * np.float32(0.984)
    )


def _strongest(blocks: np.ndarray) -> np.ndarray:
    """The index of each block's largest coefficient after the first (the quantity the bit is written into)."""
    return np.argmax(np.abs(blocks[:, 1:]), axis=1) + 1


def _options(blocks: np.ndarray, want: np.ndarray, pos: np.ndarray, room: tuple[np.ndarray, np.ndarray]
             ) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
    """The changes (blocks, 3, 16) that make coefficient ``pos`` of each block say its bit from the three nearest
    stretches of values whose remainder says it (kept EDGE inside their ends; a value inside one does not move),
    every other coefficient as large pulled below it — and what each costs: how far the coefficients move, and a
    heavy price for each unit a pixel would clip."""
    rows = np.arange(len(blocks))
    val = blocks[rows, pos]
    size, sign = np.abs(val), np.where(val < 0, np.float32(-1), np.float32(1))
    low = (np.floor(size / SCALE)[:, None] + np.array([-1.0, 0.0, 1.0], dtype=np.float32)
           + 0.5 * want[:, None]) * SCALE + EDGE  # fmt: skip
    levels = np.clip(size[:, None], low, low + SCALE / 2 - 2 * EDGE)
    limit = np.maximum(levels - MARGIN, 0)[:, :, None]  # (blocks, 3, 1)
    delta = np.clip(blocks[:, None, :], -limit, limit) - blocks[:, None, :]  # (blocks, 3, 16)
    delta[:, :, 0] = 0  # the first coefficient is not compared
    delta[rows, :, pos] = levels * sign[:, None] - val[:, None]
    clipped = np.maximum(delta - room[0][:, None, :], 0) + np.maximum(-delta - room[1][:, None, :], 0)
    cost = np.abs(delta).sum(axis=2) + CLIP_COST * clipped.sum(axis=2) + np.where(levels - EDGE < 0, 1e9, 0)
    return delta, cost


def _changes(blocks: np.ndarray, bits: np.ndarray, room: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
    """How much each approximation coefficient must move to say the bits: the strongest coefficient of each block
    carries its bit, at the least cost; where that would clip pixels (white next to black), another coefficient
    is made the strongest instead, if one can be without clipping."""
    rows = np.arange(len(blocks))
    want = bits[rows % len(bits)]
    delta, cost = _options(blocks, want, _strongest(blocks), room)
    pick = np.argmin(cost, axis=1)
    best, spent = delta[rows, pick], cost[rows, pick]
    stuck = np.nonzero(spent >= CLIP_COST)[0]
    for p in range(1, BLOCK * BLOCK) if len(stuck) else ():
        d, c = _options(blocks[stuck], want[stuck], np.full(len(stuck), p), (room[0][stuck], room[1][stuck]))
        k = np.argmin(c, axis=1)
        better = c[np.arange(len(stuck)), k] < spent[stuck]
        best[stuck[better]] = d[np.arange(len(stuck)), k][better]
        spent[stuck[better]] = c[np.arange(len(stuck)), k][better]
    return best


def embed(image: Image.Image, mark: bytes = STUDIO_MARK) -> Image.Image:
    """``image`` with ``mark`` hidden in its pixels (alpha kept). Pictures smaller than 32 px a side come back
    unchanged."""
    if min(image.size) < MIN_SIDE:
        return image
    rgb = np.array(image.convert("RGB") if image.mode != "RGB" else image)
    whole = _whole(rgb)
    band = _approx(whole)
    delta = _changes(_as_blocks(band), _bits(mark), _room(whole))
    bh, bw = band.shape[0] // BLOCK, band.shape[1] // BLOCK
    grid = delta.reshape(bh, bw, BLOCK, BLOCK).transpose(0, 2, 1, 3).reshape(band.shape)
    # the inverse Haar transform of a change in the approximation band alone: half of it on each of the quad's
    # four pixels; Y and V stay, so blue follows U (ΔB = ΔU / 0.492) and green keeps the luma
    at = np.nonzero(grid)
    blue = (grid[at] / 0.984).astype(np.float32)
    for channel, change in ((2, blue), (1, blue * np.float32(-0.114 / 0.587))):
        for quad in _quads(whole[..., channel]):
            quad[at] = np.clip(np.rint(quad[at] + change), 0, 255).astype(np.uint8)
    marked = Image.fromarray(rgb, "RGB")
    if "A" in image.getbands():
        marked.putalpha(image.getchannel("A"))
    return marked


@dataclass(frozen=True)
class MarkReading:
    """What the pixels say: which mark (``studio``, ``sdxl`` or ``""``), and how many of its 48 bits disagree."""

    mark: str
    wrong_bits: int
    votes: int  # blocks read

    @property
    def found(self) -> bool:
        return bool(self.mark)


def read(image: Image.Image) -> MarkReading:
    """Look for Studio's mark (and diffusers' SDXL mark) in the pixels."""
    if min(image.size) < MIN_SIDE:
        return MarkReading("", 48, 0)
    blocks = _as_blocks(_approx(_whole(np.asarray(image.convert("RGB") if image.mode != "RGB" else image))))
    if not len(blocks):
        return MarkReading("", 48, 0)
    val = np.abs(blocks[np.arange(len(blocks)), _strongest(blocks)])
    said = (np.mod(val, SCALE) > 0.5 * SCALE).astype(np.float64)
    length = 48
    slot = np.arange(len(blocks)) % length
    votes = np.bincount(slot, weights=said, minlength=length) / np.maximum(
        np.bincount(slot, minlength=length), 1
    )
    got = votes > 0.5
    best = ("", length)
    for name, bits in (("studio", _bits(STUDIO_MARK)), ("sdxl", np.array(SDXL_BITS, dtype=np.float64))):
        wrong = int(np.count_nonzero(got != bits.astype(bool)))
        if wrong < best[1]:
            best = (name, wrong)
    name, wrong = best
    return MarkReading(name if wrong <= MAX_WRONG_BITS else "", wrong, len(blocks))


def psnr(a: Image.Image, b: Image.Image) -> float:
    """Peak signal-to-noise ratio between two pictures of one size, in dB (inf when equal)."""
    x = np.asarray(a.convert("RGB"), dtype=np.float64)
    y = np.asarray(b.convert("RGB"), dtype=np.float64)
    mse = float(np.mean((x - y) ** 2))
    return float("inf") if mse == 0 else 10.0 * np.log10(255.0**2 / mse)
