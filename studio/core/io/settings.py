"""User settings: one human-readable JSON file, versioned, migrated forward, written atomically.

Untrusted when read (a hand-edited or damaged file costs its own values, never the start of Studio), and merged
when written, so two Studio processes saving at once lose neither one's change."""

from __future__ import annotations

import copy
import dataclasses
import json
import os
import time
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from studio.core.io.atomic import atomic_write_text, file_lock
from studio.core.io.dataclass_io import ShapeError, convert
from studio.core.io.untrusted import Unreadable, integer, read_json

SCHEMA_VERSION = 1


@dataclass(frozen=True)
class LoadOptions:
    """What the engine needs from the settings to load and run a model."""

    attention_slicing: str = "auto"
    vae_tiling: str = "auto"
    cpu_offload: str = "auto"
    allow_pickle: bool = False
    family_overrides: tuple[tuple[str, str], ...] = ()
    compile: bool = False  # "maximum speed": torch.compile the UNet (a one-time warm-up per size)

    def family_for(self, path: str) -> str | None:
        return dict(self.family_overrides).get(str(path))


@dataclass
class Settings:
    schema_version: int = SCHEMA_VERSION
    theme: str = "system"  # system | light | dark
    device: str = "auto"  # auto | cuda | mps | cpu
    dtype: str = "auto"  # auto | fp16 | bf16 | fp32
    preview_interval_s: float = 0.25  # the fastest rate at which live previews are sent
    image_model: str = ""  # last used image model path
    recent_models: list[str] = field(default_factory=list)
    image_params: dict[str, Any] = field(default_factory=dict)  # last-used parameters of the Image panel
    model_folders: list[str] = field(default_factory=list)  # other tools' model folders, used in place
    text_model: str = ""  # last used text model (a folder or a Hugging Face repo id)
    writer_params: dict[str, Any] = field(default_factory=dict)  # the Writer's sampling, Memory, Note
    window: dict[str, str] = field(default_factory=dict)  # geometry/state, base64
    attention_slicing: str = "auto"  # auto | on | off
    vae_tiling: str = "auto"  # auto | on | off
    cpu_offload: str = "auto"  # auto | on | off (CUDA only)
    allow_pickle: bool = (
        False  # load .ckpt/.pt/.bin checkpoints, and then only with torch.load(weights_only=True)
    )
    family_overrides: dict[str, str] = field(default_factory=dict)  # model path -> family the user chose
    vae_defaults: dict[str, str] = field(
        default_factory=dict
    )  # model path -> the VAE its jobs use by default
    welcome_shown: bool = False  # the first-run welcome was shown (Help → Welcome shows it again)
    compile: bool = False  # maximum speed: torch.compile the UNet (a one-time warm-up per size, kept on disk)
    # OpenAI-compatible servers the user added: {"name", "url", "kind", "insecure_tls"}; their keys are in the
    # system keyring, never here
    servers: list[dict[str, Any]] = field(default_factory=list)
    # provenance (docs/user/provenance.md): signed Content Credentials and the invisible watermark on every
    # picture; a private recipe signs only the recipe's hash
    content_credentials: bool = True
    watermark: bool = True
    private_recipes: bool = False
    # the content filter for shared machines (off by default): an image classifier's folder; pictures it flags
    # are never saved
    content_filter: bool = False
    content_filter_model: str = ""
    model_cards_seen: list[str] = field(default_factory=list)  # models whose limitations the user has read

    def load_options(self) -> LoadOptions:
        return LoadOptions(
            self.attention_slicing,
            self.vae_tiling,
            self.cpu_offload,
            self.allow_pickle,
            tuple(sorted(self.family_overrides.items())),
            self.compile,
        )

    def remember_model(self, path: str, keep: int = 10) -> None:
        self.image_model = path
        self.recent_models = [path] + [p for p in self.recent_models if p != path][: keep - 1]

    @property
    def notices(self) -> list[str]:
        """What the last load had to say (an unreadable file kept aside, values of the wrong type)."""
        return list(getattr(self, "_notices", []))


# Settings whose value must be one of a few words (a hand-edited file may say anything).
CHOICES: dict[str, tuple[str, ...]] = {
    "theme": ("system", "light", "dark"),
    "device": ("auto", "cuda", "mps", "cpu"),
    "dtype": ("auto", "fp16", "bf16", "fp32"),
    "attention_slicing": ("auto", "on", "off"),
    "vae_tiling": ("auto", "on", "off"),
    "cpu_offload": ("auto", "on", "off"),
}

_MIGRATIONS: dict[int, Any] = {
    # from_version: function(dict) -> dict  (add entries when SCHEMA_VERSION grows)
}


def _migrate(data: dict[str, Any]) -> dict[str, Any]:
    version = max(1, integer(data.get("schema_version"), 1) or 1)
    while version < SCHEMA_VERSION:
        data = _MIGRATIONS[version](data)
        version += 1
    data["schema_version"] = SCHEMA_VERSION
    return data


def _fields_of(raw: dict[str, Any], notices: list[str]) -> dict[str, Any]:
    """The known settings in ``raw`` that have the right type (and, for word settings, a known word)."""
    hints = typing.get_type_hints(Settings)
    out: dict[str, Any] = {}
    for f in dataclasses.fields(Settings):
        if f.name not in raw:
            continue
        try:
            value = convert(raw[f.name], hints[f.name], f.name)
        except ShapeError as e:
            notices.append(
                f"The setting {f.name!r} had a value of the wrong type ({e}); its default is used."
            )
            continue
        if f.name in CHOICES and value not in CHOICES[f.name]:
            notices.append(f"The setting {f.name!r} cannot be {str(value)[:40]!r}; its default is used.")
            continue
        out[f.name] = value
    return out


def _read(path: Path) -> tuple[dict[str, Any] | None, str]:
    """(the raw settings object, '') — or (None, why) when the file exists but cannot be used; ({}, '') if absent."""
    if not path.exists() and not path.is_symlink():
        return {}, ""
    raw = read_json(path, max_bytes=MAX_SETTINGS_BYTES, max_depth=16)
    if isinstance(raw, Unreadable):
        return None, raw.why
    if not isinstance(raw, dict):
        return None, "it is not a JSON object"
    return raw, ""


MAX_SETTINGS_BYTES = 4 * 1024 * 1024


def load_settings(path: Path) -> Settings:
    """Read settings. A missing file gives defaults. A file that cannot be read is kept (renamed to
    ``settings.broken-<time>.json``) and the defaults are used; values of the wrong type fall back to their
    defaults. Either way ``settings.notices`` says so, for the window and the command line to tell the user."""
    notices: list[str] = []
    raw, why = _read(path)
    if raw is None:
        kept = path.with_name(f"{path.stem}.broken-{time.strftime('%Y%m%d-%H%M%S')}{path.suffix}")
        try:
            os.replace(path, kept)
            where = f"it was kept as {kept.name}"
        except OSError as e:
            where = f"it could not be moved aside ({e.strerror or e})"
        notices.append(
            f"Your settings file {path} could not be read ({why}); {where}, and Studio started with "
            "its default settings."
        )
        raw = {}
    settings = Settings(**_fields_of(_migrate(raw), notices))
    settings._notices = notices  # type: ignore[attr-defined]  # a plain attribute, never saved
    settings._loaded = _snapshot(settings)  # type: ignore[attr-defined]
    return settings


def _snapshot(settings: Settings) -> dict[str, Any]:
    return copy.deepcopy(dataclasses.asdict(settings))


def _merge(base: dict[str, Any], mine: dict[str, Any], theirs: dict[str, Any]) -> dict[str, Any]:
    """Three-way merge of one process's settings (``mine``, read as ``base``) with the file now (``theirs``): what
    this process changed wins, everything else is the file's — so two processes saving at once lose nothing.
    Dict settings merge key by key."""
    merged: dict[str, Any] = {}
    for name, value in mine.items():
        old = base.get(name)
        current = theirs.get(name, old)
        if isinstance(value, dict) and isinstance(old, dict) and isinstance(current, dict):
            out = dict(current)
            for k in set(old) | set(value):
                if k not in value:
                    out.pop(k, None)
                elif old.get(k, _MISSING) != value[k]:
                    out[k] = value[k]
            merged[name] = out
        else:
            merged[name] = value if value != old else current
    return merged


_MISSING = object()


def save_settings(settings: Settings, path: Path) -> None:
    """Write the settings atomically (a temporary file of its own, fsync, rename), merged under a lock with
    whatever another Studio process saved meanwhile."""
    path.parent.mkdir(parents=True, exist_ok=True)
    mine = dataclasses.asdict(settings)
    base = getattr(settings, "_loaded", None) or dataclasses.asdict(Settings())
    with file_lock(path.with_name(f".{path.name}.lock")):
        raw, _why = _read(path)
        theirs = _fields_of(_migrate(dict(raw)), []) if raw else {}
        merged = _merge(base, mine, theirs)
        extra = {k: v for k, v in (raw or {}).items() if k not in merged}  # written by a newer Studio: kept
        atomic_write_text(path, json.dumps({**extra, **merged}, indent=2, sort_keys=True, ensure_ascii=False))
    for name, value in merged.items():
        if getattr(settings, name) != value:
            setattr(settings, name, copy.deepcopy(value))
    settings._loaded = copy.deepcopy(merged)  # type: ignore[attr-defined]
