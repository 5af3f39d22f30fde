"""SDXL's refiner and second prompt: the base makes the first steps, the refiner the rest (one progress bar); the
second prompt reaches the second text encoder; the recipe says both; what cannot run is said per field."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from studio.core.image.recipe import ImageContext, freeze_image
from studio.core.jobs.cancel import CancelToken
from studio.core.jobs.errors import StudioError
from studio.core.jobs.events import Note, Progress
from tests.tiny_models import save_tiny_refiner


@pytest.fixture(scope="module")
def refiner(tmp_path_factory):
    return save_tiny_refiner(tmp_path_factory.mktemp("models") / "tiny-refiner")


def render(runtime, model, events=None, **values):
    spec = freeze_image({"model": str(model), "prompt": "a red circle", "width": 64, "height": 64, "steps": 5,
                         "seed": 6, "sampler": "Euler", **values}, ImageContext())  # fmt: skip
    assert not isinstance(spec, dict), spec
    (item,) = runtime.image_engine.generate(
        spec, CancelToken(), (events if events is not None else []).append
    )
    with Image.open(item.path) as im:
        return np.asarray(im.convert("RGB"), int), im.info["parameters"]


def test_the_refiner_makes_the_last_steps(runtime, tiny_sdxl, refiner):
    plain, _ = render(runtime, tiny_sdxl)
    events: list = []
    refined, params = render(runtime, tiny_sdxl, events, refiner=str(refiner), refiner_switch=0.6)
    assert np.abs(refined - plain).mean() > 0.5
    assert "Refiner: tiny-refiner, Refiner switch at: 0.6" in params
    steps = [e.step for e in events if isinstance(e, Progress)]
    assert steps == [1, 2, 3, 4, 5] and {e.total for e in events if isinstance(e, Progress)} == {5}


def test_the_second_prompt_reaches_the_second_encoder(runtime, tiny_sdxl, tiny_sd):
    same, _ = render(runtime, tiny_sdxl)
    other, _ = render(runtime, tiny_sdxl, prompt_2="a green square, watercolour")
    assert np.abs(other - same).mean() > 0.2
    events: list = []
    render(runtime, tiny_sd, events, prompt_2="watercolour")
    assert any(isinstance(e, Note) and "second prompt was not used" in e.text for e in events)


def test_a_refiner_that_cannot_run_is_said(runtime, tiny_sd, tiny_sdxl, refiner, tmp_path):
    init = tmp_path / "i.png"
    Image.new("RGB", (64, 64)).save(init)
    draft = {"model": str(tiny_sdxl), "prompt": "x", "steps": 5}
    assert "does not exist" in freeze_image({**draft, "refiner": "/nowhere"}, ImageContext())["refiner"]
    assert "without an init image" in freeze_image({**draft, "refiner": str(refiner), "init_image": str(init)},
                                                   ImageContext())["refiner"]  # fmt: skip
    assert "No step is left" in freeze_image({**draft, "refiner": str(refiner), "refiner_switch": 0.95, "steps": 5},
                                             ImageContext())["refiner_switch"]  # fmt: skip
    with pytest.raises(StudioError, match="finishes SDXL pictures") as e:
        render(runtime, tiny_sd, refiner=str(refiner))
    assert e.value.field == "refiner"
    with pytest.raises(StudioError, match="not an SDXL refiner"):
        render(runtime, tiny_sdxl, refiner=str(tiny_sd))


def test_an_a1111_refiner_is_read_back(tmp_path, refiner):
    from PIL.PngImagePlugin import PngInfo

    from studio.core.image.from_image import draft_from_image

    info = PngInfo()
    info.add_text("parameters", "a castle\nSteps: 30, Sampler: Euler, CFG scale: 7, Seed: 5, Size: 1024x1024, "
                  "Refiner: tiny-refiner [7440042bbd], Refiner switch at: 0.7")  # fmt: skip
    Image.new("RGB", (8, 8)).save(tmp_path / "a.png", pnginfo=info)
    draft, notes = draft_from_image(tmp_path / "a.png", {"tiny-refiner": str(refiner)}.get)
    assert draft["refiner"] == str(refiner) and draft["refiner_switch"] == 0.7
    assert not any("Refiner" in n for n in notes)
    draft, notes = draft_from_image(tmp_path / "a.png")
    assert "refiner" not in draft and any("refiner 'tiny-refiner' is not in your library" in n for n in notes)
