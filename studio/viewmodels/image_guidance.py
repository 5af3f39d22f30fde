"""The Image room's ControlNet units, reference images (IP-Adapter) and regions: added, changed and removed in the
draft, and a unit's control map previewed as the job will make it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from studio.core.io.pictures import open_picture


class GuidanceUnits:
    """The draft's ``controls``, ``references``, ``regions`` and ``details`` (``session``: the Image room's draft)."""

    def __init__(self, session: Any):
        self.s = session

    def add_control(self, image: str | None = None) -> None:
        """A new unit: the given image (else the init image), canny, the first ControlNet that fits."""
        choices = self.s.library.controlnet_choices()
        unit = {"image": image or self.s.value("init_image") or "", "preprocessor": "canny",
                "model": choices[0][1] if choices else "", "weight": 1.0, "start": 0.0, "end": 1.0}  # fmt: skip
        self.s.set("controls", [*self._units("controls"), unit])

    def set_control(self, index: int, key: str, value: Any) -> None:
        self._set_unit("controls", index, key, value)

    def remove_control(self, index: int) -> None:
        self.s.set("controls", [u for i, u in enumerate(self._units("controls")) if i != index])

    def control_from_strokes(self, index: int) -> bool:
        """Use the strokes painted on the Input view as the unit's scribble. False when nothing is painted."""
        if not self.s.value("mask"):
            return False
        self._set_unit("controls", index, "image", self.s.value("mask"))
        self._set_unit("controls", index, "preprocessor", "scribble")
        return True

    def control_preview(self, index: int, side: int = 160) -> tuple[Any, str]:
        """(the unit's control map as a small PIL image, '' or what to change when it came out empty) or (None, why
        it cannot be shown now)."""
        from PIL import Image, ImageOps

        from studio.core.image.control import PREPROCESSORS, empty_map_words, preprocess

        units = self._units("controls")
        if not 0 <= index < len(units) or not units[index].get("image"):
            return None, "No control image yet."
        unit = units[index]
        pre = PREPROCESSORS.get(str(unit.get("preprocessor")))
        if pre is None or pre.run is None:
            return None, f"{pre.label if pre else 'This'} map is made when generating (it needs its model)."
        try:
            with open_picture(unit["image"]) as raw:
                picture = ImageOps.exif_transpose(raw).convert("RGB")
        except (OSError, ValueError, Image.DecompressionBombError):
            return None, f"{Path(unit['image']).name} is not an image Studio can read."
        width, height = int(self.s.value("width")), int(self.s.value("height"))
        scale = side / max(width, height)
        size = (max(8, round(width * scale)), max(8, round(height * scale)))
        thresholds = (float(unit.get("threshold_a", 100.0)), float(unit.get("threshold_b", 200.0)))
        made = preprocess(pre.name, ImageOps.fit(picture, size, Image.Resampling.LANCZOS), thresholds)
        return made, empty_map_words(pre.name, made, thresholds)

    def add_reference(self, image: str) -> None:
        self.s.set(
            "references",
            [*self._units("references"), {"image": image, "weight": 0.6, "start": 0.0, "end": 1.0}],
        )

    def set_reference(self, index: int, key: str, value: Any) -> None:
        self._set_unit("references", index, key, value)

    def remove_reference(self, index: int) -> None:
        self.s.set("references", [u for i, u in enumerate(self._units("references")) if i != index])

    def add_region(
        self, box: tuple[float, float, float, float] = (0.0, 0.0, 1.0, 1.0), prompt: str = ""
    ) -> None:
        """A new region over ``box`` (fractions of the width and height); its prompt to be written."""
        unit = {"prompt": prompt, "box": [round(v, 3) for v in box], "mask": "", "weight": 1.0}
        self.s.set("regions", [*self._units("regions"), unit])

    def set_region(self, index: int, key: str, value: Any) -> None:
        self._set_unit("regions", index, key, value)

    def remove_region(self, index: int) -> None:
        self.s.set("regions", [u for i, u in enumerate(self._units("regions")) if i != index])

    def add_detail(self, target: str = "face") -> None:
        """A new detailer unit: what to find, redrawn with the picture's own prompt at ADetailer's defaults."""
        self.s.set("details", [*self._units("details"), {"target": target, "prompt": "", "strength": 0.4,
                                                          "confidence": 0.3}])  # fmt: skip

    def set_detail(self, index: int, key: str, value: Any) -> None:
        self._set_unit("details", index, key, value)

    def remove_detail(self, index: int) -> None:
        self.s.set("details", [u for i, u in enumerate(self._units("details")) if i != index])

    def _units(self, name: str) -> list[dict[str, Any]]:
        return [dict(u) for u in self.s.value(name) if isinstance(u, dict)]

    def _set_unit(self, name: str, index: int, key: str, value: Any) -> None:
        units = self._units(name)
        if 0 <= index < len(units):
            units[index][key] = value
            self.s.set(name, units)
