"""The sound wing's pure rules: what a folder is, what an analysis hears, how text is cut for reading, how a
recipe is frozen and kept in a file's tags."""

from __future__ import annotations

import json

import numpy as np
import pytest

from studio.core.models.builtin_models import BUILTIN_SOUND_DIRS
from studio.core.models.sound_models import memory_words, sound_model
from studio.core.sound.analysis import analyse, onset_rate, pitch, spectral_centroid
from studio.core.sound.audio_files import decode, encode, read_tags
from studio.core.sound.reading import chapters, sentences
from studio.core.sound.recipe import freeze_sound, freeze_speech
from studio.core.sound.spectrogram import MelScale

RATE = 16000


def tone(f: float, seconds: float = 1.0, harmonics: int = 1) -> np.ndarray:
    t = np.arange(int(seconds * RATE)) / RATE
    return sum(np.sin(2 * np.pi * f * k * t) / k for k in range(1, harmonics + 1)).astype(np.float32) * 0.4


def clicks(per_second: float, seconds: float = 2.0) -> np.ndarray:
    out = np.zeros(int(seconds * RATE), np.float32)
    for i in range(int(seconds * per_second)):
        at = int((0.05 + i / per_second) * RATE)
        out[at : at + 400] += np.random.default_rng(i).standard_normal(400).astype(np.float32) * np.exp(
            -np.arange(400) / 60
        )
    return out


def test_the_analysis_hears_brightness_pitch_and_onsets():
    assert abs(spectral_centroid(tone(440), RATE) - 440) < 30
    assert spectral_centroid(tone(1500), RATE) > 3 * spectral_centroid(tone(200), RATE)
    assert abs(pitch(tone(220, harmonics=4), RATE) - 220) < 10
    assert pitch(np.random.default_rng(0).standard_normal(RATE).astype(np.float32), RATE) == 0.0  # noise
    assert abs(onset_rate(clicks(4), RATE) - 4) <= 0.5 and abs(onset_rate(clicks(1), RATE) - 1) <= 0.5
    assert "brightness (spectral centroid) 4" in analyse(tone(440), RATE).describe()
    assert analyse(np.zeros(RATE, np.float32), RATE).centroid_hz == 0.0


def test_a_mel_scale_from_a_file_is_checked():
    scale = MelScale.from_dict({"sample_rate": 16000, "hop": 512, "n_mels": 64, "unknown": 1})
    assert scale.hop == 512 and scale.frames(2.0) == 64
    for bad in ({"n_fft": 10}, {"fmax": 99999}, {"low_db": 60}, "not a dict", {"hop": "x"}):
        with pytest.raises(ValueError):
            MelScale.from_dict(bad)
    picture = scale.picture(tone(440, 2.0))
    assert picture.shape == (64, 63) and picture.min() >= -1 and picture.max() <= 1
    assert scale.decode(np.full((2, 2), -1.0)).max() == 0.0  # the picture's black is silence


def test_text_is_cut_into_sentences_and_chapters_with_their_places():
    text = '# One\nIt was late. "Who is there?" she asked… Nobody answered!\n\n# Two\nMorning came.'
    found = sentences(text)
    assert [s.spoken for s in found] == ["One", "It was late.", '"Who is there?"', "she asked…", "Nobody answered!",
                                         "Two", "Morning came."]  # fmt: skip
    assert all(text[s.start : s.end] == s.text for s in found)
    assert [(c.title, text[c.start : c.end].splitlines()[0]) for c in chapters(text)] == [("One", "# One"),
                                                                                          ("Two", "# Two")]  # fmt: skip
    assert [c.title for c in chapters("No headings here.", untitled="Tale")] == ["Tale"]
    long = "word " * 200
    assert all(len(s.text) <= 400 for s in sentences(long)) and len(sentences(long)) == 3


def test_recipes_are_frozen_or_refused_by_field():
    spec = freeze_sound({"seconds": 3, "seed": -1}, "  a bell ")
    assert spec.prompt == "a bell" and spec.seconds == 3.0 and 0 <= spec.seed < 2**32
    assert freeze_sound({}, "a bell", out="/tmp/x.ogg").format == "ogg"
    assert freeze_sound({"steps": 0}, "") == {"prompt": "Describe the sound to make.",
                                               "steps": "Steps must be between 1 and 200."}  # fmt: skip
    speech = freeze_speech({"seed": 4}, "One. Two!")
    assert speech.sentences == ("One.", "Two!") and speech.keep
    assert freeze_speech({}, " ... ") == {"text": "There is nothing to read."}


@pytest.mark.parametrize("fmt", ["flac", "ogg", "wav"])
def test_a_recipe_rides_in_the_file_s_own_tags(tmp_path, fmt):
    record = {"spec": {"prompt": "a <bell> & “quotes”", "seed": 3}}
    data = encode(
        tone(440), RATE, fmt, record, "a bell", "a bell, Seed: 3", {"ALBUM": "Book", "TRACKNUMBER": "2"}
    )
    path = tmp_path / f"x.{fmt}"
    path.write_bytes(data)
    tags = read_tags(path)
    assert tags.record == record and tags.title == "a bell" and tags.comment == "a bell, Seed: 3"
    assert tags.extra["ALBUM"] == "Book" and tags.extra["TRACKNUMBER"] == "2"
    audio, rate = decode(path)
    assert rate == RATE and len(audio) == RATE
    assert abs(spectral_centroid(audio, rate) - 440) < 40  # OGG is lossy, not deaf


def test_each_sound_model_is_known_by_its_own_files(tmp_path):
    assert sound_model(BUILTIN_SOUND_DIRS[0]).family == "tones"
    cases = {
        "musicgen": ("config.json", {"model_type": "musicgen"}, ("sound", "musicgen")),
        "vits": ("config.json", {"model_type": "vits"}, ("speech", "vits")),
        "stable": ("model_index.json", {"_class_name": "StableAudioPipeline"}, ("sound", "stable-audio")),
        "ldm": ("model_index.json", {"_class_name": "AudioLDM2Pipeline"}, ("sound", "audioldm2")),
        "sd": ("model_index.json", {"_class_name": "StableDiffusionPipeline"}, None),
        "gpt2": ("config.json", {"model_type": "gpt2"}, None),
    }
    for name, (file, data, want) in cases.items():
        (tmp_path / name).mkdir()
        (tmp_path / name / file).write_text(json.dumps(data))
        found = sound_model(tmp_path / name)
        assert (found.kind, found.family) == want if want else found is None, name
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "config.json").write_bytes(b"\xff{not json")
    (tmp_path / "broken" / "studio.json").write_text('{"kind": "sound"}')  # says sound, has no spectrogram
    assert sound_model(tmp_path / "broken") is None


def test_memory_words_say_whether_a_model_fits():
    assert memory_words(2 * 2**30, "musicgen", 8 * 2**30, "this machine").endswith("fits in the 8.0 GB free on "
                                                                                   "this machine.")  # fmt: skip
    assert "does not fit" in memory_words(6 * 2**30, "stable-audio", 4 * 2**30, "CUDA")
    assert "weights 0.02 GB" in memory_words(8 * 2**20, "tones", None, "CPU")
