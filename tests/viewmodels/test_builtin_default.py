"""With no other model present, the built-in demo model is chosen, labelled, with its recommended settings."""

import json
import shutil

import pytest

from studio.core.models import builtin_models
from studio.viewmodels.bridge import EventBridge
from studio.viewmodels.generation_session import GenerationSession
from studio.viewmodels.job_queue import JobQueue

from .test_job_queue import FakeRunner


@pytest.fixture()
def builtin(tiny_sd, tmp_path, monkeypatch):
    folder = tmp_path / "builtin" / "shapes"
    shutil.copytree(tiny_sd, folder)
    (folder / "studio.json").write_text(
        json.dumps(
            {
                "label": "Shapes (built-in demo)",
                "recommended": {
                    "width": 64,
                    "height": 64,
                    "steps": 20,
                    "cfg_scale": 5.0,
                    "sampler": "DPM++ 2M",
                    "schedule": "Karras",
                },
            }
        )
    )
    monkeypatch.setattr(builtin_models, "BUILTIN_IMAGE_DIRS", (folder,))
    return folder


def session(tmp_path, models):
    return GenerationSession(JobQueue(FakeRunner(), EventBridge()), tmp_path / "inputs", [models])


def test_builtin_is_the_default_when_nothing_else_is_there(qtbot, tmp_path, builtin):
    s = session(tmp_path, tmp_path / "empty-models")
    s.library.rescan_models()
    assert s.value("model") == str(builtin)
    assert s.using_builtin
    assert s.library.model_choices() == [("Shapes (built-in demo)", str(builtin))]
    assert (s.value("width"), s.value("height"), s.value("steps"), s.value("cfg_scale")) == (64, 64, 20, 5.0)
    s.set("prompt", "a red circle on a blue background")
    s.generate()
    assert s.recent_models == []  # the demo never crowds the user's recent models


def test_a_real_model_in_the_models_folder_wins(qtbot, tmp_path, builtin, tiny_sd):
    models = tmp_path / "models"
    shutil.copytree(tiny_sd, models / "my-model")
    s = session(tmp_path, models)
    s.library.rescan_models()
    assert s.value("model") == str(models / "my-model")
    assert not s.using_builtin
    assert [label for label, _ in s.library.model_choices()] == ["my-model", "Shapes (built-in demo)"]


def test_builtin_star_lora_is_found_by_its_prompt_tag(qtbot, tmp_path, tiny_sd):
    from studio.core.models.builtin_models import BUILTIN_LORA_DIR

    if not (BUILTIN_LORA_DIR / "shapes-star.safetensors").is_file():
        pytest.skip("the star LoRA is not in this checkout")
    s = session(tmp_path, tmp_path / "models")
    s.choose_model(str(tiny_sd))
    s.set("prompt", "a yellow star on a black background <lora:shapes-star:0.9>")
    spec = s.build_spec()
    assert spec is not None and [(lo.name, lo.weight) for lo in spec.loras] == [("shapes-star", 0.9)]
