"""The wheel carries everything Studio needs at run time, and `studio generate` works from a fresh venv with the
wheel installed — resources found in the installed package, not in this source tree."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    pytest.importorskip("hatchling", reason="the wheel is built with hatchling (pip install -e '.[dev]')")
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "-q",
            "--no-deps",
            "--no-build-isolation",
            "-w",
            str(out),
            str(ROOT),
        ],
        check=True,
        env={**os.environ, "PIP_NO_INDEX": "1"},
    )
    return next(out.glob("studio-*.whl"))


def test_the_wheel_holds_the_resources_and_not_the_training_material(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    for needed in (
        "studio/resources/icons/studio.svg",
        "studio/resources/catalog/recommended.json",
        "studio/resources/styles/studio.csv",
        "studio/resources/model_configs/sdxl/model_index.json",
        "studio/resources/models/shapes/model_index.json",
        "studio/resources/models/storyteller/model.safetensors",
        "studio/resources/models/tones/unet/diffusion_pytorch_model.safetensors",
        "studio/resources/models/loras/shapes-star.safetensors",
        "studio/__main__.py",
    ):
        assert needed in names, needed
    assert not any(
        n.startswith(("studio/resources/training", "studio/resources/screenshots", "tests/")) for n in names
    )
    entry = next(n for n in names if n.endswith("entry_points.txt"))
    assert "studio = studio.__main__:main" in zipfile.ZipFile(wheel).read(entry).decode()


def test_studio_generate_works_from_a_fresh_venv(wheel, tmp_path):
    venv = tmp_path / "fresh"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "--python",
            str(venv / "bin" / "python"),
            "install",
            "-q",
            "--no-deps",
            "--no-index",
            str(wheel),
        ],
        check=True,
    )
    # The dependencies (torch, diffusers, …) come from this venv's site-packages, read-only and after the fresh
    # venv's own: installing 2 GB again would prove nothing more. Its .pth files (this checkout) are not read.
    fresh_site = next((venv / "lib").glob("python3*/site-packages"))
    (fresh_site / "deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env.update(STUDIO_HOME=str(tmp_path / "home"), HF_HUB_OFFLINE="1", PATH="/usr/bin:/bin")
    where = subprocess.run(
        [
            str(venv / "bin" / "python"),
            "-c",
            "import studio, studio.core.io.paths as p; print(studio.__file__); print(p.RESOURCES)",
        ],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split("\n")
    assert where[0].startswith(str(venv)) and where[1] == str(fresh_site / "studio" / "resources")
    out = tmp_path / "out"
    run = subprocess.run(
        [
            str(venv / "bin" / "studio"),
            "generate",
            "a red circle on a blue background",
            "--seed",
            "3",
            "--out",
            str(out),
            "--json",
        ],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stderr[-2000:]
    result = json.loads(run.stdout.strip().splitlines()[-1])
    image = Path(result["path"])
    assert image.parent == out and image.is_file()
    from PIL import Image

    with Image.open(image) as im:
        assert im.size == (64, 64)  # the built-in Shapes model, found inside the installed package
        assert "a red circle" in im.info.get("parameters", "")
    window = subprocess.run(
        [str(venv / "bin" / "studio"), "--quit-after-show"],
        cwd=tmp_path,
        env={**env, "QT_QPA_PLATFORM": "offscreen"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert window.returncode == 0 and "window shown" in window.stdout, window.stderr[-2000:]
