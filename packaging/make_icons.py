"""Render resources/icons/studio.svg into the icon files the desktop builds need:
hicolor PNGs (16…512 px) for Linux, an .ico for Windows and an .icns for macOS. Run after changing the logo:

    .venv/bin/python packaging/make_icons.py
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
APP_ID = "app.studio.Studio"
SIZES = (16, 22, 24, 32, 48, 64, 128, 256, 512)


def logo_svg() -> bytes:
    """The logo as the app draws it: the accent colour with a white star (the file is a colour template)."""
    from studio.ui.common.theme import ACCENT

    svg = (ROOT / "resources" / "icons" / "studio.svg").read_text("utf-8")
    return svg.replace("#COLOR", ACCENT).replace("#BACKGROUND", "#ffffff").encode()


def render(svg: bytes, size: int):
    from PySide6.QtCore import QByteArray, QRectF, Qt
    from PySide6.QtGui import QGuiApplication, QImage, QPainter
    from PySide6.QtSvg import QSvgRenderer

    QGuiApplication.instance() or QGuiApplication([])
    image = QImage(size, size, QImage.Format.Format_ARGB32)
    image.fill(Qt.GlobalColor.transparent)
    painter = QPainter(image)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    QSvgRenderer(QByteArray(svg)).render(painter, QRectF(0, 0, size, size))
    painter.end()
    return image


def main() -> None:
    from PIL import Image

    svg = logo_svg()
    out = ROOT / "packaging" / "icons"
    pngs = {}
    for size in SIZES:
        target = out / "hicolor" / f"{size}x{size}" / "apps" / f"{APP_ID}.png"
        target.parent.mkdir(parents=True, exist_ok=True)
        render(svg, size).save(str(target))
        pngs[size] = target
    scalable = out / "hicolor" / "scalable" / "apps" / f"{APP_ID}.svg"
    scalable.parent.mkdir(parents=True, exist_ok=True)
    scalable.write_bytes(svg)
    big = Image.open(pngs[256])
    big.save(out / "studio.ico", sizes=[(s, s) for s in (16, 24, 32, 48, 64, 128, 256)])
    Image.open(pngs[512]).save(out / "studio.icns")
    print(f"wrote {len(SIZES)} PNGs, an SVG, studio.ico and studio.icns under {out}")


if __name__ == "__main__":
    main()
