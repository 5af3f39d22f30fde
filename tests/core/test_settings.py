import json

from studio.core.io.settings import SCHEMA_VERSION, Settings, load_settings, save_settings


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


def test_broken_file_is_kept_aside_not_lost_and_the_user_is_told(tmp_path):
    path = tmp_path / "settings.json"
    path.write_text("{not json")
    s = load_settings(path)
    assert s == Settings()
    (kept,) = tmp_path.glob("settings.broken-*.json")
    assert kept.read_text() == "{not json"
    assert len(s.notices) == 1 and "could not be read" in s.notices[0] and kept.name in s.notices[0]


def test_values_of_the_wrong_type_cost_only_themselves(tmp_path):
    path = tmp_path / "settings.json"
    path.write_text(
        json.dumps(
            {
                "theme": 5,
                "recent_models": "abc",
                "device": "gpu9",
                "dtype": "bf16",
                "model_folders": ["/a", "/b"],
                "image_params": [1, 2],
            }
        )
    )
    s = load_settings(path)
    assert (s.theme, s.recent_models, s.device, s.image_params) == ("system", [], "auto", {})
    assert s.dtype == "bf16" and s.model_folders == ["/a", "/b"]
    assert len(s.notices) == 4 and any("'theme'" in n for n in s.notices)
    assert path.exists()  # a readable file is not moved aside for one bad value


def test_deep_nesting_and_non_objects_are_refused_not_crashed(tmp_path):
    path = tmp_path / "settings.json"
    for text in ("[" * 100_000 + "]" * 100_000, "[1, 2]", '"just a string"', '{"theme": 1e999}'):
        path.write_text(text)
        assert load_settings(path) == Settings()


def test_two_processes_saving_keep_both_changes(tmp_path):
    path = tmp_path / "settings.json"
    a, b = load_settings(path), load_settings(path)  # two Studios started from the same file
    a.theme = "dark"
    b.model_folders.append("/mnt/comfy/models")
    b.family_overrides["/m/x.safetensors"] = "sd2"
    save_settings(a, path)
    save_settings(b, path)
    a.family_overrides["/m/y.safetensors"] = "sdxl"
    save_settings(a, path)
    final = load_settings(path)
    assert final.theme == "dark" and final.model_folders == ["/mnt/comfy/models"]
    assert final.family_overrides == {"/m/x.safetensors": "sd2", "/m/y.safetensors": "sdxl"}
    assert not list(tmp_path.glob("*.tmp"))


def test_unknown_keys_are_ignored(tmp_path):
    path = tmp_path / "settings.json"
    path.write_text(json.dumps({"schema_version": 1, "theme": "light", "future": 1}))
    assert load_settings(path).theme == "light"


def test_start_up_cleans_stale_temporary_files_of_interrupted_writes_only(tmp_path):
    import os

    from studio.runtime import build_runtime

    home = tmp_path / "home"
    rt = build_runtime(home)
    rt.close()
    stale = home / "config" / ".settings.json.0123abcd.tmp"
    fresh = home / "writer" / ".story.md.89abcdef.tmp"  # another Studio may be writing it right now
    other = home / "config" / "notes.tmp"  # not a name Studio writes: never touched
    for p in (stale, fresh, other):
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(b"x" * 1000)
    os.utime(stale, (0, 0))
    os.utime(other, (0, 0))
    build_runtime(home).close()
    assert not stale.exists() and fresh.exists() and other.exists()
