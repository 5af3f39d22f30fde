from pathlib import Path

import pytest
from PySide6.QtGui import QImage

from studio.core.image.specs import GenerateSpec, LoraRef
from studio.core.jobs import A1111_MAX_SEED
from studio.viewmodels.bridge import EventBridge
from studio.viewmodels.generation_session import GenerationSession
from studio.viewmodels.job_queue import JobQueue

from .test_job_queue import FakeRunner


@pytest.fixture()
def session(qtbot, tmp_path):
    queue = JobQueue(FakeRunner(), EventBridge())
    models = tmp_path / "models"
    (models / "loras").mkdir(parents=True)
    (models / "loras" / "grain.safetensors").write_bytes(b"x")
    s = GenerationSession(queue, tmp_path / "inputs", [models])
    s.set("model", str(tmp_path))
    return s


def test_random_seed_becomes_a_concrete_number_before_queueing(session):
    session.set("prompt", "a cat")
    assert session.value("seed") == -1
    session.generate()
    spec = session.queue.rows()[0].spec
    assert 0 <= spec.seed <= A1111_MAX_SEED and session.last_seed == spec.seed
    session.reuse_last_seed()
    assert session.value("seed") == spec.seed


def test_lora_tags_in_the_prompt_resolve_to_files(session, tmp_path):
    session.set("prompt", "a cat <lora:grain:0.6>")
    spec = session.build_spec()
    assert spec.loras == (LoraRef(str(tmp_path / "models" / "loras" / "grain.safetensors"), 0.6),)
    session.set("prompt", "a cat <lora:missing:1>")
    assert session.build_spec() is None
    assert "missing" in session.errors["prompt"]


def test_apply_spec_fills_every_field(session, tmp_path):
    spec = GenerateSpec(
        model=str(tmp_path),
        prompt="p",
        negative_prompt="n",
        width=640,
        height=384,
        steps=33,
        cfg_scale=4.5,
        seed=2**40,
        sampler="Euler a",
        schedule="Automatic",
        clip_skip=2,
        batch_size=4,
    )
    session.apply_spec(spec)
    got = session.build_spec()
    assert got == spec.replace(batch_size=1)


def test_non_image_init_is_refused_beside_the_field(session, tmp_path):
    bogus = tmp_path / "x.png"
    bogus.write_text("no")
    assert not session.set_init_image(str(bogus))
    assert session.errors["init_image"] == "x.png is not an image Studio can read."
    assert session.mode == "txt2img"


def test_blank_mask_means_img2img(session, tmp_path):
    img = QImage(32, 32, QImage.Format.Format_RGB32)
    img.fill(0xFF336699)
    img.save(str(tmp_path / "i.png"))
    assert session.set_init_image(str(tmp_path / "i.png"))
    assert Path(session.value("init_image")).parent == tmp_path / "inputs"
    mask = QImage(32, 32, QImage.Format.Format_Grayscale8)
    mask.fill(0)
    session.set_mask(mask)
    assert session.mode == "img2img"
    mask.setPixel(5, 5, 0xFFFFFFFF)
    session.set_mask(mask)
    assert session.mode == "inpaint"


def test_a_lora_tag_is_a_name_never_a_path(session, tmp_path):
    outside = tmp_path / "secret.safetensors"
    outside.write_bytes(b"x")
    session.set("prompt", "a cat <lora:../secret:1>")
    assert session.build_spec() is None
    assert "not a LoRA name" in session.errors["prompt"]
