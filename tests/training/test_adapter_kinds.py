"""DoRA, LoHa and LoKr: trained on a tiny SD model, written in the layouts other tools read, and loaded back by
``studio generate --lora`` to the same pictures the trainer drew; other tools' LyCORIS files read as they compute."""

from __future__ import annotations

import json

import numpy as np
import pytest
from safetensors import safe_open

from tests.cli.helpers import studio_here
from tests.training.conftest import generated


@pytest.fixture(scope="module")
def base_picture(tiny_sd, tmp_path_factory):
    return generated(tiny_sd, tmp_path_factory.mktemp("home"))


@pytest.mark.parametrize("algo", ["dora", "lokr", "loha"])
def test_each_kind_trains_and_studio_generate_loads_it(algo, train_spec, tiny_sd, base_picture, tmp_path):
    from studio.engine.lora_train import Trainer

    spec = train_spec(algo=algo, steps=4, lr_unet=3e-2, train_text_encoder=algo == "loha", kohya_export=True)
    trainer = Trainer(spec, lambda e: None)
    done = trainer.train()
    with safe_open(done.path, "pt") as f:
        keys, meta = list(f.keys()), f.metadata()
    if algo == "dora":  # diffusers' names with the magnitudes; the kohya copy says dora_scale, one per row
        assert any(k.endswith("lora_magnitude_vector") for k in keys)
        with safe_open(done.kohya_path, "pt") as f:
            names = f.keys()  # safe_open is no mapping: it cannot be iterated
            scales = [f.get_tensor(k) for k in names if k.endswith(".dora_scale")]
        assert scales and all(s.dim() == 2 and s.shape[1] == 1 for s in scales)
    else:  # LyCORIS' own layout, as A1111, Forge and ComfyUI read it
        marks = {"lokr": ".lokr_w", "loha": ".hada_w1_a"}[algo]
        assert all(k.startswith(("lora_unet_", "lora_te_")) for k in keys) and any(marks in k for k in keys)
        assert any(k.startswith("lora_te_") for k in keys) == (algo == "loha")
        assert (
            meta["ss_network_module"] == "lycoris.kohya"
            and json.loads(meta["ss_network_args"])["algo"] == algo
        )
        assert not done.kohya_path  # the file is already in the names other tools read
    tuned = generated(tiny_sd, tmp_path / "home", "--lora", f"{done.path}:1")
    assert np.abs(tuned - base_picture).mean() > 1.0  # the adapter changes the picture
    assert (
        np.abs(unet_out(trainer.pipe, None) - unet_out(fresh(tiny_sd), done.path)).max() < 1e-4
    )  # as trained


def fresh(tiny_sd):
    from diffusers import StableDiffusionPipeline

    return StableDiffusionPipeline.from_pretrained(
        str(tiny_sd), safety_checker=None, requires_safety_checker=False
    )


def unet_out(pipe, adapter):
    """The UNet's prediction for a fixed input, with ``adapter`` loaded as Studio loads it (None: as it is)."""
    from pathlib import Path

    import torch

    from studio.engine.adapter_kinds import apply_lycoris, is_lycoris

    if adapter is not None:
        if is_lycoris(Path(adapter)):
            apply_lycoris(Path(adapter), pipe, "it")
        else:
            pipe.load_lora_weights(str(adapter), adapter_name="it")
        pipe.set_adapters(["it"], adapter_weights=[1.0])
    g = torch.Generator().manual_seed(0)
    cfg = pipe.unet.config
    x = torch.randn(1, cfg.in_channels, 8, 8, generator=g)
    ids = pipe.tokenizer(["a photo of sks disc"], padding="max_length", max_length=pipe.tokenizer.model_max_length,
                         return_tensors="pt").input_ids  # fmt: skip
    pipe.unet.eval()
    with torch.no_grad():
        states = pipe.text_encoder(ids)[0]
        return pipe.unet(x, torch.tensor([500]), states).sample.numpy()


def _delta_loha(t, alpha):
    w1, w2 = t["hada_w1_a"] @ t["hada_w1_b"], t["hada_w2_a"] @ t["hada_w2_b"]
    return w1 * w2 * (alpha / t["hada_w1_b"].shape[0])


def _delta_lokr(t, alpha):
    import torch

    w1 = t["lokr_w1"]
    w2 = t["lokr_w2_a"] @ t["lokr_w2_b"]
    return torch.kron(w1, w2) * (alpha / t["lokr_w2_b"].shape[0])


@pytest.mark.parametrize("kind", ["loha", "lokr"])
def test_another_tools_lycoris_file_changes_each_layer_as_lycoris_computes(kind, tiny_sd, tmp_path):
    """A file written the way LyCORIS writes (a few layers, their own rank and alpha, a decomposed LoKr factor):
    Studio's layers add exactly ΔW = (w1a·w1b)⊙(w2a·w2b)·α/r (LoHa) or w1 ⊗ (w2a·w2b)·α/r (LoKr)."""
    import torch
    from diffusers import StableDiffusionPipeline
    from safetensors.torch import save_file

    from studio.engine.adapter_kinds import apply_lycoris

    pipe = StableDiffusionPipeline.from_pretrained(
        str(tiny_sd), safety_checker=None, requires_safety_checker=False
    )
    names = [n for n, m in pipe.unet.named_modules() if n.endswith("attn1.to_q")][:2]
    g = torch.Generator().manual_seed(0)
    tensors, expected = {}, {}
    for k, name in enumerate(names):
        weight = pipe.unet.get_submodule(name).weight
        out_dim, in_dim = weight.shape
        rank, alpha = 2 + k, 1.0 + k
        if kind == "loha":
            t = {"hada_w1_a": torch.randn(out_dim, rank, generator=g), "hada_w1_b": torch.randn(rank, in_dim, generator=g),
                 "hada_w2_a": torch.randn(out_dim, rank, generator=g), "hada_w2_b": torch.randn(rank, in_dim, generator=g)}  # fmt: skip
            expected[name] = weight.detach() + _delta_loha(t, alpha) * 0.01
        else:
            from peft.tuners.lokr.layer import factorization

            (a, b), (c, d) = factorization(out_dim), factorization(in_dim)
            t = {"lokr_w1": torch.randn(a, c, generator=g), "lokr_w2_a": torch.randn(b, rank, generator=g),
                 "lokr_w2_b": torch.randn(rank, d, generator=g)}  # fmt: skip
            expected[name] = weight.detach() + _delta_lokr(t, alpha) * 0.01
        base = "lora_unet_" + name.replace(".", "_")
        tensors.update(
            {f"{base}.{n}": v * (0.01 if n in ("hada_w1_a", "lokr_w1") else 1) for n, v in t.items()}
        )
        tensors[f"{base}.alpha"] = torch.tensor(alpha)
    path = tmp_path / f"theirs-{kind}.safetensors"
    save_file(tensors, str(path))
    assert apply_lycoris(path, pipe, "theirs") == kind
    pipe.set_adapters(["theirs"], adapter_weights=[1.0])
    for name in names:
        layer = pipe.unet.get_submodule(name)
        x = torch.randn(3, layer.in_features, generator=g)
        with torch.no_grad():
            got = layer(x)
        assert torch.allclose(got, x @ expected[name].T + layer.base_layer.bias if layer.base_layer.bias is not None
                              else x @ expected[name].T, atol=1e-4)  # fmt: skip


def test_a_lycoris_file_for_another_model_is_refused_with_a_reason(tiny_sd, tmp_path):
    import torch
    from safetensors.torch import save_file

    path = tmp_path / "other.safetensors"
    save_file({"lora_unet_no_such_layer.hada_w1_a": torch.ones(4, 2), "lora_unet_no_such_layer.hada_w1_b": torch.ones(2, 4),
               "lora_unet_no_such_layer.hada_w2_a": torch.ones(4, 2), "lora_unet_no_such_layer.hada_w2_b": torch.ones(2, 4)},
              str(path))  # fmt: skip
    done = studio_here("generate", "a disc", "--model", str(tiny_sd), "--steps", "2", "--width", "64", "--height",
                       "64", "--lora", f"{path}:1", home=tmp_path / "home")  # fmt: skip
    err = done.stderr
    assert done.returncode != 0 and "other.safetensors" in err and "match" in err and "Traceback" not in err
