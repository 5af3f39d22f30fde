"""User settings: one human-readable JSON file, versioned, migrated forward, written atomically."""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

SCHEMA_VERSION = 1


@dataclass(frozen=True)
class LoadOptions:
    """What the engine needs from the settings to load and run a model."""

    attention_slicing: str = "auto"
    vae_tiling: str = "auto"
    cpu_offload: str = "auto"
    allow_pickle: bool = False
    family_overrides: tuple[tuple[str, str], ...] = ()

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
    welcome_shown: bool = False  # the first-run welcome was shown (Help → Welcome shows it again)

    def load_options(self) -> LoadOptions:
        return LoadOptions(
            self.attention_slicing,
            self.vae_tiling,
            self.cpu_offload,
            self.allow_pickle,
            tuple(sorted(self.family_overrides.items())),
        )

    def remember_model(self, path: str, keep: int = 10) -> None:
        self.image_model = path
        self.recent_models = [path] + [p for p in self.recent_models if p != path][: keep - 1]


_MIGRATIONS: dict[int, Any] = {
    # from_version: function(dict) -> dict  (add entries when SCHEMA_VERSION grows)
}


def _migrate(data: dict[str, Any]) -> dict[str, Any]:
    version = int(data.get("schema_version", 1))
    while version < SCHEMA_VERSION:
        data = _MIGRATIONS[version](data)
        version += 1
    data["schema_version"] = SCHEMA_VERSION
    return data


def load_settings(path: Path) -> Settings:
    """Read settings; a missing file gives defaults, a broken one is kept aside as ``.broken`` and replaced."""
    try:
        raw = json.loads(path.read_text("utf-8"))
        if not isinstance(raw, dict):
            raise ValueError("settings must be a JSON object")
    except FileNotFoundError:
        return Settings()
    except (OSError, ValueError):
        with contextlib.suppress(OSError):
            os.replace(path, path.with_suffix(".broken"))
        return Settings()
    data = _migrate(raw)
    names = {f.name for f in dataclasses.fields(Settings)}
    s = Settings(**{k: v for k, v in data.items() if k in names})
    return s


def save_settings(settings: Settings, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(dataclasses.asdict(settings), f, indent=2, sort_keys=True)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
