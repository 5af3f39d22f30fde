"""Finding the LoRA a recipe names: ``<lora:name:w>`` / ``<lyco:name:w>`` tags in the prompt and ``--lora
NAME[:W]`` (or a path) — one lookup for the window and the command line.

A *name* is a file name without its ``.safetensors``, found in the model library (every folder Studio sees) or in
the LoRA folders; it never contains a path separator or ``..``, so a prompt can never load a file from elsewhere.
A *path* (what the LoRA picker and ``--lora FILE.safetensors`` give) is used as it is.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from studio.core.io.untrusted import is_file

SUFFIXES = (".safetensors",)


def name_problem(name: str, word: str = "LoRA") -> str:
    """'' for a plain name; else why it is not one (separators, '..', control characters)."""
    if not name.strip():
        return f"an empty {word} name"
    if len(name) > 200:
        return f"a {word} name far too long to be one"
    if "/" in name or "\\" in name or name.strip() in (".", "..") or ".." in name.split("/"):
        return f"“{name[:60]}” is not a {word} name (a name has no folders in it)"
    if any(ord(c) < 32 for c in name):
        return f"a {word} name with control characters"
    return ""


def looks_like_path(ref: str, suffixes: tuple[str, ...] = SUFFIXES) -> bool:
    return "/" in ref or "\\" in ref or ref.lower().endswith(suffixes)


def split_ref(text: str) -> tuple[str, float | None]:
    """``NAME[:W]`` or ``PATH[:W]`` → (reference, weight or None). A Windows drive letter is not a weight."""
    ref, sep, weight = text.rpartition(":")
    if sep and ref and not weight.startswith(("/", "\\")):
        try:
            return ref, float(weight)
        except ValueError:
            pass
    return text, None


@dataclass
class FileFinder:
    """Looks names up in ``folders`` (each also with its ``subfolders``), then in the library's entries
    (``entries()`` is called only when a name is not found directly: a full scan reads every header). One finder
    per kind of file a recipe names: LoRAs, upscalers, embeddings, ControlNets, VAEs."""

    folders: list[Path] = field(default_factory=list)
    entries: Callable[[], Iterable[tuple[str, Path]]] = lambda: ()
    word: str = "LoRA"
    subfolders: tuple[str, ...] = ("loras", "Lora")
    suffixes: tuple[str, ...] = SUFFIXES
    in_root: bool = True  # look in the folders themselves too, not only in their subfolders

    def candidates(self) -> list[Path]:
        out: list[Path] = []
        for d in self.folders:
            for sub in ("",) * self.in_root + self.subfolders:
                p = d / sub if sub else d
                if p not in out:
                    out.append(p)
        return out

    def named(self) -> dict[str, Path]:
        """Every file of this kind by name: the folders' files first, then the library's entries."""
        out: dict[str, Path] = {}
        for d in self.candidates():
            try:
                children = sorted(d.iterdir())
            except OSError:
                continue
            for p in children:
                if p.suffix.lower() in self.suffixes and not p.name.startswith(".") and is_file(p):
                    out.setdefault(p.stem, p)
        for name, path in self.entries():
            out.setdefault(name, path)
        return out

    def find(self, ref: str, allow_path: bool = True) -> tuple[Path | None, str]:
        """(the file, '') or (None, why not). A prompt's tags pass ``allow_path=False``: names only."""
        if allow_path and looks_like_path(ref, self.suffixes):
            p = Path(ref).expanduser()
            if is_file(p):
                return p.resolve(), ""
            return None, f"The {self.word} file {ref} does not exist."
        if problem := name_problem(ref, self.word):
            return None, f"{problem[0].upper()}{problem[1:]}."
        for d in self.candidates():
            for suffix in self.suffixes:
                candidate = d / f"{ref}{suffix}"
                if is_file(candidate):
                    return candidate.resolve(), ""
        for name, path in self.entries():
            if name == ref:
                return path, ""
        where = ", ".join(str(d) for d in self.folders[:3]) or "the models folder"
        subs = "/".join(self.subfolders[:2])
        return None, (f"{self.word} “{ref}” was not found in {where} (or their {subs} folders); add it to the "
                      "models folder, or give its path.")  # fmt: skip


LoraFinder = FileFinder  # its defaults are the LoRAs'


def embedding_finder(
    folders: list[Path], entries: Callable[[], Iterable[tuple[str, Path]]] = lambda: ()
) -> FileFinder:
    """Textual-inversion embeddings: AUTOMATIC1111 keeps them in ``embeddings`` beside its ``models`` folder."""
    return FileFinder(folders, entries, "embedding", ("embeddings", "Embeddings", "../embeddings"),
                      (".safetensors", ".pt", ".bin"), in_root=False)  # fmt: skip


def vae_finder(
    folders: list[Path], entries: Callable[[], Iterable[tuple[str, Path]]] = lambda: ()
) -> FileFinder:
    """VAEs (a file, or a diffusers VAE folder given by its path)."""
    return FileFinder(folders, entries, "VAE", ("vae", "VAE"), (".safetensors",))


def upscaler_finder(
    folders: list[Path], entries: Callable[[], Iterable[tuple[str, Path]]] = lambda: ()
) -> FileFinder:
    """Upscaler models (ESRGAN, Real-ESRGAN, SwinIR, …) where AUTOMATIC1111 and ComfyUI keep them."""
    return FileFinder(folders, entries, "upscaler", ("upscalers", "upscale_models", "ESRGAN", "RealESRGAN"),
                      (".safetensors", ".pth"))  # fmt: skip
