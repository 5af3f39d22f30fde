"""Converted UNets, kept beside the models (``<models>/openvino-cache/<name>-<key>/``): one per model and LoRA set
(a LoRA is merged into its own variant). Made once, with a progress bar and the disk space said; written to a
scratch folder and moved into place whole, so a conversion cut off (kill -9, a full disk) leaves no half cache; a
cache whose files do not match its manifest is damaged, removed and made again."""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import shutil
import threading
import time
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from studio.core.image.specs import LoraRef
from studio.core.io.words import duration, size
from studio.core.jobs.errors import ErrorKind, StudioError
from studio.core.jobs.events import Event, Loading, Note

FORMAT = 1
HALF_WEIGHTS_AGREE = 0.9995  # the cosine fp16 weights must keep with the traced network's prediction
MANIFEST = "manifest.json"
FILES = ("unet.xml", "unet.bin")
CACHE_FOLDER = "openvino-cache"
# measured here (2 cores): an SD 1.5-size UNet (860 M parameters) traces in 23 s and is written in 5 s
SECONDS_PER_BILLION = 33.0
SWITCH = "STUDIO_OPENVINO"  # "0": OpenVINO is never used (auto means torch)
Emit = Callable[[Event], None]


def cache_root(models_dir: Path) -> Path:
    """Where converted UNets are kept: beside the models."""
    return models_dir / CACHE_FOLDER


def default_root() -> Path:
    """The cache beside the models folder of this Studio home (``cache_root`` of it)."""
    from studio.core.io.paths import resolve_paths

    return cache_root(resolve_paths().models_dir)


def openvino_missing() -> str:
    """Why OpenVINO cannot be used on this install ("" when it can)."""
    if os.environ.get(SWITCH, "") == "0":
        return f"OpenVINO is switched off here ({SWITCH}=0)"
    if importlib.util.find_spec("openvino") is None:
        return "OpenVINO is not installed (pip install openvino)"
    return ""


def _stat(path: Path) -> list[Any]:
    st = path.stat()
    return [path.name, st.st_size, st.st_mtime_ns]


def unet_files(model: Path) -> list[Path]:
    """The files a model's UNet comes from: a folder's ``unet/`` weights, or the single file itself."""
    if model.is_file():
        return [model]
    folder = model / "unet"
    return sorted(p for p in folder.iterdir() if p.is_file()) if folder.is_dir() else []


def variant_key(model: Path, loras: tuple[LoraRef, ...], weights: str = "f16") -> str:
    """Changes when the UNet's weights, a LoRA file or weight, the weights' format, the converter's version or this
    format change."""
    from studio.engine.openvino_unet import openvino_version

    facts = {
        "format": FORMAT,
        "model": str(model.resolve()),
        "unet": [_stat(p) for p in unet_files(model)],
        "loras": [[*_stat(Path(lo.path)), lo.weight] for lo in loras],
        "openvino": openvino_version(),
        **({"weights": weights, "int8": "convolutions"} if weights != "f16" else {}),
    }
    return hashlib.sha1(json.dumps(facts, sort_keys=True).encode()).hexdigest()[:12]


@dataclass(frozen=True)
class Variant:
    """Where one model's (and LoRA set's) converted UNet lives."""

    root: Path  # <models>/openvino-cache
    model: Path
    loras: tuple[LoraRef, ...] = ()
    weights: str = "f16"  # "f16" (checked against the traced network), "int8" (int8 convolutions)

    @property
    def folder(self) -> Path:
        stem = "".join(c if c.isalnum() or c in "-_." else "_" for c in self.model.stem)[:60] or "model"
        suffix = "-int8" if self.weights == "int8" else ""
        return self.root / f"{stem}-{variant_key(self.model, self.loras, self.weights)}{suffix}"

    @property
    def xml(self) -> Path:
        return self.folder / FILES[0]

    def manifest(self) -> dict[str, Any] | None:
        """The manifest of a whole cache, else None (none yet, or damaged: then removed, with ``damaged`` set)."""
        manifest = checked_manifest(self.folder, FILES)
        if manifest is None or isinstance(manifest.get("config"), dict):
            return manifest
        self.remove()
        raise DamagedCache(self.folder)

    def remove(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)


class DamagedCache(Exception):
    """A cache folder whose files did not match its manifest (it has been removed)."""


def checked_manifest(folder: Path, files: tuple[str, ...]) -> dict[str, Any] | None:
    """The manifest of a whole cache folder (each of ``files`` as large as it says), None when there is none; a
    folder that does not match is removed and ``DamagedCache`` raised."""
    if not folder.exists():
        return None
    try:
        manifest = json.loads((folder / MANIFEST).read_text("utf-8"))
        sizes = manifest["files"]
        whole = isinstance(manifest, dict) and all((folder / n).stat().st_size == sizes[n] for n in files)
    except (OSError, ValueError, KeyError, TypeError):
        whole = False
    if whole:
        return manifest
    shutil.rmtree(folder, ignore_errors=True)
    raise DamagedCache(folder)


def check_space(root: Path, needed: int, name: str) -> None:
    root.mkdir(parents=True, exist_ok=True)
    free = shutil.disk_usage(root).free
    if free < needed * 1.1 + (64 << 20):
        raise StudioError(ErrorKind.IO, f"Converting {name} for OpenVINO needs {size(needed)} free in {root}; "
                          f"{size(free)} is free. Free some space, or set the CPU engine to torch.",
                          field="cpu_engine")  # fmt: skip


def input_shapes(config: Any, batch: int, side: int) -> dict[str, tuple[int, ...]]:
    """The shape of each input a UNet may take, for a batch and a square latent side (SDXL's pooled text is the
    width of its added embedding less its six size conditionings)."""
    width = config.get("projection_class_embeddings_input_dim") or 0
    return {
        "sample": (batch, config.in_channels, side, side),
        "timestep": (batch,),
        "encoder_hidden_states": (batch, 77, config.cross_attention_dim),
        "text_embeds": (batch, max(1, width - 6 * (config.get("addition_time_embed_dim") or 0))),
        "time_ids": (batch, 6),
        "timestep_cond": (batch, config.get("time_cond_proj_dim") or 1),
    }


def plain(unet: Any, names: tuple[str, ...]) -> Any:
    """The UNet as a function of plain tensors, in the order of ``names``."""
    import torch

    class Plain(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.unet = unet

        def forward(self, *args: Any) -> Any:
            given = dict(zip(names, args, strict=True))
            added = {k: given.pop(k) for k in ("text_embeds", "time_ids") if k in given}
            return self.unet(
                given.pop("sample"), given.pop("timestep"), given.pop("encoder_hidden_states"),
                timestep_cond=given.pop("timestep_cond", None), added_cond_kwargs=added or None, return_dict=False,
            )[0]  # fmt: skip

    return Plain().eval()


def _trace(unet: Any, names: tuple[str, ...]) -> Any:
    """The UNet converted by OpenVINO (shapes left open: a job fixes them)."""
    import openvino as ov
    import torch

    side = 16
    examples = {name: torch.randn(shape) for name, shape in input_shapes(unet.config, 2, side).items()}
    examples["timestep"] = torch.full((2,), 500.0)
    examples["time_ids"] = torch.tensor(
        [[side * 8, side * 8, 0, 0, side * 8, side * 8]] * 2, dtype=torch.float32
    )
    example = tuple(examples[n] for n in names)
    # the tracer warns of every shape-dependent branch; the sizes are fixed when compiled, and sizes whose branches
    # differ are sent to torch (cpu_engine.SIZE_STEP)
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = ov.convert_model(plain(unet, names), example_input=example)
    for port, name in zip(model.inputs, names, strict=True):
        port.get_tensor().set_names({name})
    return model


def convert(unet: Any, variant: Variant, emit: Emit, label: str) -> dict[str, Any]:
    """Convert ``unet`` (a torch UNet in float32) into ``variant``'s folder (fp16 weights), saying how far it is; its
    manifest."""
    import openvino as ov
    from diffusers.models.attention_processor import AttnProcessor2_0

    from studio.engine.openvino_unet import input_names, openvino_version
    from studio.engine.precision import cpu_caps

    # plain attention: a memory plan's sliced attention, traced in, would fix its slices to the example's shape
    unet.set_attn_processor(AttnProcessor2_0())
    params = sum(p.numel() for p in unet.parameters())
    needed = params * 2 + (8 << 20)  # fp16 weights on disk
    check_space(variant.root, needed, label)
    names = input_names(dict(unet.config))
    estimate = SECONDS_PER_BILLION * params / 1e9 * 2 / max(1, cpu_caps().physical_cores)
    what = f"Converting {label} for OpenVINO (once; {size(needed)} on disk, about {duration(estimate, rough=True)})"
    started = time.perf_counter()

    weights = []

    def work(scratch: Path) -> None:
        model = _trace(unet, names)
        ov.save_model(model, str(scratch / FILES[0]), compress_to_fp16=True)
        del model  # the traced network: the check compares the saved one with the torch UNet itself
        if agreement(unet, names, scratch / FILES[0]) < HALF_WEIGHTS_AGREE:
            check_space(variant.root, needed * 2, label)  # this network needs its weights in full precision
            ov.save_model(_trace(unet, names), str(scratch / FILES[0]), compress_to_fp16=False)
            weights.append("f32")

    with building(variant.root, variant.folder) as scratch:
        with_progress(lambda: work(scratch), estimate, what, emit)
        manifest = finish(scratch, FILES, {
            "format": FORMAT,
            "model": str(variant.model),
            "loras": [[lo.path, lo.weight] for lo in variant.loras],
            "openvino": openvino_version(),
            "config": {k: v for k, v in dict(unet.config).items() if _jsonable(v)},
            "inputs": list(names),
            "weights": weights[0] if weights else "f16",
            "seconds": round(time.perf_counter() - started, 1),
        })  # fmt: skip
    emit(Note(text=f"{label} was converted for OpenVINO in {duration(manifest['seconds'])} "
                   f"({size(sum(manifest['files'].values()))} in {variant.root}); later jobs start at once."))  # fmt: skip
    return manifest


@contextmanager
def quiet_nncf() -> Iterator[None]:
    """nncf's tables, warnings and progress bars kept off the user's terminal (``studio write --json`` prints JSON
    there)."""
    import contextlib
    import io
    import logging

    import nncf

    nncf.set_log_level(logging.WARNING)
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        yield


def compress_weights(model: Any, **options: Any) -> Any:
    """nncf's weight compression (int8 unless ``options`` say otherwise), quietly."""
    import nncf

    with quiet_nncf():
        return nncf.compress_weights(model, **options)


def agreement(unet: Any, names: tuple[str, ...], xml: Path) -> float:
    """The cosine between the torch UNet's prediction and the saved network's (fp16 weights, computed at f32), on
    one small random input: trained models agree to 0.9999+; a network that fp16 weights would change is kept in
    float32 (2× the disk). One compiled copy of the weights at a time, the file's pages let go while it compiles."""
    import numpy as np
    import openvino as ov
    import torch

    from studio.engine.mapped_pages import released

    rng = np.random.default_rng(0)
    shapes = input_shapes(unet.config, 1, 8)
    feed = {
        n: (rng.standard_normal(shapes[n]) * (500 if n == "timestep" else 1)).astype(np.float32)
        for n in names
    }
    with torch.no_grad():
        a = plain(unet, names)(*(torch.from_numpy(feed[n]) for n in names)).double().numpy().ravel()
    model = ov.Core().read_model(str(xml))
    model.reshape({n: ov.PartialShape(list(shapes[n])) for n in names})
    with released(xml.with_suffix(".bin")):
        compiled = ov.Core().compile_model(model, "CPU", {"INFERENCE_PRECISION_HINT": "f32"})
    del model
    b = np.asarray(compiled(feed)[0], dtype=np.float64).ravel()
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b) + 1e-12))


@contextmanager
def building(root: Path, folder: Path) -> Iterator[Path]:
    """A cache folder made in a scratch folder (named for this process) and moved into place whole when the block
    ends; the scratch folder is removed when it fails, and those of dead processes first: a conversion cut off
    (kill -9, a full disk) leaves no half cache."""
    sweep_scratch(root)
    scratch = root / f".{folder.name}.partial-{os.getpid()}"
    shutil.rmtree(scratch, ignore_errors=True)
    scratch.mkdir(parents=True)
    try:
        yield scratch
        shutil.rmtree(folder, ignore_errors=True)
        os.replace(scratch, folder)
    except BaseException:
        shutil.rmtree(scratch, ignore_errors=True)
        raise


def finish(scratch: Path, files: tuple[str, ...], facts: dict[str, Any]) -> dict[str, Any]:
    """The manifest of a cache folder being built — ``facts`` and each file's size, which ``checked_manifest``
    compares — written into it."""
    manifest = {**facts, "files": {n: (scratch / n).stat().st_size for n in files}}
    (scratch / MANIFEST).write_text(json.dumps(manifest, indent=1), "utf-8")
    return manifest


def sweep_scratch(root: Path) -> None:
    """Remove the scratch folders of conversions whose process is gone (killed, or the machine lost power)."""
    for scratch in root.glob(".*.partial-*"):
        pid = scratch.name.rpartition("-")[2]
        if pid.isdigit() and not _alive(int(pid)):
            shutil.rmtree(scratch, ignore_errors=True)


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # another user's process, or a platform without signal 0
        return True
    return True


def _jsonable(value: Any) -> bool:
    try:
        json.dumps(value)
    except (TypeError, ValueError):
        return False
    return True


def with_progress(work: Callable[[], None], estimate: float, what: str, emit: Emit) -> None:
    """Run ``work`` (which cannot report how far it is) on a thread, moving the bar along the estimate (never past
    95 % before it is done); its exception, if any, is raised here."""
    failure: list[BaseException] = []

    def run() -> None:
        try:
            work()
        except BaseException as e:  # noqa: BLE001 - handed to the caller
            failure.append(e)

    thread = threading.Thread(target=run, name="openvino-convert", daemon=True)
    started = time.perf_counter()
    thread.start()
    while thread.is_alive():
        fraction = min(0.95, (time.perf_counter() - started) / max(estimate, 1.0))
        emit(Loading(what=f"{what}… {int(fraction * 100)} %", fraction=fraction))
        thread.join(0.5)
    if failure:
        raise failure[0]
