"""Test-wide setup: offscreen Qt, no network, a throwaway STUDIO_HOME, and tiny models built once."""

from __future__ import annotations

import os
import tempfile

os.environ["QT_QPA_PLATFORM"] = "offscreen"
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"
os.environ["STUDIO_OPENVINO"] = (
    "0"  # auto means torch here; the OpenVINO tests switch it on (tests/engine/test_openvino.py)
)
os.environ["HF_HOME"] = tempfile.mkdtemp(prefix="studio-test-hf-")
# no test reads or writes the user's real system keyring (API keys, the signing key's passphrase)
os.environ["PYTHON_KEYRING_BACKEND"] = "keyring.backends.fail.Keyring"
os.environ["STUDIO_HOME"] = tempfile.mkdtemp(prefix="studio-test-home-")

import sys  # noqa: E402
from pathlib import Path  # noqa: E402

# Studio's workshop (the built-in models' training and evaluation scripts) lives outside the package, in
# packaging/workshop; tests that check the built-in models import it from there (appended: it never shadows).
sys.path.append(str(Path(__file__).resolve().parents[1] / "packaging"))

import pytest  # noqa: E402

pytest_plugins = [
    "tests.servers"
]  # a real `transformers serve` and an error stand-in, for any test that asks


@pytest.fixture(scope="session")
def tiny_sd(tmp_path_factory) -> Path:
    """A tiny SD 1.x diffusers folder (random weights)."""
    from tests.tiny_models import save_tiny_model

    return save_tiny_model(tmp_path_factory.mktemp("models") / "tiny-sd", "sd")


@pytest.fixture(scope="session")
def tiny_flow(tmp_path_factory) -> dict[str, Path]:
    """A tiny FLUX.1 and a tiny SD 3 diffusers folder (random weights), by family."""
    from tests.tiny_models import save_tiny_flow_model

    d = tmp_path_factory.mktemp("flow")
    return {family: save_tiny_flow_model(d / f"tiny-{family}", family) for family in ("flux", "sd3")}


@pytest.fixture(scope="session")
def tiny_sdxl(tmp_path_factory) -> Path:
    from tests.tiny_models import save_tiny_model

    return save_tiny_model(tmp_path_factory.mktemp("models") / "tiny-sdxl", "sdxl")


@pytest.fixture()
def home(tmp_path, monkeypatch) -> Path:
    """A fresh, empty Studio data folder for one test."""
    h = tmp_path / "home"
    monkeypatch.setenv("STUDIO_HOME", str(h))
    return h


@pytest.fixture(scope="session")
def tiny_lm(tmp_path_factory) -> Path:
    """A tiny GPT-2 transformers folder (random weights, 128-token context)."""
    from tests.tiny_models import save_tiny_lm

    return save_tiny_lm(tmp_path_factory.mktemp("models") / "tiny-lm")


@pytest.fixture(scope="session")
def tiny_qwen(tmp_path_factory) -> Path:
    """A tiny Qwen2 transformers folder (grouped-query attention, rotary positions; 128-token context)."""
    from tests.tiny_models import save_tiny_lm

    return save_tiny_lm(tmp_path_factory.mktemp("models") / "tiny-qwen", arch="qwen2")


@pytest.fixture(scope="session")
def vision_models(tmp_path_factory) -> Path:
    """A models folder with a tiny Segment Anything, OWLv2 detector and ViTMatte (random weights)."""
    from tests.tiny_models import save_tiny_owlv2, save_tiny_sam, save_tiny_vitmatte

    folder = tmp_path_factory.mktemp("vision-models")
    save_tiny_sam(folder / "sam-tiny")
    save_tiny_owlv2(folder / "owlv2-tiny")
    save_tiny_vitmatte(folder / "vitmatte-tiny")
    return folder


@pytest.fixture()
def openvino_on(monkeypatch) -> None:
    """OpenVINO allowed for this test (the test-wide setting switches it off, so that auto means torch)."""
    monkeypatch.delenv("STUDIO_OPENVINO", raising=False)
