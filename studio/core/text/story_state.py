"""What belongs to a story besides its text — Memory, Author's Note and its depth, the Lorebook, the sampling
settings, and the tree of branches — kept beside the document in ``.name.md.studio.json``, written atomically like
the document. The file is read as untrusted: a damaged one costs its contents, never the document."""

from __future__ import annotations

import contextlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from studio.core.io import untrusted as u
from studio.core.io.atomic import atomic_write_text
from studio.core.text.story_tree import StoryTree

VERSION = 1
MAX_STATE_BYTES = 64 * 1024 * 1024  # a long story's branches with their probabilities
EXPORT_SUFFIX = ".studio.json"


@dataclass
class StoryState:
    settings: dict[str, Any] = field(default_factory=dict)  # the Writer's values that belong to this story
    tree: StoryTree = field(default_factory=StoryTree)
    learn_from_choices: bool = False  # the writer said yes: kept vs discarded generations are recorded

    def as_json(self) -> str:
        data = {"studio_story": VERSION, "settings": self.settings, "tree": self.tree.as_dict(),
                "learn_from_choices": self.learn_from_choices}  # fmt: skip
        return json.dumps(data, ensure_ascii=False, separators=(",", ":"))


def state_path(document: Path) -> Path:
    return document.with_name(f".{document.name}{EXPORT_SUFFIX}")


def exported_state_path(target: Path) -> Path:
    return target.with_name(target.name + EXPORT_SUFFIX)


def read_state(document: Path) -> tuple[StoryState | None, str]:
    """The story's state (None when it has none yet) and a sentence when its file could not be read.

    A state exported beside a document (``name.md.studio.json``) is taken when the hidden one is missing."""
    path = state_path(document)
    if not u.exists(path):
        path = exported_state_path(document)
        if not u.exists(path):
            return None, ""
    raw = u.read_json(path, max_bytes=MAX_STATE_BYTES)
    if isinstance(raw, u.Unreadable):
        return None, f"The story settings and branches of {document.name} could not be read ({raw.why})."
    raw = u.obj(raw)
    if u.integer(raw.get("studio_story")) is None:
        return None, f"{path.name} is not a Studio story file; its settings were not used."
    learn = raw.get("learn_from_choices") is True  # consent is a yes, never a guess
    return StoryState(u.obj(raw.get("settings")), StoryTree.from_dict(raw.get("tree")), learn), ""


def write_state(document: Path, state: StoryState) -> None:
    """Save atomically (raises OSError)."""
    atomic_write_text(state_path(document), state.as_json())


def export_state(document: Path, state: StoryState, target: Path) -> Path:
    out = exported_state_path(target)
    atomic_write_text(out, state.as_json())
    return out


def forget_state(document: Path) -> None:
    with contextlib.suppress(OSError):
        state_path(document).unlink()
