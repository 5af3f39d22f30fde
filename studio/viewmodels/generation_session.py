"""The Image panel's state: the draft recipe, its validation, and the Generate command."""

from __future__ import annotations

import dataclasses
import hashlib
from pathlib import Path
from typing import Any

from PySide6.QtCore import QBuffer, QByteArray, QIODevice, QObject, Signal
from PySide6.QtGui import QImage

from studio.core.image.prompts import extract_loras
from studio.core.image.recipe import IMAGE, freeze_image, studio_context
from studio.core.image.samplers import SAMPLERS
from studio.core.image.specs import GenerateSpec
from studio.core.image.styles import StyleBook
from studio.core.io.atomic import atomic_write_bytes
from studio.core.models.builtin_models import is_builtin
from studio.core.models.recommended import recommended_settings
from studio.viewmodels.image_guidance import GuidanceUnits
from studio.viewmodels.image_library import ImageLibrary
from studio.viewmodels.job_queue import JobQueue
from studio.viewmodels.model_cards import ModelCards
from studio.viewmodels.picture_jobs import PictureJobs
from studio.viewmodels.prompt_tools import PromptTools

DEFAULTS: dict[str, Any] = IMAGE.defaults()  # the image recipe's table: one source for every default
REMEMBERED = [k for k in DEFAULTS if k not in ("init_image", "mask", "parent_image")]


def accepted_params(params: dict[str, Any]) -> dict[str, Any]:
    """Remembered fields (settings.json, untrusted) that still fit the recipe: right type, allowed value."""
    out: dict[str, Any] = {}
    for k, v in params.items():
        if k not in REMEMBERED:
            continue
        try:
            value = IMAGE[k].convert(v)
        except ValueError:
            continue
        if not IMAGE[k].check(value):
            out[k] = value
    loras = out.get("loras", [])
    if not all(isinstance(x, list) and len(x) == 2 and isinstance(x[0], str) and isinstance(x[1], int | float)
               and not isinstance(x[1], bool) for x in loras):  # fmt: skip
        out.pop("loras", None)
    return out


class GenerationSession(QObject):
    """Holds the draft; ``generate()`` freezes it into a ``GenerateSpec`` and queues it, or reports errors."""

    changed = Signal(str)  # the field name
    modelsChanged = Signal()
    errorsChanged = Signal(dict)  # field -> message (empty: no errors)
    lastSeedChanged = Signal(object)  # an int up to 2^64-1

    def __init__(
        self,
        queue: JobQueue,
        inputs_dir: Path,
        model_dirs: list[Path] | None = None,
        params: dict[str, Any] | None = None,
        recent_models: list[str] | None = None,
        parent: QObject | None = None,
    ):
        super().__init__(parent)
        self.queue = queue
        self._inputs = Path(inputs_dir)
        self._values: dict[str, Any] = IMAGE.defaults()
        self._values.update(accepted_params(params or {}))
        self._errors: dict[str, str] = {}
        self.last_seed: int | None = None
        self.vae_defaults: dict[str, str] = {}  # model path -> its default VAE (the settings' own dict)
        self.wildcards_dir: Path | None = None  # __name__ files (the data home's wildcards folder)
        self.styles = StyleBook()  # the data home's styles.csv over the shipped styles (set by the app)
        # The draft's helpers, by role: what it can choose from, its guidance units, the prompt as the model reads
        # it, and the jobs made from a picture.
        self.library = ImageLibrary(self, list(model_dirs or []), list(recent_models or []))
        self.guidance = GuidanceUnits(self)
        self.prompts = PromptTools(self)
        self.jobs = PictureJobs(self)
        self.cards = ModelCards(self)  # a newly chosen model's limits, from its card, before its first use
        self.changed.connect(self._model_chosen)

    @property
    def recent_models(self) -> list[str]:
        return self.library.recent_models

    # -- fields ----------------------------------------------------------------------------------------------
    def value(self, name: str) -> Any:
        return self._values[name]

    def draft(self) -> dict[str, Any]:
        """A copy of every field of the draft."""
        return dict(self._values)

    def set(self, name: str, value: Any) -> None:
        if name not in self._values:
            raise KeyError(name)
        if self._values[name] == value:
            return
        self._values[name] = value
        if name == "sampler" and self._values["schedule"] not in SAMPLERS[value].schedules:
            self._values["schedule"] = "Automatic"
            self.changed.emit("schedule")
        if name == "prompt" and not str(value).strip() and self._values["idea"]:
            self._values["idea"] = ""  # the prompt was cleared: what it was written from goes with it
            self.changed.emit("idea")
        self.changed.emit(name)
        if name in self._errors or (name == "init_image" and "mask" in self._errors):
            self._errors.pop(name, None)
            if name == "init_image":
                self._errors.pop("mask", None)
            self.errorsChanged.emit(dict(self._errors))

    def report_error(self, field: str, message: str) -> None:
        """Show an error that surfaced later (e.g. from the engine) beside its field."""
        self._errors[field] = message
        self.errorsChanged.emit(dict(self._errors))

    @property
    def errors(self) -> dict[str, str]:
        return dict(self._errors)

    def remembered(self) -> dict[str, Any]:
        return {k: self._values[k] for k in REMEMBERED}

    @property
    def mode(self) -> str:
        from studio.core.image.recipe import parse_outpaint

        outpaint = parse_outpaint(self._values["outpaint"])
        if self._values["init_image"] and isinstance(outpaint, tuple) and any(outpaint):
            return "outpaint"
        if self._values["init_image"] and self._values["mask"]:
            return "inpaint"
        return "img2img" if self._values["init_image"] else "txt2img"

    # -- models ------------------------------------------------------------------------------------------------
    @property
    def using_builtin(self) -> bool:
        return bool(self._values["model"]) and is_builtin(self._values["model"])

    def choose_model(self, path: str, remember: bool = True) -> None:
        """Switch model; a model that recommends settings (the built-in demos do) gets them applied."""
        if remember and path and path not in self.recent_models and not is_builtin(path):
            self.recent_models.insert(0, path)
            del self.recent_models[10:]
            self.modelsChanged.emit()
        changed = path != self._values["model"]
        self.set("model", path)
        if changed:
            for key, value in recommended_settings(path).items():
                self.set(key, value)

    def _model_chosen(self, name: str) -> None:
        if name == "model":
            self.cards.check(str(self._values["model"] or ""))

    # -- seeds -------------------------------------------------------------------------------------------------
    def randomize_seed(self) -> None:
        self.set("seed", -1)

    def reuse_last_seed(self) -> None:
        if self.last_seed is not None:
            self.set("seed", self.last_seed)

    # -- inputs ------------------------------------------------------------------------------------------------
    def store_input(self, image: QImage, kind: str) -> str:
        """``image`` as a PNG in the inputs folder (named by its content: the same picture is kept once)."""
        buf = QByteArray()
        dev = QBuffer(buf)
        dev.open(QIODevice.OpenModeFlag.WriteOnly)
        image.save(dev, "PNG")  # type: ignore[call-overload]  # the stubs say bytes; PySide takes str
        data = bytes(buf.data())
        self._inputs.mkdir(parents=True, exist_ok=True)
        target = self._inputs / f"{kind}-{hashlib.sha256(data).hexdigest()[:16]}.png"
        if not target.exists():
            atomic_write_bytes(target, data)
        return str(target)

    def set_init_image(self, path: str | None, parent: str | None = None) -> bool:
        """Use an image file as the init image (img2img). Returns False, with an error, if it is not an image.
        ``parent`` names the gallery image it came from, so the result links back to it."""
        self.set("parent_image", parent)
        if path is None:
            self.set("mask", None)
            self.set("init_image", None)
            return True
        image = QImage(path)
        if image.isNull():
            self._errors["init_image"] = f"{Path(path).name} is not an image Studio can read."
            self.errorsChanged.emit(dict(self._errors))
            return False
        self.set("mask", None)
        self.set("init_image", self.store_input(image, "init"))
        return True

    def set_mask(self, mask: QImage | None) -> None:
        """The painted inpaint mask (white = repaint), or None to go back to img2img."""
        if mask is None or mask.isNull() or _is_blank(mask):
            self.set("mask", None)
        else:
            self.set("mask", self.store_input(mask.convertToFormat(QImage.Format.Format_Grayscale8), "mask"))

    # -- LoRAs -------------------------------------------------------------------------------------------------
    def add_lora(self, path: str, weight: float = 0.8) -> None:
        """Apply a LoRA; a few-step one (LCM, Lightning, Hyper-SD, TCD) also brings the settings it is made for."""
        loras = [list(x) for x in self._values["loras"] if x[0] != path] + [[path, weight]]
        self.set("loras", loras)
        for key, value in recommended_settings(path).items():
            self.set(key, value)

    def remove_lora(self, path: str) -> None:
        self.set("loras", [list(x) for x in self._values["loras"] if x[0] != path])

    def set_lora_weight(self, path: str, weight: float) -> None:
        self.set("loras", [[p, weight if p == path else w] for p, w in self._values["loras"]])

    # -- ControlNet units and reference images ---------------------------------------------------------------

    # -- generate ----------------------------------------------------------------------------------------------
    def build_spec(self) -> GenerateSpec | None:
        """Freeze the draft with the image recipe (the same road as ``studio generate``); errors go beside
        their fields."""
        frozen = freeze_image(dict(self._values), self.context())
        problems = frozen if isinstance(frozen, dict) else {}
        self._errors = problems
        self.errorsChanged.emit(dict(problems))
        return None if isinstance(frozen, dict) else frozen

    def freeze_with(self, overrides: dict[str, Any]) -> GenerateSpec | dict[str, str]:
        """The draft with ``overrides`` (the canvas's size and pictures) frozen; the room's fields stay as they are."""
        return freeze_image({**self._values, **overrides}, self.context())

    def context(self) -> Any:
        """What the draft is frozen in: the library's models, the built-in LoRAs, the user's wildcards and styles."""
        listed = [Path(p).parent for p, _ in self._values["loras"]]
        return studio_context(self.library.model_dirs, lambda: self.library.scanned, self.vae_defaults, self.wildcards_dir,
                              self.styles, listed)  # fmt: skip

    # -- tokens ------------------------------------------------------------------------------------------------

    # -- styles ----------------------------------------------------------------------------------------------

    def generate(self) -> str | None:
        """Validate, freeze and queue the current recipe. Returns the job id, or None (errors are shown)."""
        spec = self.build_spec()
        if spec is None:
            return None
        self.last_seed = spec.seed
        self.lastSeedChanged.emit(spec.seed)
        if not is_builtin(spec.model):
            if spec.model in self.recent_models:
                self.recent_models.remove(spec.model)
            self.recent_models.insert(0, spec.model)
            del self.recent_models[10:]
        return self.queue.enqueue(spec)

    def apply_fields(self, fields: dict[str, Any]) -> None:
        """Fill the fields a recipe names ("Use these settings" on any image); the others keep their values."""
        for key, value in fields.items():
            if key in self._values and key not in ("init_image", "mask", "parent_image"):
                self.set(key, value)
        self.set("batch_count", 1)
        self.set("batch_size", 1)

    def apply_spec(self, spec: GenerateSpec) -> None:
        """Fill every field from a recipe ("Use these settings"), seed included."""
        for key in REMEMBERED:
            if key == "loras":  # those the prompt names as <lora:…> stay there only: nothing listed twice
                tagged = {t.name.lower() for t in extract_loras(spec.prompt)[1]}
                listed = [
                    [lo.path, lo.weight] for lo in spec.loras if Path(lo.path).stem.lower() not in tagged
                ]
                self.set("loras", listed)
            elif key in ("controls", "references", "regions", "details"):
                self.set(key, [dataclasses.asdict(u) for u in getattr(spec, key)])
            elif key == "batch_count" or key == "batch_size":
                self.set(key, 1)
            else:
                self.set(key, getattr(spec, key))
        self.set("mask", None)
        self.set("init_image", spec.init_image)
        self.set("mask", spec.mask)
        self.set("parent_image", spec.parent_image)


def _is_blank(mask: QImage) -> bool:
    gray = mask.convertToFormat(QImage.Format.Format_Grayscale8)
    bits = gray.constBits()
    return not bytes(bits).strip(b"\x00")
