"""Sound files with their recipe in their own tags, written whole or not at all, and read back from any file —
every reader here is total (a value or an ``Unreadable``, never an exception), with bounded sizes.

- FLAC and OGG Vorbis: Vorbis comments — ``TITLE`` (the prompt), ``COMMENT`` (the recipe in one line, as other
  players show it), ``ENCODER``, ``TRACKNUMBER``/``ALBUM`` for a reading's chapters, and ``STUDIO`` (the recipe as
  JSON, which ``--from-file`` and the gallery read).
- WAV: a ``LIST``/``INFO`` chunk (``INAM``, ``ICMT``, ``ISFT``, ``IPRD``, ``ITRK``) and an ``iXML`` chunk whose
  ``<USER>`` holds the same JSON.
"""

from __future__ import annotations

import html
import io
import json
import re
import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from studio.core.io.untrusted import Unreadable, obj, parse_json, regular_file_problem

SOUND_SUFFIXES = (".flac", ".ogg", ".wav")
MAX_TAG_BYTES = 256 * 1024  # a recipe is a kilobyte; a bigger tag is somebody else's (or an attack)
MAX_CHUNKS = 256
MAX_DECODE_SECONDS = 20 * 60
ENCODER = "Studio"


@dataclass(frozen=True)
class SoundTags:
    """What a sound file says of itself: its recipe (``record``: ``{"spec": …}``, or None for another tool's
    file), the text tags, and the stream's shape."""

    seconds: float
    sample_rate: int
    channels: int
    title: str = ""
    comment: str = ""
    record: dict[str, Any] | None = None
    extra: dict[str, str] = field(default_factory=dict)


def encode(audio: Any, sample_rate: int, fmt: str, record: dict[str, Any], title: str, comment: str,
           extra: dict[str, str] | None = None) -> bytes:  # fmt: skip
    """The whole file's bytes: ``audio`` (float samples, mono or (frames, channels)) with its tags."""
    import soundfile as sf

    data = np.clip(np.asarray(audio, dtype=np.float32), -1.0, 1.0)
    buf = io.BytesIO()
    if fmt == "wav":
        sf.write(buf, data, sample_rate, format="WAV", subtype="PCM_16")
        return _wav_with_tags(buf.getvalue(), record, title, comment, extra or {})
    sf.write(buf, data, sample_rate, format="FLAC" if fmt == "flac" else "OGG",
             subtype="PCM_16" if fmt == "flac" else "VORBIS")  # fmt: skip
    return _vorbis_tagged(buf, fmt, {"TITLE": title[:500], "COMMENT": comment, "ENCODER": ENCODER,
                                     "STUDIO": json.dumps(record, ensure_ascii=False), **(extra or {})})  # fmt: skip


def _vorbis_tagged(buf: io.BytesIO, fmt: str, tags: dict[str, str]) -> bytes:
    from mutagen.flac import FLAC
    from mutagen.oggvorbis import OggVorbis

    buf.seek(0)
    tagged = FLAC(buf) if fmt == "flac" else OggVorbis(buf)
    if tagged.tags is None:
        tagged.add_tags()
    for key, value in tags.items():
        if value:
            tagged[key] = value
    buf.seek(0)
    tagged.save(buf)
    return buf.getvalue()


_INFO_KEYS = {
    "title": b"INAM",
    "comment": b"ICMT",
    "software": b"ISFT",
    "ALBUM": b"IPRD",
    "TRACKNUMBER": b"ITRK",
}


def _chunk(cid: bytes, body: bytes) -> bytes:
    return cid + struct.pack("<I", len(body)) + body + (b"\0" if len(body) % 2 else b"")


def _wav_with_tags(
    wav: bytes, record: dict[str, Any], title: str, comment: str, extra: dict[str, str]
) -> bytes:
    values = {"title": title[:500], "comment": comment, "software": ENCODER, **extra}
    info = b"INFO" + b"".join(_chunk(_INFO_KEYS[k], v.encode("utf-8") + b"\0")
                              for k, v in values.items() if k in _INFO_KEYS and v)  # fmt: skip
    user = html.escape(json.dumps(record, ensure_ascii=False), quote=False)
    ixml = (f'<?xml version="1.0" encoding="UTF-8"?><BWFXML><IXML_VERSION>1.61</IXML_VERSION>'
            f"<PROJECT>{ENCODER}</PROJECT><NOTE>{html.escape(title[:500], quote=False)}</NOTE>"
            f"<USER>{user}</USER></BWFXML>").encode()  # fmt: skip
    body = wav[12:] + _chunk(b"LIST", info) + _chunk(b"iXML", ixml)
    return b"RIFF" + struct.pack("<I", 4 + len(body)) + b"WAVE" + body


# -- reading ------------------------------------------------------------------------------------------------------
def read_tags(path: Path) -> SoundTags | Unreadable:
    """The file's stream shape and tags; ``Unreadable`` for anything that is not a whole sound file."""
    problem = regular_file_problem(path)
    if problem:
        return Unreadable(problem)
    try:
        import soundfile as sf

        info = sf.info(str(path))
        if info.samplerate <= 0 or info.channels <= 0 or info.frames < 0:
            return Unreadable("the sound file's header makes no sense")
        shape = {"seconds": info.frames / info.samplerate, "sample_rate": int(info.samplerate),
                 "channels": int(info.channels)}  # fmt: skip
        tags = _wav_tags(path) if path.suffix.lower() == ".wav" else _vorbis_tags(path)
    except Exception as e:  # noqa: BLE001 - libsndfile and mutagen raise many kinds; any of them is one bad row
        return Unreadable(f"not a readable sound file ({type(e).__name__}: {str(e)[:200]})")
    if isinstance(tags, Unreadable):
        return tags
    record = None
    if raw := tags.pop("STUDIO", ""):
        parsed = parse_json(raw, max_bytes=MAX_TAG_BYTES)
        record = obj(parsed) if not isinstance(parsed, Unreadable) and isinstance(obj(parsed).get("spec"),
                                                                                   dict) else None  # fmt: skip
    return SoundTags(**shape, title=tags.pop("TITLE", ""), comment=tags.pop("COMMENT", ""), record=record,
                     extra=tags)  # fmt: skip


def _vorbis_tags(path: Path) -> dict[str, str] | Unreadable:
    from mutagen import File

    found = File(str(path))
    out: dict[str, str] = {}
    if found is None or found.tags is None:
        return out
    for key, value in found.tags.items() if hasattr(found.tags, "items") else []:
        values = value if isinstance(value, list) else [value]
        text = str(values[0]) if values else ""
        if len(text.encode("utf-8", "replace")) <= MAX_TAG_BYTES:
            out[str(key).upper()] = text
    return out


def _wav_tags(path: Path) -> dict[str, str] | Unreadable:
    """LIST/INFO and iXML, walked chunk by chunk with every length checked against the file."""
    out: dict[str, str] = {}
    with open(path, "rb") as f:
        head = f.read(12)
        if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"WAVE":
            return Unreadable("not a RIFF/WAVE file")
        size = path.stat().st_size
        names = {v: k for k, v in _INFO_KEYS.items()}
        for _ in range(MAX_CHUNKS):
            top = f.read(8)
            if len(top) < 8:
                break
            cid, length = top[:4], struct.unpack("<I", top[4:])[0]
            start = f.tell()
            if start + length > size:
                break  # a chunk longer than the file: what came before is still read
            if cid in (b"LIST", b"iXML") and length <= MAX_TAG_BYTES:
                body = f.read(length)
                if cid == b"iXML" and (m := re.search(rb"<USER>(.*?)</USER>", body, re.S)):
                    out["STUDIO"] = html.unescape(m.group(1).decode("utf-8", "replace"))
                elif cid == b"LIST" and body[:4] == b"INFO":
                    out.update(_info_entries(body[4:], names))
            f.seek(start + length + (length % 2))
    return out


def _info_entries(body: bytes, names: dict[bytes, str]) -> dict[str, str]:
    out, at = {}, 0
    while at + 8 <= len(body):
        cid, length = body[at : at + 4], struct.unpack("<I", body[at + 4 : at + 8])[0]
        value = body[at + 8 : at + 8 + length].split(b"\0")[0].decode("utf-8", "replace")
        if cid in names:
            out[names[cid].upper()] = value
        at += 8 + length + (length % 2)
    return out


def decode(path: Path, max_seconds: float = MAX_DECODE_SECONDS) -> tuple[np.ndarray, int] | Unreadable:
    """(mono float32 samples, sample rate) of at most ``max_seconds``; ``Unreadable`` for a damaged file."""
    problem = regular_file_problem(path)
    if problem:
        return Unreadable(problem)
    try:
        import soundfile as sf

        with sf.SoundFile(str(path)) as f:
            if f.samplerate <= 0 or f.channels <= 0:
                return Unreadable("the sound file's header makes no sense")
            data = f.read(
                frames=int(min(f.frames, max_seconds * f.samplerate)), dtype="float32", always_2d=True
            )
            rate = int(f.samplerate)
    except Exception as e:  # noqa: BLE001 - see read_tags
        return Unreadable(f"not a readable sound file ({type(e).__name__}: {str(e)[:200]})")
    mono = data.mean(axis=1) if data.size else np.zeros(0, np.float32)
    return np.nan_to_num(mono.astype(np.float32)), rate
