"""Where Studio keeps things. One place; everything overridable by ``STUDIO_HOME``."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

APP_NAME = "Studio"
# An installed wheel and the self-contained build carry the resources inside the package (studio/resources); a
# source checkout (and an editable install) uses the top-level resources/ folder.
_PACKAGED = Path(__file__).resolve().parents[2] / "resources"
RESOURCES = _PACKAGED if _PACKAGED.is_dir() else Path(__file__).resolve().parents[3] / "resources"


@dataclass(frozen=True)
class StudioPaths:
    """The folders of one Studio data home."""

    home: Path
    config_dir: Path
    cache_dir: Path

    @property
    def settings_file(self) -> Path:
        return self.config_dir / "settings.json"

    @property
    def gallery_dir(self) -> Path:
        return self.home / "gallery"

    @property
    def inputs_dir(self) -> Path:
        """Init images and masks that jobs refer to, stored by content hash."""
        return self.home / "inputs"

    @property
    def writer_dir(self) -> Path:
        """The Writer's documents (Markdown files)."""
        return self.home / "writer"

    @property
    def canvas_recovery_dir(self) -> Path:
        """The Canvas room's recovery copy, written after every stroke."""
        return self.home / "canvas" / "recovery"

    @property
    def credentials_dir(self) -> Path:
        """The signing identity of this installation (its certificates, and its private key: readable by the
        user alone)."""
        return self.home / "credentials"

    @property
    def training_dir(self) -> Path:
        """Fine-tuning: ``datasets/<name>`` (copies of the pictures, captions) and ``runs/<name>`` (checkpoints)."""
        return self.home / "training"

    @property
    def models_dir(self) -> Path:
        return self.home / "models"

    @property
    def styles_file(self) -> Path:
        """The user's prompt styles, in AUTOMATIC1111's styles.csv format."""
        return self.home / "styles.csv"

    @property
    def wildcards_dir(self) -> Path:
        """Wildcard files (``name.txt``, one choice a line) for ``__name__`` in prompts; nested folders too."""
        return self.home / "wildcards"

    @property
    def queue_file(self) -> Path:
        return self.home / "queue.json"

    def ensure(self) -> StudioPaths:
        for p in (
            self.home,
            self.config_dir,
            self.cache_dir,
            self.gallery_dir,
            self.inputs_dir,
            self.models_dir,
        ):
            p.mkdir(parents=True, exist_ok=True)
        return self


def resolve_paths(home: str | os.PathLike[str] | None = None) -> StudioPaths:
    """Paths for an explicit ``home``, else ``$STUDIO_HOME``, else the platform's user folders."""
    chosen = home if home is not None else os.environ.get("STUDIO_HOME")
    if chosen:
        root = Path(chosen).expanduser().resolve()
        return StudioPaths(home=root, config_dir=root / "config", cache_dir=root / "cache")
    import platformdirs

    return StudioPaths(
        home=Path(platformdirs.user_data_dir(APP_NAME, appauthor=False)),
        config_dir=Path(platformdirs.user_config_dir(APP_NAME, appauthor=False)),
        cache_dir=Path(platformdirs.user_cache_dir(APP_NAME, appauthor=False)),
    )


def resource(*parts: str) -> Path:
    return RESOURCES.joinpath(*parts)
