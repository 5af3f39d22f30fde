"""Inpainting's last step, wherever the picture was made (this machine or a ComfyUI server): the pixels outside
the mask are the original's, as AUTOMATIC1111 keeps them, so an inpaint never softens what it was not asked to
touch."""

from __future__ import annotations

from PIL import Image, ImageFilter, ImageOps


def paste_unmasked(generated: Image.Image, init: Image.Image, mask: Image.Image, blur: int) -> Image.Image:
    """Keep the original pixels outside the mask (feathered by ``blur`` px); ``init`` and ``mask`` are fitted to
    the generated picture's size the way the init image was (scaled to cover, centre cropped)."""
    size = generated.size
    if init.size != size:
        init = ImageOps.fit(init.convert("RGB"), size, Image.Resampling.LANCZOS)
    mask = mask.convert("L")
    if mask.size != size:
        mask = ImageOps.fit(mask, size, Image.Resampling.BILINEAR)
    alpha = mask.filter(ImageFilter.GaussianBlur(blur)) if blur > 0 else mask
    return Image.composite(generated.convert("RGB"), init.convert("RGB"), alpha)
