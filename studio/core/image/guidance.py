"""ControlNet units and reference images, from a draft to the spec's frozen units: the models found by name (or
path) and checked against the image model's family *before* anything is loaded, the IP-Adapter and its image
encoder chosen for the model when the draft does not say."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from studio.core.image.finders import FileFinder
from studio.core.image.specs import ControlUnit, ReferenceUnit
from studio.core.image.units import parse_control, parse_reference
from studio.core.io.untrusted import is_dir, lst
from studio.core.models.model_identify import FAMILY_LABELS

Describe = Callable[[Path], dict[str, Any]]  # model_library.describe_path


def controlnet_finder(
    folders: list[Path], entries: Callable[[], Iterable[tuple[str, Path]]] = lambda: ()
) -> FileFinder:
    """ControlNet models where AUTOMATIC1111 (``models/ControlNet``), ComfyUI (``controlnet``) and InvokeAI keep
    them; a diffusers ControlNet folder is given by its path or found in the library."""
    return FileFinder(folders, entries, "ControlNet", ("ControlNet", "controlnet", "controlnets"),
                      (".safetensors",))  # fmt: skip


def ip_adapter_finder(
    folders: list[Path], entries: Callable[[], Iterable[tuple[str, Path]]] = lambda: ()
) -> FileFinder:
    return FileFinder(folders, entries, "IP-Adapter", ("ipadapter", "ip_adapter", "IP-Adapter", "ip-adapter"),
                      (".safetensors",))  # fmt: skip


def _abs(path: str) -> str:
    return os.path.abspath(Path(path).expanduser())


def _family_word(family: str) -> str:
    return FAMILY_LABELS.get(family, family.upper() or "an unknown family")


def _model_family(model: str, describe: Describe) -> str:
    family = str(describe(Path(model)).get("family") or "") if model else ""
    return "sdxl" if family == "sdxl-refiner" else ("sd2" if family == "sd2-v" else family)


def resolve_controls(
    listed: Any,
    model: str,
    finder: FileFinder,
    describe: Describe,
    problems: dict[str, str],
    remote: bool = False,
) -> tuple[ControlUnit, ...]:
    """The draft's ControlNet units, frozen: each model a file or folder that exists and fits the image model's
    family (SD 1.x, SD 2.x or SDXL), each image a path. ``remote``: the ControlNets are a server's, kept by name
    (the server is asked when the job runs)."""
    units = []
    family = "" if remote else _model_family(model, describe)
    for i, item in enumerate(lst(listed)):
        unit = parse_control(item)
        if isinstance(unit, str):
            problems["controls"] = f"Unit {i + 1}: {unit}" if i else unit
            continue
        ref = unit["model"]
        if remote:
            units.append(ControlUnit(_abs(unit["image"]), unit["preprocessor"], ref, unit["weight"], unit["start"],
                                     unit["end"], unit["threshold_a"], unit["threshold_b"]))  # fmt: skip
            continue
        if is_dir(Path(ref).expanduser()):
            path: Path | None = Path(ref).expanduser().resolve()
        else:
            path, why = finder.find(ref)
            if path is None:
                problems["controls"] = why
                continue
        assert path is not None
        info = describe(path)
        kind, cn_family = info.get("kind"), str(info.get("family") or "")
        if kind != "controlnet":
            problems["controls"] = (
                f"{path.name} is not a ControlNet ({info.get('label') or info.get('reason') or kind})."
            )
            continue
        if family in ("sd3", "flux"):
            problems["controls"] = (
                f"ControlNet units work with SD 1.x, SD 2.x and SDXL models; this one is {_family_word(family)}."
            )
            continue
        if family and cn_family and cn_family != family:
            problems["controls"] = (f"{path.name} is a ControlNet for {_family_word(cn_family)}; the model is "
                                    f"{_family_word(family)}. Choose a ControlNet made for it.")  # fmt: skip
            continue
        units.append(ControlUnit(_abs(unit["image"]), unit["preprocessor"], str(path), unit["weight"],
                                 unit["start"], unit["end"], unit["threshold_a"], unit["threshold_b"]))  # fmt: skip
    return tuple(units)


def _encoder_for(
    adapter: Path, info: dict[str, Any], encoders: Callable[[], Iterable[Path]], describe: Describe
) -> tuple[Path | None, str]:
    """The CLIP image encoder an IP-Adapter needs: by its embedding width, first beside the adapter
    (``image_encoder`` next to it or one folder up, as h94/IP-Adapter lays them out), then the library's."""
    need = int(info.get("details", {}).get("image_embed_dim") or 0)
    plus = info.get("variant") == "plus"
    near = [adapter.parent / "image_encoder", adapter.parent.parent / "image_encoder"]
    seen: list[Path] = []
    for folder in [*near, *encoders()]:
        if folder in seen or not is_dir(folder):
            continue
        seen.append(folder)
        enc = describe(folder)
        if enc.get("kind") != "image-encoder":
            continue
        details = enc.get("details", {})
        width = details.get("hidden_size") if plus else details.get("projection_dim")
        if not need or width == need:
            return folder.resolve(), ""
    vit = {1024: "ViT-H/14 (h94/IP-Adapter models/image_encoder)", 1280: "ViT-bigG/14 (h94/IP-Adapter "
           "sdxl_models/image_encoder)"}.get(need, f"with {need}-wide embeddings")  # fmt: skip
    return None, (f"{adapter.name} needs a CLIP image encoder {vit}: put its folder as image_encoder beside the "
                  "IP-Adapter, or in the models folder's clip_vision folder.")  # fmt: skip


def resolve_references(
    listed: Any,
    model: str,
    finder: FileFinder,
    encoders: Callable[[], Iterable[Path]],
    describe: Describe,
    problems: dict[str, str],
) -> tuple[ReferenceUnit, ...]:
    """The draft's reference images, frozen: each with an IP-Adapter of the model's family (the named one, else
    the first the library has) and the image encoder that adapter was trained with."""
    units = []
    family = _model_family(model, describe)
    for item in lst(listed):
        unit = parse_reference(item)
        if isinstance(unit, str):
            problems["references"] = unit
            continue
        if family in ("sd3", "flux"):
            problems["references"] = (
                f"Reference images work with SD 1.x, SD 2.x and SDXL models; this one is {_family_word(family)}."
            )
            continue
        if unit["model"]:
            path, why = finder.find(unit["model"])
            if path is None:
                problems["references"] = why
                continue
            candidates = [path]
        else:
            candidates = list(finder.named().values())
        chosen = None
        for path in candidates:
            info = describe(Path(path))
            if info.get("kind") == "ip-adapter" and (not family or info.get("family") in (family, "")):
                chosen = (Path(path), info)
                break
        if chosen is None:
            if unit["model"]:
                problems["references"] = (f"{Path(candidates[0]).name} is not an IP-Adapter for "
                                          f"{_family_word(family)}.")  # fmt: skip
            else:
                problems["references"] = (f"A reference image needs an IP-Adapter for {_family_word(family)} "
                                          "(e.g. h94/IP-Adapter's ip-adapter_sd15.safetensors or "
                                          "ip-adapter_sdxl_vit-h.safetensors) in the models folder's ipadapter "
                                          "folder.")  # fmt: skip
            continue
        adapter, info = chosen
        encoder: Path | None
        if unit["encoder"]:
            encoder, why = Path(unit["encoder"]).expanduser().resolve(), ""
        else:
            encoder, why = _encoder_for(adapter, info, encoders, describe)
        if encoder is None:
            problems["references"] = why
            continue
        units.append(ReferenceUnit(_abs(unit["image"]), str(adapter.resolve()), str(encoder), unit["weight"],
                                   unit["start"], unit["end"]))  # fmt: skip
    return tuple(units)


def guidance_problems(controls: tuple[ControlUnit, ...], references: tuple[ReferenceUnit, ...],
                      image_problem: Callable[[str, str], str], remote: bool = False) -> dict[str, str]:  # fmt: skip
    """What keeps frozen units from running (from a queue or recipe file too): files gone, values out of range.
    ``remote``: the ControlNets are a server's, by name (the server checks them when the job runs)."""
    from studio.core.image.control import PREPROCESSORS
    from studio.core.io.untrusted import exists

    problems: dict[str, str] = {}
    for i, u in enumerate(controls):
        where = f"ControlNet unit {i + 1}" if len(controls) > 1 else "The ControlNet unit"
        if u.preprocessor not in PREPROCESSORS:
            problems["controls"] = f"{where}: no preprocessor {u.preprocessor[:40]!r}."
        elif not 0 <= u.weight <= 2 or not 0 <= u.start < u.end <= 1:
            problems["controls"] = f"{where}: weight 0–2, and 0 ≤ start < end ≤ 1."
        elif not remote and not exists(u.model):
            problems["controls"] = f"The ControlNet {u.model[:200]} does not exist."
        elif why := image_problem(u.image, "control image"):
            problems["controls"] = why
    for r in references:
        if not 0 <= r.weight <= 2 or not 0 <= r.start < r.end <= 1:
            problems["references"] = "Reference image: weight 0–2, and 0 ≤ start < end ≤ 1."
        elif not exists(r.model):
            problems["references"] = f"The IP-Adapter {r.model[:200]} does not exist."
        elif not is_dir(r.encoder):
            problems["references"] = f"The image encoder {r.encoder[:200]} does not exist."
        elif why := image_problem(r.image, "reference image"):
            problems["references"] = why
    return problems
