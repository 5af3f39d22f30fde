"""The self-contained build (slow: it builds the app with PyInstaller, 10+ minutes here). Run it with

    .venv/bin/pip install -e '.[dev,package]' && .venv/bin/python -m pytest -q -m slow tests/packaging

It launches the built `studio` with no Python environment on PATH, no PYTHONPATH and (where `unshare` can) no
network at all: the window shows, and one image is generated with the built-in model through the window; then the
CLI generates and trains (the trainer runs as the build's own `--train-process`)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def app(tmp_path_factory) -> Path:
    pytest.importorskip("PyInstaller", reason="pip install -e '.[package]'")
    dist = tmp_path_factory.mktemp("dist")
    subprocess.run(
        [sys.executable, str(ROOT / "packaging" / "build.py"), "app", "--dist", str(dist)],
        check=True,
        timeout=3600,
    )
    return dist / "Studio"


def bare_env(home: Path) -> dict[str, str]:
    keep = ("HOME", "LANG", "DISPLAY", "XDG_RUNTIME_DIR")
    env = {k: v for k, v in os.environ.items() if k in keep}
    env.update(PATH="/usr/bin:/bin", STUDIO_HOME=str(home), HF_HUB_OFFLINE="1", QT_QPA_PLATFORM="offscreen")
    return env


def offline(cmd: list[str]) -> list[str]:
    """No network namespace when this machine allows one (root, or user namespaces)."""
    if (
        shutil.which("unshare")
        and subprocess.run(["unshare", "--net", "true"], capture_output=True).returncode == 0
    ):
        return ["unshare", "--net", *cmd]
    return cmd


def test_the_built_app_shows_its_window_and_generates(app, tmp_path):
    from PIL import Image

    assert not (app / "python").exists() and (app / "studio").is_file()
    env = bare_env(tmp_path / "home")
    run = subprocess.run(
        offline([str(app / "studio"), "--smoke-test"]),
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    assert "window shown" in run.stdout
    saved = Path(run.stdout.split("image saved: ")[1].splitlines()[0])
    assert saved.is_file() and saved.is_relative_to(tmp_path / "home" / "gallery")
    with Image.open(saved) as im:
        assert im.size == (64, 64)

    out = tmp_path / "cli"
    gen = subprocess.run(
        offline([str(app / "studio"), "generate", "a red circle on a blue background", "--out", str(out)]),
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert gen.returncode == 0, gen.stderr[-3000:]
    assert len(list(out.glob("*.png"))) == 1

    from tests.training.conftest import photos

    pics = photos(tmp_path / "pics", n=3)
    train = subprocess.run(
        offline(
            [
                str(app / "studio"),
                "train",
                "--images",
                str(pics),
                "--trigger",
                "sks",
                "--steps",
                "2",
                "--rank",
                "2",
                "--out",
                str(tmp_path / "sks.safetensors"),
            ]
        ),
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert train.returncode == 0, train.stderr[-3000:]
    assert (tmp_path / "sks.safetensors").stat().st_size > 1000
