"""Training under `accelerate launch`: two CPU processes (gloo), data-parallel — one loss curve, one result, the
same LoRA in both processes."""

from __future__ import annotations

import json

import pytest
from safetensors import safe_open

from tests.cli.helpers import studio
from tests.training.conftest import photos

CONFIG = """compute_environment: LOCAL_MACHINE
distributed_type: MULTI_GPU
num_machines: 1
machine_rank: 0
num_processes: 2
mixed_precision: 'no'
dynamo_config: {}
main_training_function: main
rdzv_backend: static
same_network: true
"""


def test_studio_train_accelerate_runs_two_processes_with_one_curve(tiny_sd, tmp_path):
    config = tmp_path / "accelerate.yaml"
    config.write_text(CONFIG)
    pics = photos(tmp_path / "pics", n=4)
    out = tmp_path / "me.safetensors"
    r = studio("train", "--images", str(pics), "--trigger", "sks", "--class", "disc", "--base", str(tiny_sd),
               "--steps", "4", "--rank", "4", "--resolution", "64", "--out", str(out), "--accelerate",
               "--accelerate-config", str(config), "--json", home=tmp_path / "home", timeout=600)  # fmt: skip
    assert r.returncode == 0, r.stderr[-3000:]
    lines = [json.loads(x) for x in r.stdout.splitlines()]
    assert [x["step"] for x in lines if "loss" in x] == [1, 2, 3, 4]  # one curve: process 1 says nothing
    assert lines[-1]["path"] == str(out) and out.is_file()
    with safe_open(str(out), "pt") as f:
        assert f.metadata()["studio_processes"] == "2"
    status = json.loads((tmp_path / "home").glob("training/runs/*/status.json").__next__().read_text())
    assert status["status"] == "done" and status["processes"] == 2


@pytest.mark.slow  # the same from the Fine-tune room, faster: tests/ui/test_finetune_page.py (export, train
# elsewhere with the base model where it lives there, import)
def test_a_run_exported_trained_elsewhere_and_imported_back(tiny_sd, tmp_path):
    """Export on one machine (its own STUDIO_HOME), train from the folder on "another" (a second home, the base
    model given where it lives there), import the folder back into the first."""
    import shutil

    here, there = tmp_path / "here", tmp_path / "there"
    pics = photos(tmp_path / "pics", n=4)
    folder = tmp_path / "export" / "disc-run"
    r = studio("train", "--images", str(pics), "--trigger", "sks", "--class", "disc", "--base", str(tiny_sd),
               "--steps", "3", "--rank", "4", "--resolution", "64", "--out", str(tmp_path / "disc.safetensors"),
               "--export-run", str(folder), "--json", home=here, timeout=300)  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["exported"] == str(folder)
    assert len(list((folder / "dataset" / "images").glob("*.png"))) == 4
    spec = json.loads((folder / "spec.json").read_text())
    assert (spec["dataset"], spec["out"]) == ("dataset", "result/disc.safetensors")
    assert "studio train --resume" in (folder / "RUN.txt").read_text()
    assert not (tmp_path / "disc.safetensors").exists()  # nothing trained here

    moved = tmp_path / "elsewhere" / "disc-run"  # the folder travels; the base model lives elsewhere there
    shutil.copytree(folder, moved)
    untrained = tmp_path / "untrained"
    shutil.copytree(folder, untrained)
    shutil.rmtree(folder)  # nothing may point back into the folder where it was made
    base_there = tmp_path / "models-there" / "tiny"
    shutil.copytree(tiny_sd, base_there)
    r = studio("train", "--resume", str(moved), "--base", str(base_there), "--json", home=there, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    lines = [json.loads(x) for x in r.stdout.splitlines()]
    assert [x["step"] for x in lines if "loss" in x] == [1, 2, 3]
    assert lines[-1]["path"] == str(moved / "result" / "disc.safetensors")

    back = studio("train", "--import-result", str(moved), "--json", home=here)
    assert back.returncode == 0, back.stderr
    got = json.loads(back.stdout)
    assert got["path"] == str(here / "models" / "loras" / "disc.safetensors")
    with safe_open(got["path"], "pt") as f:
        assert f.metadata()["studio_trigger_word"] == "sks"
    imported = json.loads(
        (tmp_path / "here" / "training" / "runs" / "disc-run-imported" / "status.json").read_text()
    )
    assert imported["status"] == "done" and imported["step"] == 3
    listed = studio("models", "list", "--json", home=here)
    assert "disc.safetensors" in listed.stdout

    unfinished = studio("train", "--import-result", str(untrained), home=here)
    assert unfinished.returncode == 2 and "holds no finished run" in unfinished.stderr
