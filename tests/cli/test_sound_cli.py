"""``studio sound`` and ``studio speak``: on a fresh install, offline, the built-in Tones makes a high bell and a
low drum of about two seconds whose recipes read back, the bell brighter than the drum over held-out seeds; a voice
reads a text into a WAV; bad input is one line."""

from __future__ import annotations

import json

import numpy as np
import pytest

from studio.core.sound.analysis import spectral_centroid
from studio.core.sound.audio_files import decode, read_tags
from tests.cli.helpers import studio_here

HELD_OUT_SEEDS = (101, 202, 303)  # seeds the built-in model was never scored on while it was trained


def _sound(home, *args):
    out = studio_here("sound", *args, "--json", home=home)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_a_high_bell_is_brighter_than_a_low_drum_and_each_file_keeps_its_recipe(tmp_path):
    home = tmp_path / "home"
    centroids = {"a high bell": [], "a low drum": []}
    for seed in HELD_OUT_SEEDS:
        for prompt in centroids:
            made = _sound(home, prompt, "--seconds", "2", "--seed", str(seed),
                          "--out", str(tmp_path / f"{prompt}-{seed}.flac"))  # fmt: skip
            audio, rate = decode(tmp_path / f"{prompt}-{seed}.flac")
            assert abs(len(audio) / rate - 2.0) < 0.1 and made["model"] == "Tones (built-in demo)"
            recipe = read_tags(tmp_path / f"{prompt}-{seed}.flac").record["spec"]
            assert (recipe["prompt"], recipe["seed"], recipe["seconds"]) == (prompt, seed, 2.0)
            centroids[prompt].append(spectral_centroid(audio, rate))
    assert all(b > d for b, d in zip(centroids["a high bell"], centroids["a low drum"], strict=True)), (
        centroids
    )


def test_from_file_makes_the_same_sound_again_and_options_override_it(tmp_path):
    home = tmp_path / "home"
    first = _sound(home, "fast low drums", "--seed", "9", "--steps", "8", "--out", str(tmp_path / "a.wav"))
    assert first["file"].endswith("a.wav") and read_tags(tmp_path / "a.wav").record["spec"]["steps"] == 8
    _sound(home, "--from-file", str(tmp_path / "a.wav"), "--out", str(tmp_path / "b.flac"))
    again = decode(tmp_path / "a.wav")[0] - decode(tmp_path / "b.flac")[0]
    assert (
        np.abs(again).max() < 1e-3
    )  # the same sound, to the last bits of 16-bit samples (CPU sums vary a hair)
    _sound(home, "--from-file", str(tmp_path / "a.wav"), "--seed", "10", "--out", str(tmp_path / "c.ogg"))
    assert read_tags(tmp_path / "c.ogg").record["spec"]["seed"] == 10


def test_a_sound_without_out_goes_into_the_gallery(tmp_path):
    home = tmp_path / "home"
    made = _sound(home, "a soft tone", "--seconds", "1", "--steps", "6")
    assert "/gallery/" in made["file"] and made["file"].endswith(".flac")
    out = studio_here("gallery", "search", "soft tone", home=home)
    assert out.returncode == 0 and "soft tone" in out.stdout, out.stdout + out.stderr


@pytest.mark.parametrize(
    ("args", "said"),
    [
        ((), "say what to make"),
        (("a bell", "--seconds", "99"), "--seconds: Length must be between 0.5 and 47 s."),
        (("a bell", "--out", "x.mp3"), "a sound file ends in .flac, .ogg, .wav"),
    ],
)
def test_bad_input_is_one_line(tmp_path, args, said):
    out = studio_here("sound", *args, home=tmp_path / "home")
    assert out.returncode == 2 and said in out.stderr and len(out.stderr.strip().splitlines()) == 1, (
        out.stderr
    )


def test_speak_reads_a_text_into_a_file_and_refuses_an_unknown_voice(tmp_path):
    from tests.tiny_models import save_tiny_vits

    voice = save_tiny_vits(tmp_path / "voice")
    out = studio_here("speak", "Good evening. The train is late!", "--model", str(voice), "--out",
                      str(tmp_path / "said.wav"), "--json", home=tmp_path / "home")  # fmt: skip
    assert out.returncode == 0, out.stderr
    tags = read_tags(tmp_path / "said.wav")
    assert tags.sample_rate == 8000 and tags.record["spec"]["sentences"] == [
        "Good evening.",
        "The train is late!",
    ]
    out = studio_here("speak", "Hi.", "--model", str(voice), "--voice", "3", home=tmp_path / "home")
    assert out.returncode == 1
    assert out.stderr.strip().splitlines()[-1] == "studio: This model has no voice '3': it has one voice."
    assert "Loading weights" not in out.stderr
    out = studio_here("speak", "Hi.", home=tmp_path / "empty-home")
    assert out.returncode == 2 and "No voice model is installed" in out.stderr
