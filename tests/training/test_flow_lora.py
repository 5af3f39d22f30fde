"""LoRA training for the flow-matching transformers, SD 3.x and FLUX.1, on tiny ones built in code: it learns
(validation loss included), writes a file diffusers' loaders read, which ``studio generate --lora`` applies; a model
too large for the device is refused with the numbers, and what the flow families do not train is said."""

from __future__ import annotations

import numpy as np
import pytest
from safetensors import safe_open

from studio.core.jobs.errors import StudioError
from studio.core.train.train_specs import TrainStep, ValidationLoss
from tests.training.conftest import generated


@pytest.fixture()
def flow(tiny_flow):
    return tiny_flow


@pytest.mark.parametrize("family", ["sd3", "flux"])
def test_a_flow_transformer_learns_and_its_lora_loads_back(family, flow, train_spec, tmp_path):
    import torch
    from diffusers import DiffusionPipeline

    from studio.engine.lora_train import Trainer

    spec = train_spec(base=str(flow[family]), steps=4, lr_unet=5e-2, validation_split=0.25, validate_every=2,
                      algo="dora" if family == "flux" else "lora")  # fmt: skip
    events = []
    trainer = Trainer(spec, events.append)
    done = trainer.train()
    losses = [e.loss for e in events if isinstance(e, TrainStep)]
    checks = [e for e in events if isinstance(e, ValidationLoss)]
    assert len(losses) == 4 and all(np.isfinite(losses)) and [c.step for c in checks] == [2, 4]
    with safe_open(done.path, "pt") as f:
        keys, meta = list(f.keys()), f.metadata()
    assert keys and all(k.startswith("transformer.") for k in keys) and meta["studio_base_family"] == family
    assert any("lora_magnitude_vector" in k for k in keys) == (family == "flux")
    fresh = DiffusionPipeline.from_pretrained(str(flow[family]))
    fresh.load_lora_weights(done.path)  # diffusers' own loader reads the file as it is
    g = torch.Generator().manual_seed(0)
    x0 = torch.randn(1, 4, 8, 8, generator=g)
    objective = trainer.flow
    trainer.denoiser.eval()
    with torch.no_grad():
        trained = objective.loss(x0, ["a photo of sks disc"], torch.Generator().manual_seed(1), sigmas=[0.5])
        objective.pipe = fresh  # the same measurement through the freshly loaded pipeline
        fresh_loss = objective.loss(
            x0, ["a photo of sks disc"], torch.Generator().manual_seed(1), sigmas=[0.5]
        )
    assert float(trained) == pytest.approx(float(fresh_loss), rel=1e-4)
    home = tmp_path / "home"
    base = generated(flow[family], home)
    tuned = generated(flow[family], home, "--lora", f"{done.path}:1")
    assert np.abs(tuned - base).mean() > 0.5  # studio generate applies it


def test_what_the_flow_families_do_not_train_is_said(flow, train_spec):
    from studio.engine.lora_train import Trainer

    for kw, words in (({"algo": "lokr"}, "LoKr adapters are for SD 1.x"),
                      ({"train_text_encoder": True}, "trains the transformer alone")):  # fmt: skip
        with pytest.raises(StudioError, match=words):
            Trainer(train_spec(base=str(flow["flux"]), **kw), lambda e: None).train()


def test_a_full_size_flux_is_refused_with_the_numbers_on_this_machine(train_spec):
    from dataclasses import replace

    from studio.core.train.train_plan import memory_needed

    spec = replace(train_spec(), resolution=1024, rank=16)
    needed, refusal = memory_needed(spec, "flux", "cpu", free=22 << 30)
    assert refusal and f"{needed / (1 << 30):.1f} GB" in refusal and "22.0 GB is free" in refusal
    needed, refusal = memory_needed(spec, "flux", "cuda", free=80 << 30)
    assert refusal and "gradient checkpointing" in refusal  # what to change is said
    needed, refusal = memory_needed(replace(spec, gradient_checkpointing=True), "flux", "cuda", free=80 << 30)
    assert refusal is None and needed < 80 << 30  # an 80 GB card trains it so (bf16 weights)
