"""Damaged caches and state heal themselves: a gallery index or library that is garbage, truncated, a folder, or
of a schema Studio does not know is moved aside (kept), rebuilt from the files, and the user is told once — on
stderr and in the window. Settings that cannot be read are kept and reported, never silently replaced."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from PIL import Image
from PIL.PngImagePlugin import PngInfo

from studio import cli


def _gallery_with_images(home: Path, n: int = 5) -> Path:
    day = home / "gallery" / "2026-02-03"
    day.mkdir(parents=True)
    for i in range(n):
        meta = PngInfo()
        meta.add_text(
            "parameters", f"picture {i}\nSteps: 20, Sampler: Euler, CFG scale: 7, Seed: {i}, Size: 8x8"
        )
        Image.new("RGB", (8, 8), (i * 40, 0, 0)).save(day / f"{i}.png", pnginfo=meta)
    return home / "gallery"


def _damage(target: Path, how: str) -> None:
    if how == "garbage":
        target.write_bytes(b"this is not a database\x00" * 100)
    elif how == "truncated":
        data = target.read_bytes()
        target.write_bytes(data[: len(data) // 3])
    elif how == "folder":
        target.unlink(missing_ok=True)
        target.mkdir()
        (target / "x").write_text("y")
    elif how == "wrong-schema":
        target.unlink(missing_ok=True)
        db = sqlite3.connect(target)
        db.execute("PRAGMA user_version=3")
        db.execute("CREATE TABLE images (id INTEGER PRIMARY KEY, rel TEXT)")
        db.execute("CREATE TABLE stars (who TEXT)")
        db.execute("CREATE TABLE boards (x INT)")
        db.commit()
        db.close()


DAMAGES = ["garbage", "truncated", "folder", "wrong-schema"]


@pytest.mark.parametrize("how", DAMAGES)
@pytest.mark.parametrize("which", ["index.sqlite", "library.sqlite"])
def test_a_damaged_gallery_database_is_kept_aside_rebuilt_and_told_once(tmp_path, capsys, how, which):
    home = tmp_path / "home"
    gallery = _gallery_with_images(home)
    assert cli.main(["gallery", "reindex", "--home", str(home)]) == 0  # a healthy index first
    for side in gallery.glob(f"{which}-*"):
        side.unlink()
    _damage(gallery / which, how)
    capsys.readouterr()

    assert cli.main(["gallery", "list", "--json", "--home", str(home)]) == 0
    out, err = capsys.readouterr()
    assert len(out.splitlines()) == 5  # every picture is listed again
    assert "damaged" in err and "kept as" in err and "Traceback" not in err
    assert list(gallery.glob(f"{which}.damaged-*"))  # kept for inspection
    assert cli.main(["gallery", "check", "--home", str(home)]) == 0
    out, err = capsys.readouterr()
    assert "damaged" not in err  # told once


@pytest.mark.parametrize("how", ["garbage", "folder"])
def test_reindex_the_documented_repair_works_on_a_damaged_index(tmp_path, capsys, how):
    home = tmp_path / "home"
    gallery = _gallery_with_images(home, 3)
    (gallery / "index.sqlite").write_bytes(b"x")
    _damage(gallery / "index.sqlite", how)
    assert cli.main(["gallery", "reindex", "--home", str(home)]) == 0
    assert "Indexed 3 images" in capsys.readouterr().out


def test_generate_works_with_a_damaged_index(tmp_path, capsys, tiny_sd):
    home = tmp_path / "home"
    gallery = _gallery_with_images(home, 1)
    (gallery / "index.sqlite").write_bytes(b"garbage" * 50)
    code = cli.main(["generate", "a cat", "--model", str(tiny_sd), "--steps", "2", "--width", "64", "--height",
                     "64", "--json", "--home", str(home)])  # fmt: skip
    out, err = capsys.readouterr()
    assert code == 0, err
    assert Path(json.loads(out)["path"]).is_file() and "gallery index was damaged" in err


def test_the_window_starts_and_says_what_it_repaired(qtbot, tmp_path, tiny_sd):
    from studio.app import create_window
    from studio.runtime import build_runtime

    home = tmp_path / "home"
    gallery = _gallery_with_images(home, 2)
    (gallery / "index.sqlite").write_bytes(b"garbage" * 50)
    (home / "config").mkdir(parents=True)
    (home / "config" / "settings.json").write_text('{"theme": "dark", "recent_models": ')  # cut off mid-write
    studio = create_window(build_runtime(home))
    qtbot.addWidget(studio.window)
    try:
        bar = studio.window.notices
        assert bar.isVisibleTo(studio.window)
        text = bar.label.text()
        assert "gallery index was damaged" in text and "settings file" in text and "kept as" in text
        qtbot.waitUntil(lambda: studio.gallery.rowCount() == 2, timeout=10_000)  # rebuilt from the files
        assert list((home / "config").glob("settings.broken-*.json"))
        bar.close_button.click()
        assert not bar.isVisibleTo(studio.window)
    finally:
        studio.runtime.close(5)
        studio.runtime.unsubscribe(studio.bridge.post)


def test_a_crafted_training_run_never_runs_its_pickle(tmp_path, capsys):
    """A run folder whose checkpoint is a pickle that would create a file when loaded: refused with a sentence,
    and the file never appears."""
    import pickle

    marker = tmp_path / "pwned"

    class Payload:
        def __reduce__(self):
            return (open, (str(marker), "w"))

    run = tmp_path / "run"
    (run / "checkpoint-5").mkdir(parents=True)
    (run / "checkpoint-5" / "state.pt").write_bytes(pickle.dumps({"step": 5, "x": Payload()}))
    (run / "spec.json").write_text(json.dumps({"dataset": str(tmp_path / "ds"), "base": "x", "out": "o.safetensors",
                                               "run_dir": "/elsewhere", "steps": 10}))  # fmt: skip
    from studio.core.train.train_specs import latest_checkpoint, read_run_spec
    from studio.engine.train_checkpoint import load

    spec = read_run_spec(run)
    assert spec.run_dir == str(run.resolve())  # the run stays in its folder, whatever the file says
    with pytest.raises(Exception) as info:
        load(latest_checkpoint(run))
    assert "pickle" in str(info.value) and not marker.exists()

    (run / "spec.json").write_text('{"dataset": 5}')
    assert cli.main(["train", "--resume", str(run), "--home", str(tmp_path / "home")]) == 2
    assert "cannot be resumed" in capsys.readouterr().err and not marker.exists()
