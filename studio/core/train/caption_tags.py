"""Captions as tags, kohya's and the booru taggers' way (``sks dog, red collar, grass``): a sentence caption turned
into its phrases, and tags added to or removed from many captions at once (the Fine-tune room's tag editor)."""

from __future__ import annotations

import re

STYLES = ("sentences", "tags")
_JOINS = re.compile(r"\s*(?:,|;|\.|\band\b|\bwith\b|\bwearing\b|\bholding\b|\bnext to\b|\bbeside\b|\bin front of\b|"
                    r"\bbehind\b|\bon top of\b|\bon\b|\bin\b|\bat\b|\bunder\b|\bover\b|\bnear\b)\s*")  # fmt: skip
_LEADING = re.compile(r"^(?:there is |there are |this is |it is |an image of |a picture of |a photo of |"
                      r"a close up of |a close-up of |the |an |a |some |two |three )+")  # fmt: skip


def tags_of(caption: str) -> list[str]:
    """The tags of a caption written as tags (split at commas), in order, each once."""
    seen: dict[str, None] = {}
    for part in caption.split(","):
        tag = " ".join(part.split())
        if tag and tag.lower() not in {t.lower() for t in seen}:
            seen[tag] = None
    return list(seen)


def sentence_to_tags(sentence: str) -> list[str]:
    """A captioner's sentence as tags: its phrases, joined by prepositions and "and", without articles
    ("a red disc on a wooden table" → ["red disc", "wooden table"])."""
    tags: dict[str, None] = {}
    for part in _JOINS.split(sentence.lower()):
        tag = _LEADING.sub("", part.strip(" .,;:!?\"'")).strip()
        if len(tag) > 1 and tag not in tags:
            tags[tag] = None
    return list(tags)


def with_prefix(caption: str, prefix: str) -> str:
    """The caption led by a trigger word (once)."""
    prefix = prefix.strip()
    if not prefix or caption.lower().startswith(prefix.lower()):
        return caption
    return f"{prefix}, {caption}" if caption else prefix


def add_tag(caption: str, tag: str) -> str:
    tag = " ".join(tag.split()).strip(",")
    tags = tags_of(caption)
    if not tag or tag.lower() in {t.lower() for t in tags}:
        return caption
    return ", ".join([*tags, tag])


def remove_tag(caption: str, tag: str) -> str:
    tags = tags_of(caption)
    kept = [t for t in tags if t.lower() != " ".join(tag.split()).lower()]
    return caption if kept == tags else ", ".join(kept)


def tag_counts(captions: list[str]) -> list[tuple[str, int]]:
    """Every tag of these captions with how many carry it, most common first (the editor's list)."""
    counts: dict[str, int] = {}
    names: dict[str, str] = {}
    for caption in captions:
        for tag in tags_of(caption):
            key = tag.lower()
            counts[key] = counts.get(key, 0) + 1
            names.setdefault(key, tag)
    return sorted(((names[k], n) for k, n in counts.items()), key=lambda kv: (-kv[1], kv[0].lower()))
