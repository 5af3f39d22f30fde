"""The content filter (off by default): switched on, a picture its classifier flags is never saved and the job
says so; one it passes is saved as usual; switched on without a usable model, it holds every picture back."""

import json

import pytest

from studio.core.io.paths import resolve_paths
from studio.core.io.settings import load_settings, save_settings
from tests.cli.helpers import studio_here as studio
from tests.tiny_models import save_tiny_image_classifier


def _home(tmp_path, **settings):
    home = tmp_path / "home"
    file = resolve_paths(home).settings_file
    file.parent.mkdir(parents=True)
    s = load_settings(file)
    for k, v in settings.items():
        setattr(s, k, v)
    save_settings(s, file)
    return home


def _pictures(home):
    return sorted((home / "gallery").rglob("*.png"))


@pytest.mark.parametrize("verdict, saved", [("nsfw", 0), ("normal", 2)])
def test_flagged_pictures_are_never_saved(tmp_path, verdict, saved):
    model = save_tiny_image_classifier(tmp_path / f"filter-{verdict}", verdict=verdict)
    home = _home(tmp_path, content_filter=True, content_filter_model=str(model))
    r = studio("generate", "a red circle", "--steps", "2", "--count", "2", "--json", home=home)
    assert r.returncode == 0, r.stderr
    assert len(_pictures(home)) == saved
    held = r.stderr.count("The content filter held this picture back (flagged by filter-nsfw at")
    assert held == 2 - saved
    assert len([line for line in r.stdout.splitlines() if line.startswith("{")]) == saved


def test_on_without_a_usable_model_it_fails_closed(tmp_path):
    home = _home(tmp_path, content_filter=True, content_filter_model=str(tmp_path / "nowhere"))
    r = studio("generate", "a red circle", "--steps", "2", home=home)
    assert _pictures(home) == []
    assert "the content filter's model cannot be used: nowhere is not an image classifier folder" in r.stderr


def test_off_by_default(tmp_path):
    home = tmp_path / "home"
    r = studio("generate", "a red circle", "--steps", "2", "--json", home=home)
    assert r.returncode == 0 and len(_pictures(home)) == 1
    assert json.loads(r.stdout.splitlines()[-1])["path"]
