"""What the Image room can choose from: the models, LoRAs, VAEs, refiners, upscalers and ControlNets the library
holds (those of the chosen model's family first), the servers a picture can be made on and what each offers."""

from __future__ import annotations

from pathlib import Path, PurePosixPath
from typing import Any

from studio.core.image.finders import LoraFinder
from studio.core.image.specs import ALL_BACKENDS
from studio.core.image.units import model_name_of
from studio.core.io.untrusted import exists
from studio.core.models.builtin_models import BUILTIN_LORA_DIR, builtin_image_models
from studio.core.models.model_library import LibraryEntry, scan_folder

IMAGE_KINDS = (
    "checkpoint",
    "lora",
    "upscaler",
    "vae",
    "embedding",
    "controlnet",
    "ip-adapter",
    "image-encoder",
)


class ImageLibrary:
    """The library's entries an image job can use, for one draft (``session``: its fields decide the order)."""

    def __init__(self, session: Any, model_dirs: list[Path], recent_models: list[str]):
        self.s = session
        self.model_dirs = list(model_dirs)
        self.recent_models = list(recent_models)
        self.scanned: list[LibraryEntry] = []
        self.backends: list[str] = []  # ComfyUI servers by name
        self.backend_models: dict[str, list[str]] = {}  # a server's checkpoints, as it listed them

    def find_checkpoint(self, name: str) -> str | None:
        """A checkpoint of the library by its name (another tool's recipe names its model so)."""
        return next((str(e.path) for e in self.scanned if e.kind == "checkpoint" and e.name == name), None)

    def rescan_models(self) -> None:
        """Look in the model folders now (the Models room's full scan replaces this with ``use_library``)."""
        self.use_library([e for d in self.model_dirs for e in scan_folder(d, "models folder", max_depth=2)])

    def use_library(self, entries: list[LibraryEntry]) -> None:
        """The model picker and the LoRA lookup come from the model library (every folder Studio sees)."""
        self.scanned = [e for e in entries if e.kind in IMAGE_KINDS]
        self.s.modelsChanged.emit()
        choices = self.model_choices()
        current = self.s.value("model")
        if self.s.value("backend") not in ("", ALL_BACKENDS):
            return  # the model is the server's
        if (not current or not exists(current)) and choices:  # none yet, or moved/deleted since
            self.s.choose_model(choices[0][1], remember=False)

    def set_backends(self, names: list[str]) -> None:
        """The ComfyUI servers a picture can be made on (besides this machine)."""
        self.backends = list(names)
        backend = self.s.value("backend")
        if backend and backend not in self.backends and (backend != ALL_BACKENDS or not self.backends):
            self.s.set("backend", "")  # a server that was removed
        self.s.modelsChanged.emit()

    def set_backend_models(self, name: str, checkpoints: list[str]) -> None:
        """What a server offers (its checkpoints); its model picker follows, keeping the model when it has it."""
        from studio.core.image.comfy_workflow import match_name

        self.backend_models[name] = list(checkpoints)
        if self.s.value("backend") == name and checkpoints:
            current = self.s.value("model")
            found = match_name(current, tuple(checkpoints)) if current else None
            if found != current:
                self.s.set("model", found or checkpoints[0])
        self.s.modelsChanged.emit()

    def model_choices(self) -> list[tuple[str, str]]:
        """(label, path) for the model picker: recently used first, then what the model folders hold — or, when
        the picture is made on a server, the server's checkpoints."""
        backend = self.s.value("backend")
        if (
            backend and backend != ALL_BACKENDS
        ):  # one server: its checkpoints ("all": this machine's, matched there)
            return [(PurePosixPath(c).stem, c) for c in self.backend_models.get(backend, [])]
        seen: set[str] = set()
        out: list[tuple[str, str]] = []
        builtins = {str(e.path): e.label for e in builtin_image_models()}
        for path in [
            *self.recent_models,
            *(str(e.path) for e in self.scanned if e.kind == "checkpoint"),
            *builtins,
        ]:
            if path in seen or not exists(path):
                continue
            seen.add(path)
            out.append((builtins.get(path) or model_name_of(path), path))
        return out

    def lora_choices(self) -> list[tuple[str, str]]:
        """(label, path) of the library's LoRAs, those of the chosen model's family first."""
        family = next((e.family for e in self.scanned if str(e.path) == self.s.value("model")), "")
        loras = [e for e in self.scanned if e.kind == "lora"]
        loras.sort(key=lambda e: (bool(family) and e.family != family, e.name.lower()))
        return [(f"{e.name}  ({e.label})" if e.label else e.name, str(e.path)) for e in loras]

    def upscaler_choices(self) -> list[tuple[str, str]]:
        """(label, value) of the hires upscalers: Latent, Lanczos, then the library's upscaler models."""
        from studio.core.image.recipe import BUILTIN_UPSCALERS

        return [(b, b) for b in BUILTIN_UPSCALERS] + self._named_choices("upscaler")

    def controlnet_choices(self) -> list[tuple[str, str]]:
        """(label, path) of the library's ControlNets, those of the chosen model's family first."""
        family = self.model_family()
        nets = [e for e in self.scanned if e.kind == "controlnet"]
        nets.sort(key=lambda e: (bool(family) and e.family != family, e.name.lower()))
        return [(e.name, str(e.path)) for e in nets]

    def model_family(self) -> str:
        """The chosen model's family as the library identified it ("" unknown)."""
        model = self.s.value("model")
        return next((e.family for e in self.scanned if str(e.path) == model), "")

    def refiner_choices(self) -> list[tuple[str, str]]:
        """(label, path): None, then the SDXL refiners in the library."""
        refiners = [e for e in self.scanned if e.kind == "checkpoint" and (e.family == "sdxl-refiner"
                    or "XLImg2Img" in e.label)]  # fmt: skip
        return [("None", "")] + [
            (e.name, str(e.path)) for e in sorted(refiners, key=lambda e: e.name.lower())
        ]

    def vae_choices(self) -> list[tuple[str, str]]:
        """(label, value) of the VAEs: Automatic (the model's own or its default), then the library's VAEs."""
        return [("Automatic", "")] + self._named_choices("vae")

    def _named_choices(self, kind: str) -> list[tuple[str, str]]:
        entries = sorted((e for e in self.scanned if e.kind == kind), key=lambda e: e.name.lower())
        return [(e.name, str(e.path)) for e in entries]

    def named(self, kind: str) -> Any:
        """(name, path) of the library's entries of a kind, for a finder (scanned only when needed)."""
        return lambda: [(e.path.stem, e.path) for e in self.scanned if e.kind == kind]

    def lora_folders(self) -> list[Path]:
        """Where LoRAs are looked up by name: the models folders (and their loras folders), the built-in ones,
        the folders of those listed; then the library."""
        listed = [Path(p).parent for p, _ in self.s.value("loras")]
        return [*self.model_dirs, BUILTIN_LORA_DIR, *listed]

    def lora_finder(self) -> LoraFinder:
        return LoraFinder(self.lora_folders(), self.named("lora"))
