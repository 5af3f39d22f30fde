import json

from studio.core.settings import SCHEMA_VERSION, Settings, load_settings, save_settings


def test_missing_file_gives_defaults(tmp_path):
    assert load_settings(tmp_path / "settings.json") == Settings()


def test_round_trip_is_human_readable(tmp_path):
    path = tmp_path / "settings.json"
    s = Settings(theme="dark", image_params={"steps": 30})
    s.remember_model("/m/a")
    save_settings(s, path)
    data = json.loads(path.read_text())
    assert data["schema_version"] == SCHEMA_VERSION and data["theme"] == "dark"
    assert load_settings(path) == s


def test_broken_file_is_kept_aside_not_lost(tmp_path):
    path = tmp_path / "settings.json"
    path.write_text("{not json")
    assert load_settings(path) == Settings()
    assert (tmp_path / "settings.broken").read_text() == "{not json"


def test_unknown_keys_are_ignored(tmp_path):
    path = tmp_path / "settings.json"
    path.write_text(json.dumps({"schema_version": 1, "theme": "light", "future": 1}))
    assert load_settings(path).theme == "light"
