import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from .helpers import studio_here as studio


def test_generate_json_lines_and_files(tiny_sd, tmp_path):
    out = tmp_path / "renders"
    r = studio(
        "generate",
        "a red circle",
        "--model",
        str(tiny_sd),
        "--width",
        "64",
        "--height",
        "64",
        "--steps",
        "4",
        "--seed",
        "7",
        "--count",
        "2",
        "--sampler",
        "DPM++ 2M Karras",
        "--out",
        str(out),
        "--json",
        home=tmp_path / "home",
    )
    assert r.returncode == 0, r.stderr
    lines = [json.loads(line) for line in r.stdout.splitlines()]
    assert [(d["seed"], d["width"], d["height"], d["steps"], d["sampler"]) for d in lines] == [
        (7, 64, 64, 4, "DPM++ 2M"),
        (8, 64, 64, 4, "DPM++ 2M"),
    ]
    for d in lines:
        path = Path(d["path"])
        assert path.parent == out and path.is_file()
        with Image.open(path) as im:
            assert "Sampler: DPM++ 2M, Schedule type: Karras" in im.info["parameters"]
    assert sorted(p.name for p in out.iterdir()) == sorted(Path(d["path"]).name for d in lines)


def test_generate_plain_output_into_gallery_and_img2img(tiny_sd, tmp_path):
    home = tmp_path / "home"
    init = tmp_path / "init.png"
    Image.fromarray(np.full((64, 64, 3), 120, np.uint8)).save(init)
    r = studio(
        "generate",
        "a cat",
        "--model",
        str(tiny_sd),
        "--width",
        "64",
        "--height",
        "64",
        "--steps",
        "4",
        "--init-image",
        str(init),
        "--strength",
        "0.5",
        home=home,
    )
    assert r.returncode == 0, r.stderr
    path = Path(r.stdout.strip())
    assert path.is_file() and (home / "gallery") in path.parents
    with Image.open(path) as im:
        assert "Denoising strength: 0.5" in im.info["parameters"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--width", "65"], "multiple of 8"),
        (["--sampler", "Warp"], "Unknown sampler"),
        (["--model", "/definitely/missing"], "does not exist"),
        (["--steps", "x"], "invalid int"),
        (["--mask", "m.png"], "needs an init image"),
    ],
)
def test_bad_arguments_exit_2_with_one_line(tiny_sd, tmp_path, args, message):
    full = ["generate", "a cat", "--model", str(tiny_sd), *args]
    r = studio(*full, home=tmp_path / "home", timeout=60)
    assert r.returncode == 2
    assert message in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1
    assert r.stdout == ""


def test_non_image_init_is_a_bad_argument_exit_2(tiny_sd, tmp_path):
    bogus = tmp_path / "x.png"
    bogus.write_text("hello")
    r = studio(
        "generate",
        "a cat",
        "--model",
        str(tiny_sd),
        "--width",
        "64",
        "--height",
        "64",
        "--steps",
        "2",
        "--init-image",
        str(bogus),
        home=tmp_path / "home",
    )
    assert r.returncode == 2
    assert r.stderr.strip().splitlines()[-1] == "studio: --init-image: x.png is not an image Studio can read."


def test_without_any_model_the_builtin_demo_is_used(tiny_sd, tmp_path, monkeypatch, capsys):
    import shutil

    from studio import cli
    from studio.core.models import builtin_models

    folder = tmp_path / "shapes"
    shutil.copytree(tiny_sd, folder)
    (folder / "studio.json").write_text(
        json.dumps(
            {"label": "Shapes (built-in demo)", "recommended": {"width": 64, "height": 64, "steps": 3}}
        )
    )
    monkeypatch.setattr(builtin_models, "BUILTIN_IMAGE_DIRS", (folder,))
    code = cli.main(["--home", str(tmp_path / "home"), "generate", "a red circle", "--json", "--seed", "3"])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert "Using Shapes (built-in demo)" in err
    line = json.loads(out.strip())
    assert (line["width"], line["height"], line["steps"], line["model"]) == (64, 64, 3, "shapes")


def test_a_models_card_limits_are_told_before_its_first_use_only(tiny_sd, tmp_path):
    import shutil

    carded = tmp_path / "carded-sd"
    shutil.copytree(tiny_sd, carded)
    (carded / "README.md").write_text(
        "# Tiny\n\n## Limitations\n\nIt cannot draw hands.\n\n## Training\nNone.\n"
    )
    home = tmp_path / "home"
    args = ("generate", "a red circle", "--model", carded, "--width", "64", "--height", "64", "--steps", "2")
    first = studio(*args, home=home)
    assert first.returncode == 0, first.stderr
    assert "before the first use of carded-sd, its model card says of its limits" in first.stderr
    assert "It cannot draw hands." in first.stderr and "Training" not in first.stderr
    again = studio(*args, home=home)
    assert again.returncode == 0 and "cannot draw hands" not in again.stderr
