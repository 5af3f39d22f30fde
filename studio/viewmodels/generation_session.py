"""The Image panel's state: the draft recipe, its validation, and the Generate command."""

from __future__ import annotations

import dataclasses
import hashlib
from pathlib import Path, PurePosixPath
from typing import Any

from PySide6.QtCore import QBuffer, QByteArray, QIODevice, QObject, Signal
from PySide6.QtGui import QImage

from studio.core.image.finders import LoraFinder, upscaler_finder
from studio.core.image.prompts import extract_loras
from studio.core.image.recipe import IMAGE, freeze_image, studio_context
from studio.core.image.samplers import SAMPLERS
from studio.core.image.specs import ALL_BACKENDS, GenerateSpec
from studio.core.image.styles import StyleBook, apply_styles
from studio.core.io.atomic import atomic_write_bytes
from studio.core.io.pictures import open_picture
from studio.core.io.untrusted import exists
from studio.core.models.builtin_models import (
    BUILTIN_LORA_DIR,
    builtin_image_models,
    is_builtin,
    recommended_settings,
)
from studio.core.models.model_library import LibraryEntry, scan_folder
from studio.viewmodels.job_queue import JobQueue

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
        self._queue = queue
        self._inputs = Path(inputs_dir)
        self._model_dirs = list(model_dirs or [])
        self.recent_models: list[str] = list(recent_models or [])
        self._scanned: list[LibraryEntry] = []
        self.backends: list[str] = []  # ComfyUI servers by name
        self.backend_models: dict[str, list[str]] = {}  # a server's checkpoints, as it listed them
        self._values: dict[str, Any] = IMAGE.defaults()
        self._values.update(accepted_params(params or {}))
        self._errors: dict[str, str] = {}
        self.last_seed: int | None = None
        self.vae_defaults: dict[str, str] = {}  # model path -> its default VAE (the settings' own dict)
        self.wildcards_dir: Path | None = None  # __name__ files (the data home's wildcards folder)
        self.styles = StyleBook()  # the data home's styles.csv over the shipped styles (set by the app)
        self._tokenizers: dict[str, Any] = {}  # model path -> its CLIP tokenizer (ClipTokens) or None
        self._token_problem = ""

    # -- fields ----------------------------------------------------------------------------------------------
    def value(self, name: str) -> Any:
        return self._values[name]

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
    def rescan_models(self) -> None:
        """Look in the model folders now (the Models room's full scan replaces this with ``use_library``)."""
        self.use_library([e for d in self._model_dirs for e in scan_folder(d, "models folder", max_depth=2)])

    def use_library(self, entries: list[LibraryEntry]) -> None:
        """The model picker and the LoRA lookup come from the model library (every folder Studio sees)."""
        self._scanned = [
            e
            for e in entries
            if e.kind
            in (
                "checkpoint",
                "lora",
                "upscaler",
                "vae",
                "embedding",
                "controlnet",
                "ip-adapter",
                "image-encoder",
            )
        ]
        self.modelsChanged.emit()
        choices = self.model_choices()
        current = self._values["model"]
        if self._values["backend"] not in ("", ALL_BACKENDS):
            return  # the model is the server's
        if (not current or not exists(current)) and choices:  # none yet, or moved/deleted since
            self.choose_model(choices[0][1], remember=False)

    def set_backends(self, names: list[str]) -> None:
        """The ComfyUI servers a picture can be made on (besides this machine)."""
        self.backends = list(names)
        backend = self._values["backend"]
        if backend and backend not in self.backends and (backend != ALL_BACKENDS or not self.backends):
            self.set("backend", "")  # a server that was removed
        self.modelsChanged.emit()

    def set_backend_models(self, name: str, checkpoints: list[str]) -> None:
        """What a server offers (its checkpoints); its model picker follows, keeping the model when it has it."""
        from studio.core.image.comfy_workflow import match_name

        self.backend_models[name] = list(checkpoints)
        if self._values["backend"] == name and checkpoints:
            current = self._values["model"]
            found = match_name(current, tuple(checkpoints)) if current else None
            if found != current:
                self.set("model", found or checkpoints[0])
        self.modelsChanged.emit()

    def model_choices(self) -> list[tuple[str, str]]:
        """(label, path) for the model picker: recently used first, then what the model folders hold — or, when
        the picture is made on a server, the server's checkpoints."""
        backend = self._values["backend"]
        if (
            backend and backend != ALL_BACKENDS
        ):  # one server: its checkpoints ("all": this machine's, matched there)
            return [(PurePosixPath(c).stem, c) for c in self.backend_models.get(backend, [])]
        seen: set[str] = set()
        out: list[tuple[str, str]] = []
        builtins = {str(e.path): e.label for e in builtin_image_models()}
        for path in [
            *self.recent_models,
            *(str(e.path) for e in self._scanned if e.kind == "checkpoint"),
            *builtins,
        ]:
            if path in seen or not exists(path):
                continue
            seen.add(path)
            p = Path(path)
            out.append((builtins.get(path) or (p.stem if p.suffix else p.name), path))
        return out

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

    # -- seeds -------------------------------------------------------------------------------------------------
    def randomize_seed(self) -> None:
        self.set("seed", -1)

    def reuse_last_seed(self) -> None:
        if self.last_seed is not None:
            self.set("seed", self.last_seed)

    # -- inputs ------------------------------------------------------------------------------------------------
    def _store_input(self, image: QImage, kind: str) -> str:
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
        self.set("init_image", self._store_input(image, "init"))
        return True

    def set_mask(self, mask: QImage | None) -> None:
        """The painted inpaint mask (white = repaint), or None to go back to img2img."""
        if mask is None or mask.isNull() or _is_blank(mask):
            self.set("mask", None)
        else:
            self.set("mask", self._store_input(mask.convertToFormat(QImage.Format.Format_Grayscale8), "mask"))

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

    def lora_choices(self) -> list[tuple[str, str]]:
        """(label, path) of the library's LoRAs, those of the chosen model's family first."""
        family = next((e.family for e in self._scanned if str(e.path) == self._values["model"]), "")
        loras = [e for e in self._scanned if e.kind == "lora"]
        loras.sort(key=lambda e: (bool(family) and e.family != family, e.name.lower()))
        return [(f"{e.name}  ({e.label})" if e.label else e.name, str(e.path)) for e in loras]

    def upscaler_choices(self) -> list[tuple[str, str]]:
        """(label, value) of the hires upscalers: Latent, Lanczos, then the library's upscaler models."""
        from studio.core.image.recipe import BUILTIN_UPSCALERS

        return [(b, b) for b in BUILTIN_UPSCALERS] + self._named_choices("upscaler")

    # -- ControlNet units and reference images ---------------------------------------------------------------
    def controlnet_choices(self) -> list[tuple[str, str]]:
        """(label, path) of the library's ControlNets, those of the chosen model's family first."""
        family = self.model_family()
        nets = [e for e in self._scanned if e.kind == "controlnet"]
        nets.sort(key=lambda e: (bool(family) and e.family != family, e.name.lower()))
        return [(e.name, str(e.path)) for e in nets]

    def add_control(self, image: str | None = None) -> None:
        """A new unit: the given image (else the init image), canny, the first ControlNet that fits."""
        choices = self.controlnet_choices()
        unit = {"image": image or self._values["init_image"] or "", "preprocessor": "canny",
                "model": choices[0][1] if choices else "", "weight": 1.0, "start": 0.0, "end": 1.0}  # fmt: skip
        self.set("controls", [*self._units("controls"), unit])

    def set_control(self, index: int, key: str, value: Any) -> None:
        self._set_unit("controls", index, key, value)

    def remove_control(self, index: int) -> None:
        self.set("controls", [u for i, u in enumerate(self._units("controls")) if i != index])

    def control_from_strokes(self, index: int) -> bool:
        """Use the strokes painted on the Input view as the unit's scribble. False when nothing is painted."""
        if not self._values["mask"]:
            return False
        self._set_unit("controls", index, "image", self._values["mask"])
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
        width, height = int(self._values["width"]), int(self._values["height"])
        scale = side / max(width, height)
        size = (max(8, round(width * scale)), max(8, round(height * scale)))
        thresholds = (float(unit.get("threshold_a", 100.0)), float(unit.get("threshold_b", 200.0)))
        made = preprocess(pre.name, ImageOps.fit(picture, size, Image.Resampling.LANCZOS), thresholds)
        return made, empty_map_words(pre.name, made, thresholds)

    def add_reference(self, image: str) -> None:
        self.set(
            "references",
            [*self._units("references"), {"image": image, "weight": 0.6, "start": 0.0, "end": 1.0}],
        )

    def set_reference(self, index: int, key: str, value: Any) -> None:
        self._set_unit("references", index, key, value)

    def remove_reference(self, index: int) -> None:
        self.set("references", [u for i, u in enumerate(self._units("references")) if i != index])

    def _units(self, name: str) -> list[dict[str, Any]]:
        return [dict(u) for u in self._values[name] if isinstance(u, dict)]

    def _set_unit(self, name: str, index: int, key: str, value: Any) -> None:
        units = self._units(name)
        if 0 <= index < len(units):
            units[index][key] = value
            self.set(name, units)

    def model_family(self) -> str:
        """The chosen model's family as the library identified it ("" unknown)."""
        model = self._values["model"]
        return next((e.family for e in self._scanned if str(e.path) == model), "")

    def refiner_choices(self) -> list[tuple[str, str]]:
        """(label, path): None, then the SDXL refiners in the library."""
        refiners = [e for e in self._scanned if e.kind == "checkpoint" and (e.family == "sdxl-refiner"
                    or "XLImg2Img" in e.label)]  # fmt: skip
        return [("None", "")] + [
            (e.name, str(e.path)) for e in sorted(refiners, key=lambda e: e.name.lower())
        ]

    def vae_choices(self) -> list[tuple[str, str]]:
        """(label, value) of the VAEs: Automatic (the model's own or its default), then the library's VAEs."""
        return [("Automatic", "")] + self._named_choices("vae")

    def _named_choices(self, kind: str) -> list[tuple[str, str]]:
        entries = sorted((e for e in self._scanned if e.kind == kind), key=lambda e: e.name.lower())
        return [(e.name, str(e.path)) for e in entries]

    def _named(self, kind: str) -> Any:
        """(name, path) of the library's entries of a kind, for a finder (scanned only when needed)."""
        return lambda: [(e.path.stem, e.path) for e in self._scanned if e.kind == kind]

    def lora_folders(self) -> list[Path]:
        """Where LoRAs are looked up by name: the models folders (and their loras folders), the built-in ones,
        the folders of those listed; then the library."""
        listed = [Path(p).parent for p, _ in self._values["loras"]]
        return [*self._model_dirs, BUILTIN_LORA_DIR, *listed]

    def lora_finder(self) -> LoraFinder:
        return LoraFinder(self.lora_folders(), self._named("lora"))

    # -- generate ----------------------------------------------------------------------------------------------
    def build_spec(self) -> GenerateSpec | None:
        """Freeze the draft with the image recipe (the same road as ``studio generate``); errors go beside
        their fields."""
        frozen = freeze_image(dict(self._values), self._context())
        problems = frozen if isinstance(frozen, dict) else {}
        self._errors = problems
        self.errorsChanged.emit(dict(problems))
        return None if isinstance(frozen, dict) else frozen

    def _context(self) -> Any:
        listed = [Path(p).parent for p, _ in self._values["loras"]]
        return studio_context(self._model_dirs, lambda: self._scanned, self.vae_defaults, self.wildcards_dir,
                              self.styles, listed)  # fmt: skip

    # -- tokens ------------------------------------------------------------------------------------------------
    def token_report(self, field: str = "prompt") -> dict[str, Any] | None:
        """How the chosen model's tokenizer cuts a prompt field (styles applied): tokens, weights, 75-token chunks;
        None when the model's tokenizer is not known."""
        from studio.core.image.tokens import ClipTokens, tokenizer_folder

        model = self._values["model"]
        if model not in self._tokenizers:
            try:
                folder = tokenizer_folder(model)
                self._tokenizers[model] = ClipTokens(folder) if folder is not None else None
            except (OSError, ValueError) as e:  # a damaged tokenizer: no counter, never a crash
                self._tokenizers[model] = None
                self._token_problem = str(e)
        tokens = self._tokenizers[model]
        if tokens is None:
            return None
        prompt, negative = self.styled_prompts()
        return tokens.report(prompt if field == "prompt" else negative)

    def word_neighbours(self, word: str, count: int = 12) -> list[tuple[str, float]]:
        """The words nearest to ``word`` in the model's text-encoder embeddings (``ValueError``: why not)."""
        from studio.core.image.word_neighbours import neighbours

        self.token_report("prompt")  # the model's tokenizer, found once
        tokens = self._tokenizers.get(self._values["model"])
        if tokens is None:
            raise ValueError("Studio does not know this model's tokenizer.")
        return neighbours(self._values["model"], tokens, word, count)

    # -- styles ----------------------------------------------------------------------------------------------
    def style_names(self) -> list[str]:
        return sorted(self.styles.all(), key=str.lower)

    def toggle_style(self, name: str, on: bool) -> None:
        chosen = [n for n in self._values["styles"] if n != name]
        self.set("styles", [*chosen, name] if on else chosen)

    def styled_prompts(self) -> tuple[str, str]:
        """The prompt and negative prompt as the chosen styles make them (what the model will read)."""
        chosen, _ = self.styles.find([n for n in self._values["styles"] if isinstance(n, str)])
        return apply_styles(self._values["prompt"], self._values["negative_prompt"], chosen)

    def import_styles(self, source: str) -> str:
        """Add an A1111 styles.csv or a Fooocus style file's styles; a sentence saying what happened."""
        count, problems = self.styles.import_file(Path(source))
        self.changed.emit("styles")
        said = (
            f"{count} styles imported from {Path(source).name}."
            if count
            else f"No styles imported from {Path(source).name}."
        )
        return said + (" " + "; ".join(problems[:3]) + "." if problems else "")

    def plot(self, axes: list[str]) -> str | dict[str, str]:
        """Queue an X/Y/Z plot of the current recipe over ``axes`` ("seed=1,2,3", …): the job id, or the problems."""
        from studio.core.image.plot import freeze_plot

        if not axes:
            return {"axes": "Choose at least one axis and give it values."}
        frozen = freeze_plot(dict(self._values), axes, self._context())
        return frozen if isinstance(frozen, dict) else self._queue.enqueue(frozen)

    def word_attention(self, spec: GenerateSpec, words: list[str]) -> tuple[str, str] | dict[str, str]:
        """Queue ``spec``'s picture again while the model's attention to ``words`` is recorded: (job id, the folder
        the maps go to), or the problems."""
        import tempfile

        from studio.core.image.attention import AttentionSpec

        folder = tempfile.mkdtemp(prefix="studio-attention-")
        return self._queue.enqueue(
            AttentionSpec(spec.replace(batch_count=1, batch_size=1), tuple(words), folder)
        ), folder

    def make_variations(self, image: str, count: int = 4, strength: float = 0.25) -> str | dict[str, str]:
        """Queue ``count`` pictures near ``image`` (any picture with a recipe): its recipe with fresh variation
        seeds at ``strength``. The job id, or the problems (the panel is left as it is)."""
        return self._queue_from_image(image, variation_seed=-1, variation_strength=strength, batch_count=count,
                                      batch_size=1, init_image=None, mask=None, outpaint="")  # fmt: skip

    def make_again(self, image: str, **changes: Any) -> str | dict[str, str]:
        """Queue ``image``'s own recipe again (the same seed: the same picture), with ``changes``."""
        return self._queue_from_image(image, batch_count=1, batch_size=1, **changes)

    def record_steps(self, image: str) -> str | dict[str, str]:
        """Queue ``image``'s recipe again only to record its steps: its filmstrip goes beside it, and no second copy
        enters the gallery. The job id, or the problems."""
        from studio.core.image.filmstrip import StepsSpec

        frozen = self._spec_from_image(image, batch_count=1, batch_size=1)
        return frozen if isinstance(frozen, dict) else self._queue.enqueue(StepsSpec(frozen, image))

    def _queue_from_image(self, image: str, **changes: Any) -> str | dict[str, str]:
        frozen = self._spec_from_image(image, **changes)
        return frozen if isinstance(frozen, dict) else self._queue.enqueue(frozen)

    def _spec_from_image(self, image: str, **changes: Any) -> GenerateSpec | dict[str, str]:
        from studio.core.image.from_image import draft_from_image
        from studio.core.io.untrusted import Unreadable

        def find_model(name: str) -> str | None:
            return next(
                (str(e.path) for e in self._scanned if e.kind == "checkpoint" and e.name == name), None
            )

        found = draft_from_image(image, find_model)
        if isinstance(found, Unreadable):
            return {"prompt": found.why}
        draft = {**found[0], **changes}
        draft["model"] = draft.get("model") or self._values["model"]
        return freeze_image(draft, self._context())

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
        return self._queue.enqueue(spec)

    def upscale(self, image: str, scale: float, upscaler: str, tile: int = 256) -> str | dict[str, str]:
        """Queue an upscaled copy of ``image`` (the gallery's *Upscale…*): the job id, or the problems."""
        from studio.core.image.upscale_recipe import freeze_upscale

        finder = upscaler_finder(self._model_dirs, self._named("upscaler"))
        frozen = freeze_upscale({"image": image, "scale": scale, "upscaler": upscaler, "tile": tile}, finder)
        return frozen if isinstance(frozen, dict) else self._queue.enqueue(frozen)

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
            elif key in ("controls", "references"):
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
