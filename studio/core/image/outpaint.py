"""Outpainting's canvas: the init image on a larger canvas, the new area filled with a blurred stretch of the
picture (a colour prior the model paints over, so the new area matches), and the mask — the new area plus a band
reaching into the picture, where the seam is repainted and blended."""

from __future__ import annotations

from PIL import Image, ImageDraw, ImageFilter, ImageOps

SEAM = 16  # pixels of the picture repainted along each extended edge


def outpaint_canvas(
    picture: Image.Image, pad: tuple[int, int, int, int], size: tuple[int, int]
) -> tuple[Image.Image, Image.Image]:
    """(canvas, mask) of ``size`` with ``picture`` placed ``pad`` = (left, top, right, bottom) pixels in from
    the left and top; white in the mask is what the model paints."""
    left, top, right, bottom = pad
    width, height = size
    picture = picture.convert("RGB")
    blur = max(8, max(width, height) // 12)
    canvas = ImageOps.fit(picture, size, Image.Resampling.BILINEAR).filter(ImageFilter.GaussianBlur(blur))
    # the picture's own edges, stretched outwards, keep the colours right next to the seam
    stretched = picture.resize(
        (width if (left or right) else picture.width, height if (top or bottom) else picture.height),
        Image.Resampling.BILINEAR,
    ).filter(ImageFilter.GaussianBlur(blur // 2))
    canvas.paste(stretched, (0 if (left or right) else left, 0 if (top or bottom) else top))
    canvas = canvas.filter(ImageFilter.GaussianBlur(blur // 2))
    canvas.paste(picture, (left, top))
    mask = Image.new("L", size, 255)
    keep = (
        left + (SEAM if left else 0),
        top + (SEAM if top else 0),
        left + picture.width - (SEAM if right or width > left + picture.width else 0),
        top + picture.height - (SEAM if bottom or height > top + picture.height else 0),
    )
    if keep[2] > keep[0] and keep[3] > keep[1]:
        ImageDraw.Draw(mask).rectangle((keep[0], keep[1], keep[2] - 1, keep[3] - 1), fill=0)
    return canvas, mask
