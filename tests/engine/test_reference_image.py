"""Reference images (IP-Adapter): the picture follows the reference, by its weight, between its start and end; the
adapter and its image encoder found for the model's family; what is missing said with what to get."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from studio.core.image.guidance import ip_adapter_finder
from studio.core.image.recipe import ImageContext, freeze_image
from studio.core.jobs.cancel import CancelToken
from tests.tiny_models import save_tiny_image_encoder, save_tiny_ip_adapter


@pytest.fixture(scope="module")
def models(tmp_path_factory, tiny_sd):
    root = tmp_path_factory.mktemp("models")
    save_tiny_ip_adapter(tiny_sd, root / "ipadapter" / "ip-adapter-tiny.safetensors")
    save_tiny_image_encoder(root / "ipadapter" / "image_encoder")
    return root


@pytest.fixture(scope="module")
def pictures(tmp_path_factory):
    d = tmp_path_factory.mktemp("refs")
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 255, (48, 48, 3), dtype=np.uint8)).save(d / "noise.png")
    Image.new("RGB", (40, 60), (200, 30, 30)).save(d / "red.png")
    return d


def freeze(models, model, **values):
    ctx = ImageContext(ip_adapters=ip_adapter_finder([models]))
    return freeze_image({"model": str(model), "prompt": "a red circle", "width": 64, "height": 64, "steps": 4,
                         "seed": 3, "sampler": "Euler", **values}, ctx)  # fmt: skip


def render(runtime, models, model, **values):
    spec = freeze(models, model, **values)
    assert not isinstance(spec, dict), spec
    (item,) = runtime.image_engine.generate(spec, CancelToken(), lambda e: None)
    with Image.open(item.path) as im:
        return np.asarray(im.convert("RGB"), int), im.info["parameters"]


def test_the_reference_steers_the_picture_by_its_weight(runtime, models, tiny_sd, pictures):
    plain, _ = render(runtime, models, tiny_sd)
    red, params = render(runtime, models, tiny_sd, references=[f"{pictures / 'red.png'}:0.8"])
    noise, _ = render(runtime, models, tiny_sd, references=[f"{pictures / 'noise.png'}:0.8"])
    assert np.abs(red - plain).mean() > 0.5 and np.abs(noise - red).mean() > 0.5
    assert 'ControlNet 0: "Module: ip-adapter_clip, Model: ip-adapter-tiny, Weight: 0.8' in params
    late, _ = render(runtime, models, tiny_sd, references=[{"image": str(pictures / "red.png"), "weight": 0.8,
                                                             "start": 0.5}])  # fmt: skip
    assert not np.array_equal(late, red) and not np.array_equal(late, plain)  # it joined half-way
    again, _ = render(runtime, models, tiny_sd)  # no reference: the adapter is taken out again
    assert np.array_equal(again, plain)


def test_the_adapter_and_encoder_are_found_or_what_to_get_is_said(models, tiny_sd, tmp_path, pictures):
    spec = freeze(models, tiny_sd, references=[str(pictures / "red.png")])
    (ref,) = spec.references
    assert ref.model.endswith("ip-adapter-tiny.safetensors") and ref.encoder.endswith("image_encoder")
    assert ref.weight == 0.6
    ctx = ImageContext(ip_adapters=ip_adapter_finder([tmp_path]))
    problems = freeze_image(
        {"model": str(tiny_sd), "prompt": "x", "references": [str(pictures / "red.png")]}, ctx
    )
    assert "needs an IP-Adapter for SD 1.x" in problems["references"]
    lone = tmp_path / "ipadapter" / "lone.safetensors"
    save_tiny_ip_adapter(tiny_sd, lone)
    problems = freeze_image(
        {"model": str(tiny_sd), "prompt": "x", "references": [str(pictures / "red.png")]}, ctx
    )
    assert "lone.safetensors needs a CLIP image encoder" in problems["references"]
    problems = freeze(models, tiny_sd, references=[f"{pictures / 'red.png'}:3"])
    assert "weight must be between 0 and 2" in problems["references"]
