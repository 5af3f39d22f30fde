"""Hostile and damaged sound files: each costs its own row in the gallery (indexed with its problem, never an
exception), its cell is the "unreadable" one, ``studio sound --from-file`` refuses it in one line; fuzzed WAV and
FLAC headers and tags never raise from a reader."""

from __future__ import annotations

import json
import random
import struct
from pathlib import Path

import numpy as np

from studio.core.gallery.gallery_store import GalleryStore
from studio.core.gallery.sound_rows import sound_recipe
from studio.core.io.untrusted import Unreadable
from studio.core.sound.audio_files import MAX_TAG_BYTES, decode, encode, read_tags
from studio.core.sound.pictures import sound_thumbnail
from studio.core.sound.recipe import draft_from_file
from studio.core.sound.specs import SoundSpec
from tests.cli.helpers import studio_here
from tests.torture.mutate import mutate_bytes, mutate_json

TONE = (np.sin(np.arange(8000) / 8000 * 2 * np.pi * 440) * 0.5).astype(np.float32)


def _studio_file(fmt: str, record: object = None) -> bytes:
    spec = SoundSpec(prompt="a bell", seed=3, format=fmt)
    return encode(
        TONE, 8000, fmt, record if record is not None else {"spec": spec.to_dict()}, "a bell", "a bell"
    )


def _hostile(folder: Path) -> dict[str, bytes]:
    good_wav = _studio_file("wav")
    riff_too_long = good_wav[:4] + struct.pack("<I", 2**32 - 1) + good_wav[8:]
    list_at = good_wav.find(b"LIST")
    chunk_lies = good_wav[: list_at + 4] + struct.pack("<I", 2**31) + good_wav[list_at + 8 :]
    return {
        "good.flac": _studio_file("flac"),
        "good.ogg": _studio_file("ogg"),
        "good.wav": good_wav,
        "truncated.flac": _studio_file("flac")[:300],
        "garbage.wav": b"RIFF" + bytes(range(256)) * 3,
        "empty.ogg": b"",
        "text.flac": b"fLaC but not really",
        "riff-too-long.wav": riff_too_long,
        "chunk-lies.wav": chunk_lies,
        "recipe-not-json.flac": _studio_file("flac", {"spec": "not a dict"}),
        "recipe-wrong-shape.wav": _studio_file(
            "wav", {"spec": {"seed": "x" * 5000, "steps": [1, 2], "prompt": 5}}
        ),
        "huge-tag.flac": encode(
            TONE, 8000, "flac", {"spec": {"prompt": "x" * (MAX_TAG_BYTES * 2)}}, "t", "c"
        ),
    }


def test_each_damaged_sound_costs_its_own_row_never_the_gallery(tmp_path):
    root = tmp_path / "gallery"
    (root / "day").mkdir(parents=True)
    for name, data in _hostile(root).items():
        (root / "day" / name).write_bytes(data)
    (root / "day" / "a-folder.flac").mkdir()  # a folder named like a sound is no file
    store = GalleryStore(root)
    assert store.reconcile()["added"] == 12
    rows = {r.rel.split("/")[-1]: r for r in store.rows(store.ids())}
    assert rows["good.flac"].prompt == rows["good.wav"].prompt == rows["good.ogg"].prompt == "a bell"
    assert rows["good.flac"].seed == "3" and rows["good.flac"].source == "sound"
    assert rows["recipe-wrong-shape.wav"].seed == ""  # a seed that is no number is left out, not trusted
    report = store.check()
    assert sorted(Path(u).name for u in report.unreadable) == ["empty.ogg", "garbage.wav", "text.flac",
                                                               "truncated.flac"]  # fmt: skip
    # a RIFF size past the end, a chunk longer than the file: the sound still plays; the lying chunk's tags are
    # not read (the row has the file's name, no recipe), the ones before it are
    assert rows["riff-too-long.wav"].prompt == "a bell" and rows["chunk-lies.wav"].prompt == ""
    assert rows["huge-tag.flac"].prompt == "t"  # a recipe too big to be one: its title, not its tag
    for name in _hostile(root):
        path = root / "day" / name
        assert sound_recipe(path).source == "sound"
        if Path(name).stem in ("empty", "text", "garbage"):
            assert sound_thumbnail(path, 64) is None
    store.close()


def test_from_file_refuses_a_damaged_or_foreign_sound_in_one_line(tmp_path, monkeypatch):
    foreign = tmp_path / "foreign.wav"
    import soundfile as sf

    sf.write(foreign, TONE, 8000)
    damaged = tmp_path / "damaged.flac"
    damaged.write_bytes(_studio_file("flac")[:200])
    for path, words in ((foreign, "has no Studio recipe"), (damaged, "not a readable sound file")):
        out = studio_here("sound", "--from-file", str(path), home=tmp_path / "home")
        assert out.returncode == 2, out.stderr
        assert words in out.stderr and len(out.stderr.strip().splitlines()) == 1
    assert isinstance(draft_from_file(foreign), str)


def test_fuzzed_wav_and_flac_bytes_and_tags_never_raise(tmp_path):
    rng = random.Random(11)
    wav, flac = _studio_file("wav"), _studio_file("flac")
    record = {"spec": SoundSpec(prompt="a bell").to_dict()}
    for i in range(150):
        base = wav if i % 2 else flac
        data = mutate_bytes(base, rng) if i % 3 else encode(TONE, 8000, "wav" if i % 2 else "flac",
                                                           mutate_json(record, rng), "t", "c")  # fmt: skip
        path = tmp_path / f"f{i}{'.wav' if i % 2 else '.flac'}"
        path.write_bytes(data)
        tags = read_tags(path)  # never raises
        assert isinstance(tags, Unreadable) or tags.record is None or isinstance(tags.record, dict)
        got = decode(path, max_seconds=5)
        assert isinstance(got, Unreadable) or (got[0].dtype == np.float32 and np.isfinite(got[0]).all())
        assert isinstance(draft_from_file(path), tuple | str)
    assert json.dumps(record)
