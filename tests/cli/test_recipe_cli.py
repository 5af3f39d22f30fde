"""The CLI and the window agree: LoRA tags and names applied alike, the same defaults (``studio recipe``), recipe
files, re-running an image's recipe to the same pixels, global options anywhere, unknown commands refused."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from studio import cli
from studio.core.models.builtin_models import BUILTIN_IMAGE_DIRS, BUILTIN_LORA_DIR

from .helpers import studio_here as studio

SHAPES = BUILTIN_IMAGE_DIRS[0]
STAR = BUILTIN_LORA_DIR / "shapes-star.safetensors"
needs_builtins = pytest.mark.skipif(
    not (SHAPES / "model_index.json").is_file() or not STAR.is_file(),
    reason="the built-in models are not shipped",
)


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def params_of(path: str) -> str:
    with Image.open(path) as im:
        return str(im.info["parameters"])


@needs_builtins
def test_lora_tags_and_lora_names_are_applied_and_recorded(capsys, tmp_path):
    from studio.core.io.hashing import HashCache

    home = str(tmp_path / "home")
    star_hash = HashCache(tmp_path / "h.json").a1111_lora_hash(STAR)
    code, out, err = run(capsys, "generate", "a red star on a blue background <lora:shapes-star:1>", "--json",
                         "--seed", "1", "--steps", "3", "--home", home)  # fmt: skip
    assert code == 0, err
    line = json.loads(out)
    assert [Path(lo["path"]).name for lo in line["loras"]] == ["shapes-star.safetensors"]
    assert f'Lora hashes: "shapes-star: {star_hash}"' in params_of(line["path"])

    code, out, err = run(capsys, "generate", "a red star on a blue background", "--lora", "shapes-star:0.8",
                         "--json", "--seed", "1", "--steps", "3", "--home", home)  # fmt: skip
    assert code == 0, err
    text = params_of(json.loads(out)["path"])
    assert "<lora:shapes-star:0.8>" in text and f"shapes-star: {star_hash}" in text

    code, out, err = run(
        capsys, "generate", "a red square", "--json", "--seed", "1", "--steps", "3", "--home", home
    )
    assert code == 0 and "Lora hashes" not in params_of(json.loads(out)["path"])

    code, out, err = run(capsys, "generate", "x <lora:../../etc/passwd:1>", "--home", home)
    assert code == 2 and "not a LoRA name" in err and out == ""


@needs_builtins
def test_an_image_recipe_runs_again_to_the_same_pixels(capsys, tmp_path):
    home = str(tmp_path / "home")
    code, out, err = run(capsys, "generate", "a blue circle on a yellow background", "--seed", "42", "--steps",
                         "5", "--count", "2", "--sampler", "Euler a", "--json", "--home", home)  # fmt: skip
    assert code == 0, err
    second = json.loads(out.splitlines()[1])  # the second image of a batch: its own seed is 43
    code, out, err = run(capsys, "generate", "--from-image", second["path"], "--json", "--home", home)
    assert code == 0, err
    again = json.loads(out)
    assert again["seed"] == 43 and again["sampler"] == "Euler a" and again["prompt"] == second["prompt"]
    a = np.asarray(Image.open(second["path"]).convert("RGB"))
    b = np.asarray(Image.open(again["path"]).convert("RGB"))
    assert np.array_equal(a, b)
    assert "not carried over" not in err


@needs_builtins
def test_another_tools_recipe_says_what_was_not_carried_over(capsys, tmp_path):
    from PIL.PngImagePlugin import PngInfo

    meta = PngInfo()
    meta.add_text("parameters", "a green cross on a red background\nNegative prompt: blurry\nSteps: 4, Sampler: "
                  "Euler a, CFG scale: 5, Seed: 9, Size: 64x64, Model hash: abc, Model: dreamshaper_8, "
                  "Denoising strength: 0.5, Hires upscale: 2, Hires steps: 2, Hires upscaler: Latent, "
                  "ADetailer model: face_yolov8n.pt, Version: v1.10.1")  # fmt: skip
    png = tmp_path / "a1111.png"
    Image.new("RGB", (64, 64)).save(png, pnginfo=meta)
    code, out, err = run(
        capsys, "generate", "--from-image", str(png), "--json", "--home", str(tmp_path / "h")
    )
    assert code == 0, err
    line = json.loads(out)
    assert (line["prompt"], line["seed"], line["steps"], line["sampler"]) == (
        "a green cross on a red background", 9, 4, "Euler a")  # fmt: skip
    assert (line["width"], line["height"]) == (128, 128)  # the hires fix is carried over: 64×64 upscaled by 2
    assert (
        "dreamshaper_8" in err
        and "the detailer (ADetailer: face): no detector" in err
        and "not carried over" in err
    )
    assert "Hires" not in err


@needs_builtins
def test_a_recipe_file_runs_and_options_override_it(capsys, tmp_path):
    home = str(tmp_path / "home")
    code, out, _ = run(capsys, "recipe", "--kind", "image", "--json", "--home", home)
    recipe = json.loads(out)
    recipe["values"].update(prompt="a yellow triangle on a green background", seed=5, steps=3)
    path = tmp_path / "r.json"
    path.write_text(json.dumps(recipe))
    code, out, err = run(capsys, "generate", "--recipe", str(path), "--seed", "6", "--json", "--home", home)
    assert code == 0, err
    line = json.loads(out)
    assert (line["prompt"], line["seed"], line["steps"], line["width"]) == (
        "a yellow triangle on a green background", 6, 3, 64)  # fmt: skip
    path.write_text("[1, 2")
    code, out, err = run(capsys, "generate", "--recipe", str(path), "--home", home)
    assert code == 2 and "--recipe" in err and "Traceback" not in err


def test_studio_recipe_and_the_rooms_show_the_same_defaults(qtbot, capsys, tmp_path, tiny_sd):
    from studio.viewmodels.bridge import EventBridge
    from studio.viewmodels.generation_session import GenerationSession
    from studio.viewmodels.job_queue import JobQueue
    from studio.viewmodels.train_session import TrainSession
    from studio.viewmodels.writer_session import WriterSession
    from tests.viewmodels.test_job_queue import FakeRunner

    home = tmp_path / "home"

    def recipe(kind: str, model: str) -> dict:
        code, out, _ = run(capsys, "recipe", "--kind", kind, "--model", model, "--json", "--home", str(home))
        assert code == 0
        return json.loads(out)["values"]

    queue = JobQueue(FakeRunner(), EventBridge())
    writer = WriterSession(queue, EventBridge())
    assert recipe("text", writer.value("model")) == writer.recipe_values()

    model = str(SHAPES if (SHAPES / "model_index.json").is_file() else tiny_sd)
    image = GenerationSession(queue, home / "inputs", [home / "models"])
    image.choose_model(model)
    assert recipe("image", model) == {k: image.value(k) for k in recipe("image", model)}

    room = TrainSession(
        queue, EventBridge(), home / "training", home / "models" / "loras", default_base=model
    )
    values = recipe("train", model)
    derived = ("alpha", "sample_every", "checkpoint_every")  # computed when the run is frozen
    assert {k: v for k, v in values.items() if k not in derived} == {k: room.value(k) for k in values
                                                                     if k not in derived}  # fmt: skip


def test_global_options_go_anywhere_and_unknown_commands_are_refused(tmp_path, capsys):
    home = tmp_path / "home"
    code, out, err = run(capsys, "recipe", "--kind", "text", "--json", "--home", str(home))
    assert code == 0 and (home / "config").is_dir()
    code, out, err = run(capsys, "--home", str(home), "recipe", "--kind", "text")
    assert code == 0 and "max_new_tokens" not in out and "Max new tokens: 80" in out

    r = studio("foo", "bar", home=home, timeout=60)  # through `python -m studio`: no window opens
    assert r.returncode == 2 and "unknown command 'foo'" in r.stderr and r.stdout == ""


def test_bad_seeds_and_folders_are_refused_with_a_sentence(tmp_path, capsys, tiny_sd):
    home = str(tmp_path / "home")
    code, out, err = run(capsys, "generate", "a cat", "--model", str(tiny_sd), "--seed", "-7", "--home", home)
    assert code == 2 and "--seed: Seed must be −1" in err
    a_file = tmp_path / "file"
    a_file.write_text("x")
    code, out, err = run(capsys, "generate", "a cat", "--model", str(tiny_sd), "--home", str(a_file))
    assert code == 2 and "is a file, not a folder" in err and "Traceback" not in err
    code, out, err = run(
        capsys, "generate", "a cat", "--model", str(tiny_sd), "--out", str(a_file), "--home", home
    )
    assert code == 2 and "is a file, not a folder" in err
