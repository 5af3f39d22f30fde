from __future__ import annotations

import pytest

from studio.core.gallery.gallery_store import GalleryStore
from studio.core.image.specs import GenerateSpec
from studio.core.io.hashing import HashCache
from studio.core.jobs.cancel import CancelToken
from studio.engine.devices import Placement


@pytest.fixture(scope="module")
def engine(tmp_path_factory):
    import torch

    from studio.engine.image import ImageEngine

    d = tmp_path_factory.mktemp("engine")
    eng = ImageEngine(
        GalleryStore(d / "gallery"),
        HashCache(d / "hashes.json"),
        placement=lambda: Placement("cpu", torch.float32),
        preview_interval=lambda: 0.0,
    )
    yield eng
    eng.store.close()


@pytest.fixture()
def make_spec(tiny_sd):
    def make(**kw) -> GenerateSpec:
        base = {
            "model": str(tiny_sd),
            "prompt": "a red circle on a blue background",
            "width": 64,
            "height": 64,
            "steps": 6,
            "seed": 1234,
            "sampler": "Euler",
            "schedule": "Automatic",
        }
        base.update(kw)
        return GenerateSpec(**base)

    return make


@pytest.fixture()
def run(engine):
    """Run a spec; return (saved items, events)."""

    def go(spec, cancel=None):
        events = []
        items = engine.generate(spec, cancel or CancelToken(), events.append)
        return items, events

    return go


@pytest.fixture(scope="module")
def runtime(tmp_path_factory):
    """A real runtime over a fresh data folder, shared by a module's tests."""
    from studio.runtime import build_runtime

    rt = build_runtime(tmp_path_factory.mktemp("home"))
    # these tests compare the saved pixels with the engine's exactly; the watermark's own cost in the pixels is
    # measured in tests/provenance (signing stays on: it does not touch the pixels)
    rt.settings.watermark = False
    yield rt
    rt.close(5)


@pytest.fixture(scope="module")
def lora_file(tmp_path_factory, tiny_sd):
    """A LoRA for the tiny UNet with non-zero weights, saved the diffusers way."""
    import torch
    from diffusers import StableDiffusionPipeline
    from diffusers.utils import convert_state_dict_to_diffusers
    from peft import LoraConfig
    from peft.utils import get_peft_model_state_dict

    pipe = StableDiffusionPipeline.from_pretrained(str(tiny_sd), local_files_only=True)
    torch.manual_seed(0)
    pipe.unet.add_adapter(
        LoraConfig(
            r=4, lora_alpha=4, init_lora_weights=False, target_modules=["to_q", "to_k", "to_v", "to_out.0"]
        )
    )
    with torch.no_grad():
        for name, p in pipe.unet.named_parameters():
            if "lora_B" in name:
                p.mul_(20)
    layers = convert_state_dict_to_diffusers(get_peft_model_state_dict(pipe.unet))
    out = tmp_path_factory.mktemp("loras")
    StableDiffusionPipeline.save_lora_weights(
        str(out), unet_lora_layers=layers, weight_name="grain.safetensors"
    )
    return out / "grain.safetensors"
