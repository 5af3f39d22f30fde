"""Sound and speech through the one engine: tiny MusicGen (tokens), a tiny Stable Audio Open (diffusion, with the
spectrogram of each step) and a tiny VITS voice, each run as a job on a real runtime, each result a file whose
tags hold its recipe and a row in the gallery."""

from __future__ import annotations

import queue

import numpy as np
import pytest

from studio.core.gallery.gallery_query import GalleryFilter
from studio.core.jobs.events import Cancelled, Failed, Finished, Progress
from studio.core.sound.audio_files import decode, read_tags
from studio.core.sound.recipe import freeze_sound, freeze_speech
from studio.core.sound.specs import SoundStep, SpokenPiece


@pytest.fixture(scope="module")
def sound_models(tmp_path_factory):
    from tests.tiny_models import save_tiny_musicgen, save_tiny_stable_audio, save_tiny_vits

    d = tmp_path_factory.mktemp("sound-models")
    return {"musicgen": save_tiny_musicgen(d / "tiny-musicgen"), "stable-audio": save_tiny_stable_audio(d / "sa"),
            "vits": save_tiny_vits(d / "tiny-vits"), "voices": save_tiny_vits(d / "three-voices", speakers=3)}  # fmt: skip


def run(rt, spec, cancel_after_steps: int | None = None):
    events: queue.Queue = queue.Queue()
    rt.subscribe(events.put)
    job = rt.runner.submit(spec)
    seen = []
    try:
        while True:
            e = events.get(timeout=120)
            if e.job_id != job:
                continue
            seen.append(e)
            if cancel_after_steps is not None and isinstance(e, Progress) and e.step >= cancel_after_steps:
                rt.runner.cancel(job)
            if isinstance(e, Finished | Failed | Cancelled):
                return e, seen
    finally:
        rt.unsubscribe(events.put)


def test_musicgen_writes_audio_tokens_then_a_file_with_its_recipe(runtime, sound_models):
    spec = freeze_sound({"model": str(sound_models["musicgen"]), "seconds": 0.5, "seed": 7, "explain": True,
                         "guidance": 3.0}, "a slow piano")  # fmt: skip
    end, seen = run(runtime, spec)
    assert isinstance(end, Finished), getattr(end, "error", None)
    saved = end.items[0]
    assert saved.path.suffix == ".flac" and saved.path.is_file()
    audio, rate = decode(saved.path)
    assert rate == 8000 and len(audio) == 4000  # 0.5 s: 250 frames of 16 samples
    assert len(saved.tokens) == 2 and len(saved.tokens[0]) == 250  # two codebooks, one token a frame
    assert all(0 <= t < 64 for row in saved.tokens for t in row)
    steps = [e for e in seen if isinstance(e, Progress)]
    assert steps[-1].step == steps[-1].total == 251  # the second codebook's delay is one more step
    tags = read_tags(saved.path)
    assert tags.record["spec"]["prompt"] == "a slow piano" and tags.record["spec"]["seed"] == 7
    assert tags.title == "a slow piano" and "Seed: 7" in tags.comment
    rows = runtime.gallery.rows(runtime.gallery.ids(GalleryFilter(text="piano")))
    assert [r.source for r in rows] == ["sound"] and rows[0].seed == "7"
    again, _ = run(runtime, spec)  # the same recipe makes the same sound
    assert np.array_equal(decode(again.items[0].path)[0], audio)


def test_stable_audio_denoises_and_shows_each_step(runtime, sound_models):
    spec = freeze_sound({"model": str(sound_models["stable-audio"]), "seconds": 1.0, "steps": 4, "seed": 3,
                         "explain": True, "format": "ogg"}, "rain on a tin roof")  # fmt: skip
    end, seen = run(runtime, spec)
    assert isinstance(end, Finished), getattr(end, "error", None)
    path = end.items[0].path
    assert path.suffix == ".ogg"
    tags = read_tags(path)
    assert tags.channels == 2 and tags.sample_rate == 800 and abs(tags.seconds - 1.0) < 0.01
    film = [e for e in seen if isinstance(e, SoundStep)]
    assert [e.step for e in film] == [1, 2, 3, 4] and film[0].picture.size == (256, 96)
    assert len(end.items[0].steps) == 4
    assert tags.record["spec"]["explain"] is False  # the file keeps the recipe, not how it was watched


def test_a_sound_job_stops_at_the_next_step_and_saves_nothing(runtime, sound_models):
    before = runtime.gallery.count()
    spec = freeze_sound(
        {"model": str(sound_models["stable-audio"]), "seconds": 1.0, "steps": 30, "seed": 1}, "wind"
    )
    end, _ = run(runtime, spec, cancel_after_steps=2)
    assert isinstance(end, Cancelled)
    assert runtime.gallery.count() == before


def test_a_voice_reads_sentence_by_sentence_then_saves_the_whole(runtime, sound_models, tmp_path):
    spec = freeze_speech({"model": str(sound_models["vits"]), "seed": 1}, "Hello there. How are you today?",
                         out=str(tmp_path / "hello.wav"))  # fmt: skip
    end, seen = run(runtime, spec)
    assert isinstance(end, Finished), getattr(end, "error", None)
    pieces = [e for e in seen if isinstance(e, SpokenPiece)]
    assert [p.index for p in pieces] == [0, 1] and all(len(p.audio) > 0 for p in pieces)
    audio, rate = decode(tmp_path / "hello.wav")
    assert rate == 8000 and len(audio) == sum(len(p.audio) for p in pieces) + int(0.25 * 8000)
    tags = read_tags(tmp_path / "hello.wav")
    assert tags.record["spec"]["sentences"] == ["Hello there.", "How are you today?"]


def test_voices_differ_and_an_unknown_voice_is_refused_in_one_sentence(runtime, sound_models):
    heard = {}
    for voice in ("0", "2"):
        spec = freeze_speech({"model": str(sound_models["voices"]), "voice": voice, "seed": 5}, "Good morning.",
                             keep=False)  # fmt: skip
        end, seen = run(runtime, spec)
        assert isinstance(end, Finished) and end.items == ()
        heard[voice] = next(e.audio for e in seen if isinstance(e, SpokenPiece))
    assert heard["0"].shape != heard["2"].shape or not np.allclose(heard["0"], heard["2"])
    spec = freeze_speech({"model": str(sound_models["vits"]), "voice": "4"}, "Hi.", keep=False)
    end, _ = run(runtime, spec)
    assert (
        isinstance(end, Failed) and end.error.user_message == "This model has no voice '4': it has one voice."
    )


def test_an_image_model_is_no_sound_model(runtime, tiny_sd):
    end, _ = run(runtime, freeze_sound({"model": str(tiny_sd)}, "a bell"))
    assert isinstance(end, Failed) and "is not a sound (MusicGen" in end.error.user_message


def test_audioldm2_is_known_and_refused_in_one_sentence(runtime, tmp_path):
    folder = tmp_path / "audioldm2"
    folder.mkdir()
    (folder / "model_index.json").write_text('{"_class_name": "AudioLDM2Pipeline"}')
    end, _ = run(runtime, freeze_sound({"model": str(folder)}, "a door"))
    assert isinstance(end, Failed)
    assert end.error.user_message.startswith("audioldm2 is AudioLDM 2, which does not run with the diffusers")
