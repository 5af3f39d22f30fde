"""Every model Studio can see, from every source, identified without loading weights.

Sources: Studio's models folder, extra folders the user adds (another tool's models folder, used in place), and
the Hugging Face cache on disk. Kinds: image checkpoints (diffusers folders and single .safetensors files),
LoRAs, textual-inversion embeddings, VAEs, text models (transformers causal-LM folders); pickled files are listed
as refused, anything else as unknown — with the reason, never hidden.
"""

from __future__ import annotations

import contextlib
import os
import stat
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from studio.core.io.gguf_header import FILE_TYPES, GGUFError, read_gguf_header
from studio.core.io.safetensors_header import HeaderError, read_header
from studio.core.io.untrusted import Unreadable, lst, obj, read_bytes, read_json, regular_file_problem, text
from studio.core.models import few_step
from studio.core.models.builtin_models import (
    BUILTIN_IMAGE_DIRS,
    BUILTIN_LORA_DIR,
    BUILTIN_SOUND_DIRS,
    BUILTIN_TEXT_DIRS,
    model_card,
)
from studio.core.models.model_identify import FAMILY_LABELS, Identity, identify, kohya_metadata
from studio.core.models.sound_models import sound_model

PICKLED = (".ckpt", ".pt", ".pth", ".bin")
CAPTIONER_TYPES = (
    "blip",
    "blip-2",
    "git",
    "vision-encoder-decoder",
    "florence2",
)  # caption from the picture alone
SEGMENTER, DETECTOR, MATTING = "segmenter", "detector", "matting"
# transformers' model types that select parts of a picture (each a class transformers carries: no remote code)
VISION_TYPES = {
    "sam": (SEGMENTER, "Segment Anything (click-to-select)"),
    "sam_hq": (SEGMENTER, "Segment Anything HQ (click-to-select)"),
    "owlv2": (DETECTOR, "OWLv2 open-vocabulary detector (select by words)"),
    "owlvit": (DETECTOR, "OWL-ViT open-vocabulary detector (select by words)"),
    "vitmatte": (MATTING, "ViTMatte matting (clean cut-out edges)"),
    # transformers' SAM 2 reads pictures with torchvision, which would replace this torch: named, not used
    "sam2": (
        "refused",
        "Segment Anything 2: its image processor needs torchvision, which Studio does not install; "
        "use SAM or SAM-HQ (facebook/sam-vit-base)",
    ),
}


@dataclass(frozen=True)
class LibraryEntry:
    path: Path
    name: str
    source: str  # "models folder" | "extra folder" | "Hugging Face cache"
    kind: str  # "checkpoint" | "lora" | "embedding" | "vae" | "text" | "captioner" | "segmenter" | … | "refused"
    family: str = ""
    label: str = ""
    reason: str = ""
    size: int = 0
    details: dict[str, Any] = field(default_factory=dict)
    damaged: bool = False  # the file could not be read (a bad header)


def hf_cache_dir() -> Path:
    """Where huggingface_hub keeps downloads (``HF_HUB_CACHE``, ``HF_HOME``/hub, or ~/.cache/huggingface/hub)."""
    if os.environ.get("HF_HUB_CACHE"):
        return Path(os.environ["HF_HUB_CACHE"])
    if os.environ.get("HF_HOME"):
        return Path(os.environ["HF_HOME"]) / "hub"
    return Path.home() / ".cache" / "huggingface" / "hub"


def pipeline_family(cls: str, folder: Path) -> str:
    """The family of a diffusers pipeline folder from its class name, and for SD its UNet's context width."""
    if "XL" in cls:
        return "sdxl"
    if "StableDiffusion3" in cls:
        return "sd3"
    if "Flux" in cls:
        return "flux"
    unet = obj(read_json(folder / "unet" / "config.json", max_bytes=MAX_CONFIG))
    return "sd2" if unet.get("cross_attention_dim") == 1024 else "sd1"


MAX_CONFIG = 4 * 1024 * 1024  # model_index.json and config.json are kilobytes


def folder_size(folder: Path, max_files: int = 20_000) -> int:
    """Bytes of the regular files in a folder tree (links not followed, at most ``max_files`` counted)."""
    total = count = 0
    for dirpath, _dirs, files in os.walk(folder):
        for name in files:
            count += 1
            if count > max_files:
                return total
            with contextlib.suppress(OSError):
                st = os.stat(os.path.join(dirpath, name))
                if stat.S_ISREG(st.st_mode):
                    total += st.st_size
    return total


def _sound_entry(folder: Path, source: str, name: str) -> LibraryEntry | None:
    """A sound or speech model (MusicGen, Stable Audio, AudioLDM 2, VITS, Studio's own), or None."""
    if (audio := sound_model(folder)) is None:
        return None
    has_weights = any(folder.glob("**/*.safetensors"))
    return LibraryEntry(folder, name, source, audio.kind if has_weights else "refused", audio.family, audio.label,
                        "" if has_weights else "only pickled weights (.bin); Studio loads safetensors",
                        size=folder_size(folder))  # fmt: skip


def _folder_entry(folder: Path, source: str, name: str | None = None) -> LibraryEntry | None:
    """What a folder is (a diffusers pipeline, a text model, a captioner), or None when it is none of them."""
    name = name or folder.name
    index = folder / "model_index.json"
    config = folder / "config.json"
    if not index.exists() and not config.exists():
        return None
    size = folder_size(folder)
    if index.exists():
        data = read_json(index, max_bytes=MAX_CONFIG)
        if not isinstance(data, dict):
            why = data.why if isinstance(data, Unreadable) else "it is not a JSON object"
            return LibraryEntry(
                folder, name, source, "unknown", reason=f"model_index.json is unreadable: {why}", size=size
            )
        cls = text(data.get("_class_name"))
        few = few_step.from_folder(folder)
        return LibraryEntry(
            folder,
            name,
            source,
            "checkpoint",
            pipeline_family(cls, folder),
            f"diffusers pipeline ({cls})",
            size=size,
            details={"few_step": few.label} if few else {},
        )
    data = obj(read_json(config, max_bytes=MAX_CONFIG))
    if text(data.get("_class_name")) in ("AutoencoderTiny", "AutoencoderKL"):
        tiny = data["_class_name"] == "AutoencoderTiny"
        family = ("taesdxl" if "xl" in folder.name.lower() else "taesd") if tiny else "sd-vae"
        label = "tiny autoencoder (TAESD: live previews, fast decode)" if tiny else "VAE (diffusers folder)"
        has_weights = any(folder.glob("*.safetensors"))
        return LibraryEntry(folder, name, source, "vae" if has_weights else "refused", family, label,
                            "" if has_weights else "only pickled weights; Studio loads safetensors", size=size)  # fmt: skip
    if text(data.get("_class_name")) in ("ControlNetModel", "ControlNetXSAdapter"):
        # as pipeline_family: SDXL's size conditioning, else the text width (1024: SD 2.x)
        context = data.get("cross_attention_dim")
        family = (
            "sdxl" if data.get("addition_embed_type") == "text_time" else "sd2" if context == 1024 else "sd1"
        )
        has_weights = any(folder.glob("*.safetensors"))
        return LibraryEntry(folder, name, source, "controlnet" if has_weights else "refused", family,
                            f"{FAMILY_LABELS.get(family, '')} ControlNet (diffusers folder)".strip(),
                            "" if has_weights else "only pickled weights; Studio loads safetensors", size=size)  # fmt: skip
    if text(data.get("model_type")) == "clip_vision_model" or "CLIPVisionModelWithProjection" in lst(
        data.get("architectures")
    ):
        dim = data.get("projection_dim")
        has_weights = any(folder.glob("*.safetensors"))
        return LibraryEntry(folder, name, source, "image-encoder" if has_weights else "refused", "clip-vision",
                            "CLIP image encoder (for IP-Adapters)", "" if has_weights else "only pickled weights; "
                            "Studio loads safetensors", size=size,
                            details={"projection_dim": dim if isinstance(dim, int) else 0,
                                     "hidden_size": data.get("hidden_size") if isinstance(data.get("hidden_size"), int) else 0})  # fmt: skip
    if data:
        archs = [text(a) for a in lst(data.get("architectures"))]
        model_type = text(data.get("model_type"))
        kind, label = VISION_TYPES.get(model_type) or (
            ("captioner", f"image captioner ({', '.join(archs)})")
            if model_type in CAPTIONER_TYPES
            else ("", "")
        )
        if kind:
            has_weights = any(folder.glob("*.safetensors"))
            return LibraryEntry(folder, name, source, kind if has_weights else "refused", model_type, label,
                                label if kind == "refused" else "" if has_weights else "only pickled weights (.bin); "
                                "Studio loads safetensors", size=size)  # fmt: skip
        if any(a.endswith(("ForCausalLM", "LMHeadModel")) for a in archs):
            has_weights = any(folder.glob("*.safetensors"))
            return LibraryEntry(
                folder,
                name,
                source,
                "text" if has_weights else "refused",
                text(data.get("model_type")),
                f"text model ({', '.join(archs)})",
                "" if has_weights else "only pickled weights (.bin); Studio loads safetensors",
                size=size,
            )
    return None


def _file_entry(path: Path, source: str, allow_pickle: bool = False) -> LibraryEntry:
    """One model file, identified from its header alone. Total: a file of any content gives an entry."""
    try:
        return _identify_file(path, source, allow_pickle)
    except Exception as e:  # noqa: BLE001 - the last net: one bad file costs one row, never the scan
        return LibraryEntry(
            path,
            path.stem,
            source,
            "unknown",
            reason=f"unreadable ({type(e).__name__}: {e})"[:300],
            damaged=True,
        )


def _identify_file(path: Path, source: str, allow_pickle: bool) -> LibraryEntry:
    if problem := regular_file_problem(path):
        return LibraryEntry(path, path.stem, source, "unknown", reason=problem, damaged=True)
    size = path.stat().st_size
    if path.suffix.lower() in PICKLED:
        if allow_pickle and path.suffix.lower() == ".ckpt":
            return LibraryEntry(
                path,
                path.stem,
                source,
                "checkpoint",
                "",
                "pickled checkpoint",
                "allowed by your setting; read with torch.load(weights_only=True), its family when it loads",
                size=size,
            )
        return LibraryEntry(
            path,
            path.stem,
            source,
            "refused",
            reason="a pickled file, which can run code when loaded; use a .safetensors version",
            size=size,
        )
    try:
        header = read_header(path)
    except (HeaderError, OSError) as e:
        return LibraryEntry(path, path.stem, source, "unknown", reason=str(e), size=size, damaged=True)
    who: Identity = identify(header)
    details = dict(who.details)
    if who.kind == "lora":
        details.update(kohya_metadata(header["__metadata__"]))
    if who.kind in ("lora", "checkpoint") and (few := few_step.detect(path, header["__metadata__"])):
        details["few_step"] = few.label  # "LCM: 4 steps, LCM, no CFG"
    return LibraryEntry(path, path.stem, source, who.kind, who.family, who.label, who.reason, size, details)


def gguf_entry(path: Path, source: str) -> LibraryEntry:
    """A GGUF language model file (llama.cpp's format), told from its header."""

    if problem := regular_file_problem(path):
        return LibraryEntry(path, path.stem, source, "unknown", reason=problem, damaged=True)
    size = path.stat().st_size
    try:
        header = read_gguf_header(path)
    except GGUFError as e:
        return LibraryEntry(path, path.stem, source, "unknown", reason=str(e), size=size, damaged=True)
    meta = header["metadata"]
    arch = str(meta.get("general.architecture", "?"))
    quant = FILE_TYPES.get(meta.get("general.file_type", -1), "")
    details = {"architecture": arch, "tensors": header["tensors"], "gguf_type": quant}
    label = f"GGUF language model ({arch}{', ' + quant if quant else ''})"
    reason = "read through transformers, which dequantizes it to full precision on loading"
    return LibraryEntry(path, str(meta.get("general.name") or path.stem), source, "text", arch, label, reason,
                        size, details)  # fmt: skip


def scan_folder(
    root: Path, source: str, max_depth: int = 4, allow_pickle: bool = False
) -> list[LibraryEntry]:
    out: list[LibraryEntry] = []

    def visit(d: Path, depth: int) -> None:
        try:
            children = sorted(d.iterdir())
        except OSError:
            return
        for child in children:
            if child.name.startswith("."):
                continue
            if child.is_dir():
                entry = _safe_folder_entry(child, source)
                if entry is not None:
                    out.append(entry)
                elif depth < max_depth:
                    visit(child, depth + 1)
            elif child.suffix.lower() in (".safetensors", *PICKLED):
                out.append(_file_entry(child, source, allow_pickle))
            elif child.suffix.lower() == ".gguf":
                out.append(gguf_entry(child, source))

    if root.is_dir():
        visit(root, 0)
    return out


def _safe_folder_entry(folder: Path, source: str, name: str | None = None) -> LibraryEntry | None:
    try:
        return _sound_entry(folder, source, name or folder.name) or _folder_entry(folder, source, name)
    except Exception as e:  # noqa: BLE001 - one bad folder costs one row
        return LibraryEntry(
            folder, name or folder.name, source, "unknown", reason=f"unreadable ({e})"[:300], damaged=True
        )


def _mtime(p: Path) -> float:
    try:
        return p.stat().st_mtime
    except OSError:
        return 0.0


def scan_hf_cache(cache: Path | None = None) -> list[LibraryEntry]:
    """The newest snapshot of each cached repo that holds a pipeline or a text model (no network)."""
    cache = cache or hf_cache_dir()
    out = []
    for repo in sorted(cache.glob("models--*")):
        snaps = sorted((repo / "snapshots").glob("*"), key=_mtime, reverse=True)
        if not snaps or not snaps[0].is_dir():
            continue
        name = repo.name.removeprefix("models--").replace("--", "/")
        entry = _safe_folder_entry(snaps[0], "Hugging Face cache", name)
        if entry is not None:
            out.append(entry)
            continue
        for f in sorted(
            snaps[0].glob("*.safetensors")
        ):  # single files fetched from a repo (checkpoints, LoRAs)
            if f.exists():
                out.append(replace(_file_entry(f, "Hugging Face cache"), name=f"{name}/{f.stem}"))
    return out


TINY_VAE_REPOS = {"sdxl": ("taesdxl", "madebyollin--taesdxl"), "default": ("taesd", "madebyollin--taesd")}


def companion_folder(path: Path, family: str, hf_cache: Path | None = None) -> Path | None:
    """A diffusers pipeline folder of ``family`` to complete a single file that holds only the transformer: beside
    the file (or one folder up), else in the Hugging Face cache."""
    places = [path.parent, path.parent.parent]
    for place in places:
        for entry in scan_folder(place, "beside", max_depth=2):
            if entry.kind == "checkpoint" and entry.family == family and entry.path.is_dir():
                return entry.path
    for entry in scan_hf_cache(hf_cache):
        if entry.kind == "checkpoint" and entry.family == family and entry.path.is_dir():
            return entry.path
    return None


def find_tiny_vae(family: str, folders: list[Path], hf_cache: Path | None = None) -> Path | None:
    """A tiny autoencoder (TAESD for SD 1.x/2.x, TAESDXL for SDXL) the user has: a diffusers ``AutoencoderTiny``
    folder named taesd/taesdxl in a models folder (or its vae/VAE/VAE-approx folder), or madebyollin's repository in
    the Hugging Face cache. Looked up by name only: cheap enough to ask at every job."""
    name, repo = TINY_VAE_REPOS["sdxl" if family == "sdxl" else "default"]
    candidates = [d / sub / name for d in folders for sub in ("", "vae", "VAE", "VAE-approx")]
    cache = hf_cache or hf_cache_dir()
    snaps = sorted((cache / f"models--{repo}" / "snapshots").glob("*"), key=_mtime, reverse=True)
    for folder in [*candidates, *snaps]:
        config = obj(read_json(folder / "config.json", max_bytes=MAX_CONFIG)) if folder.is_dir() else {}
        if config.get("_class_name") == "AutoencoderTiny" and any(folder.glob("*.safetensors")):
            return folder
    return None


def find_vision_model(kind: str, folders: list[Path], hf_cache: Path | None = None) -> Path | None:
    """The first segmenter, detector or matting model (``kind``) the user has: a transformers folder in a models
    folder (or its ``sams``/``detectors``/``matting`` folder), else in the Hugging Face cache. Read from configs
    alone: cheap enough to ask at every job."""
    cache = hf_cache or hf_cache_dir()
    roots = [d / sub for d in folders for sub in ("", "sams", "segmenters", "detectors", "matting")]
    candidates = [c for r in roots if r.is_dir() for c in sorted(r.iterdir()) if c.is_dir()]
    candidates += [
        s for repo in sorted(cache.glob("models--*")) for s in sorted((repo / "snapshots").glob("*"))
    ]
    for folder in candidates[:2000]:
        config = (
            obj(read_json(folder / "config.json", max_bytes=MAX_CONFIG))
            if (folder / "config.json").is_file()
            else {}
        )
        found = VISION_TYPES.get(text(config.get("model_type")))
        if found and found[0] == kind and any(folder.glob("*.safetensors")):
            return folder
    return None


FAMILY_CHOICES = {
    "checkpoint": ("sd1", "sd2", "sd2-v", "sdxl"),
    "lora": ("sd1", "sd2", "sdxl"),
    "embedding": ("sd1", "sd2", "sdxl"),
    "controlnet": ("sd1", "sd2", "sdxl"),
    "ip-adapter": ("sd1", "sd2", "sdxl"),
}


def with_override(entry: LibraryEntry, family: str | None) -> LibraryEntry:
    """The entry as the user says it is: their family choice replaces what the header suggested."""

    if not family or family not in FAMILY_CHOICES.get(entry.kind, ()):
        return entry
    name = "SD 2.x v-prediction" if family == "sd2-v" else FAMILY_LABELS.get(family, family)
    return replace(
        entry,
        family=family,
        label=f"{name} {entry.kind} (family set by you)",
        details={**entry.details, "identified_as": entry.label or "unknown"},
    )


def scan_library(
    models_dir: Path,
    extra: tuple[Path, ...] | list[Path] = (),
    hf_cache: Path | None = None,
    overrides: dict[str, str] | None = None,
    allow_pickle: bool = False,
) -> list[LibraryEntry]:
    entries = []
    for folder in (*BUILTIN_IMAGE_DIRS, *BUILTIN_TEXT_DIRS, *BUILTIN_SOUND_DIRS):
        entry = _safe_folder_entry(folder, "built-in") if folder.is_dir() else None
        if entry is not None:
            entries.append(
                LibraryEntry(
                    entry.path,
                    model_card(folder).get("label", folder.name),
                    "built-in",
                    entry.kind,
                    entry.family,
                    entry.label,
                    entry.reason,
                    entry.size,
                )
            )
    entries += scan_folder(BUILTIN_LORA_DIR, "built-in")
    entries += scan_folder(models_dir, "models folder", allow_pickle=allow_pickle)
    for folder in extra:
        entries += scan_folder(Path(folder), "extra folder", allow_pickle=allow_pickle)
    entries += scan_hf_cache(hf_cache)
    overrides = overrides or {}
    entries = [with_override(e, overrides.get(str(e.path))) for e in entries]
    return sorted(entries, key=lambda e: (e.kind, e.name.lower()))


def describe_path(path: Path, overrides: dict[str, str] | None = None) -> dict[str, Any]:
    """What one file or folder is (``kind``, ``family``, ``format``, ``label``, ``reason``, details), for
    ``studio models info``: the header of a .safetensors file, the configs of a folder."""
    overrides = overrides or {}
    if path.is_dir():
        entry = _safe_folder_entry(path, "given")
        fmt = "diffusers" if (path / "model_index.json").is_file() else "transformers"
        if entry is None:
            return {
                "kind": "unknown",
                "family": "",
                "format": "folder",
                "label": "",
                "reason": "a folder without model_index.json or a causal-LM config.json",
            }
    elif path.suffix.lower() == ".gguf":
        entry, fmt = gguf_entry(path, "given"), "gguf"
    else:
        entry = _file_entry(path, "given")
        fmt = (
            "safetensors"
            if path.suffix.lower() == ".safetensors"
            else "pickle"
            if path.suffix.lower() in PICKLED
            else path.suffix.lstrip(".")
        )
    entry = with_override(entry, overrides.get(str(path)))
    info: dict[str, Any] = {
        "kind": entry.kind,
        "family": entry.family,
        "format": fmt,
        "label": entry.label,
        "reason": entry.reason,
        "size": entry.size,
        "damaged": entry.damaged,
    }
    details = dict(entry.details)
    training = {k: details.pop(k) for k in list(details) if k in _TRAINING_KEYS}
    info["details"] = details
    if training:
        info["training"] = training
    if path.is_file() and path.suffix.lower() == ".safetensors" and not entry.damaged:
        try:
            who = identify(read_header(path))
            info.update(variant=who.variant, key_style=who.key_style)
        except (HeaderError, OSError):
            pass
    return info


_TRAINING_KEYS = (
    "name",
    "base_model",
    "alpha",
    "learning_rate",
    "steps",
    "resolution",
    "images",
    "base_version",
    "trigger_words",
)


def demote_headings(markdown: str, by: int = 3) -> str:
    """The card's headings ``by`` levels smaller (an H1 reads as a section inside the details, not a poster);
    fenced code is left as it is."""
    out, fenced = [], False
    for line in markdown.splitlines():
        if line.lstrip().startswith("```"):
            fenced = not fenced
        elif not fenced and line.startswith("#"):
            marks = len(line) - len(line.lstrip("#"))
            if marks <= 6 and line[marks : marks + 1] in (" ", "\t"):
                line = "#" * min(6, marks + by) + line[marks:]
        out.append(line)
    return "\n".join(out)


def card_text(path: Path, max_bytes: int = 96 * 1024) -> str:
    """A model's card: the README.md of its folder (Hugging Face's model card, the built-ins' training data,
    licence and scores), or ``NAME.md`` beside a single file; '' when it has none. Read bounded, as text."""

    candidates = [path / "README.md"] if path.is_dir() else [path.with_suffix(".md")]
    for candidate in candidates:
        data = read_bytes(candidate, max_bytes)
        if not isinstance(data, Unreadable):
            text = data.decode("utf-8", errors="replace")
            if text.startswith("---"):  # the hub's YAML header (licence, tags): keep it, as a block
                head, sep, rest = text[3:].partition("\n---")
                text = f"```\n{head.strip()}\n```\n{rest}" if sep else text
            return text
    return ""


def model_folders(models_dir: Path, more: list[str]) -> list[Path]:
    """Where Studio looks for models by name: its models folder, then the folders the user added (settings).
    The window and the CLI both search these, in this order."""
    return [models_dir, *(Path(p).expanduser() for p in more if isinstance(p, str) and p.strip())]
