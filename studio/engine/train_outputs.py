"""What a training run shows and leaves: sample strips while it learns, the A/B grids at its end (base model beside
the LoRA, same seeds) and the adapter file, in the layout each kind is read in — diffusers' for LoRA and DoRA (with
a kohya copy on request), LyCORIS' for LoHa and LoKr."""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PIL import Image

from studio.core.io.atomic import atomic_write
from studio.core.train.dataset import png_writer
from studio.core.train.train_specs import checkpoints
from studio.engine.adapter_kinds import LYCORIS_ALGOS, lycoris_metadata, to_lycoris
from studio.engine.lora_metadata import lora_metadata
from studio.engine.sample_grids import grid, labelled_grid

if TYPE_CHECKING:
    from studio.engine.lora_train import Trainer


class RunOutputs:
    """Samples, grids and the exported adapter of one run (its trainer holds the pipeline and the weights)."""

    def __init__(self, trainer: Trainer):
        self.t = trainer
        self.sample_seconds: list[
            float
        ] = []  # per denoising step of one picture: what the estimate learns from

    def render(
        self, prompts: tuple[str, ...], seeds: tuple[int, ...], lora: bool = True
    ) -> list[Image.Image]:
        import torch

        spec, pipe = self.t.spec, self.t.pipe
        unet = self.t.denoiser
        rng = torch.get_rng_state()
        unet.eval()
        if not lora:
            unet.disable_adapters()
        began = time.perf_counter()
        try:
            out, size = [], spec.resolution
            with torch.no_grad():
                for (
                    prompt
                ) in prompts:  # a prompt's seeds in one batch: each its own noise, about twice as fast
                    out += pipe([prompt] * len(seeds), num_inference_steps=spec.sample_steps, width=size,
                                height=size, generator=[torch.Generator("cpu").manual_seed(s) for s in seeds]).images  # fmt: skip
            pictures = len(prompts) * len(seeds)
            self.sample_seconds.append((time.perf_counter() - began) / max(1, pictures * spec.sample_steps))
            return out
        finally:
            if not lora:
                unet.enable_adapters()
            unet.train()
            torch.set_rng_state(rng)

    def save_samples(self, step: int) -> Path:
        with self.t.averaged():
            images = self.render(self.t.spec.prompts(), self.t.spec.sample_seeds)
        path = self.t.run / "samples" / f"step-{step:06d}.png"
        path.parent.mkdir(exist_ok=True)
        atomic_write(path, png_writer(grid(images, cols=len(images))))
        return path

    def ab_grids(self) -> list[str]:
        """The base model beside the LoRA on the same seeds: for the final LoRA (``grids=last``), and for every kept
        checkpoint as well (``all``)."""
        from studio.engine import train_checkpoint

        spec = self.t.spec
        if spec.grids == "none":
            return []
        paths = []
        base = self.render(spec.prompts(), spec.sample_seeds, lora=False)
        with self.t.averaged():
            final = self.t.lora_state()
        kept = checkpoints(self.t.run) if spec.grids == "all" else checkpoints(self.t.run)[-1:]
        for ck in kept:
            self.t.load_weights(train_checkpoint.load_lora(ck))
            tuned = self.render(spec.prompts(), spec.sample_seeds)
            img = labelled_grid(
                [("Base model", base), (f"With the LoRA, {ck.name.replace('-', ' ')}", tuned)]
            )
            path = self.t.run / f"ab-{ck.name}.png"
            atomic_write(path, png_writer(img))
            paths.append(str(path))
        self.t.set_lora_state(final)
        return paths

    def export(self, out: Path, state: dict[str, Any] | None = None) -> tuple[Path, Path | None]:
        """The adapter file (and the kohya copy of a LoRA or DoRA when asked)."""
        from safetensors.torch import save

        t, spec = self.t, self.t.spec
        state = state or t.lora_state()
        meta = {**lora_metadata(spec, t.family, len(t.examples), t.par.world if t.par is not None else None),
                **lycoris_metadata(spec.algo)}  # fmt: skip
        out.parent.mkdir(parents=True, exist_ok=True)
        if spec.algo in LYCORIS_ALGOS:
            tensors = to_lycoris(state, spec.algo, spec.rank, spec.alpha)
            atomic_write(out, lambda f: f.write(save(tensors, metadata=meta)))
            return out, None
        tensors = diffusers_tensors(state, peft_names=spec.algo == "dora" or t.flow is not None)
        atomic_write(out, lambda f: f.write(save(tensors, metadata=meta)))
        if (
            not spec.kohya_export or t.flow is not None
        ):  # ComfyUI reads the diffusers names of SD 3/FLUX LoRAs
            return out, None
        kohya = out.with_name(out.stem + "-kohya.safetensors")
        ks = kohya_tensors(state, spec.alpha, t.xl)
        atomic_write(kohya, lambda f: f.write(save(ks, metadata=meta)))
        return out, kohya


def diffusers_tensors(state: dict[str, dict[str, Any]], peft_names: bool) -> dict[str, Any]:
    """An adapter as diffusers' ``load_lora_weights`` reads it: a UNet LoRA in diffusers' names; a DoRA (its
    magnitudes included) and SD 3.x/FLUX adapters in peft's, which its loaders read as they are."""
    from diffusers.utils import convert_state_dict_to_diffusers

    if peft_names:
        return {f"{part}.{k}": v.contiguous() for part, sd in state.items() for k, v in sd.items()}
    return {f"{part}.{k}": v.contiguous() for part, sd in state.items()
            for k, v in convert_state_dict_to_diffusers(sd).items()}  # fmt: skip


_KOHYA_NAMES = {
    "lora_A.weight": "lora_down.weight",
    "lora_B.weight": "lora_up.weight",
    "lora_magnitude_vector": "dora_scale",
}


def kohya_tensors(state: dict[str, dict[str, Any]], alpha: float, xl: bool) -> dict[str, Any]:
    """The names kohya's sd-scripts write and AUTOMATIC1111, Forge and ComfyUI read (``lora_unet_<module>.lora_down
    .weight``, ``.lora_up.weight``, ``.alpha``; a DoRA's magnitudes as ``.dora_scale``, one per output row, the
    shape LyCORIS writes)."""
    import torch

    prefixes = {
        "unet": "lora_unet_",
        "text_encoder": "lora_te1_" if xl else "lora_te_",
        "text_encoder_2": "lora_te2_",
    }
    out = {}
    for part, sd in state.items():
        for key, value in sd.items():
            suffix = next((s for s in _KOHYA_NAMES if key.endswith("." + s)), None)
            if suffix is None:
                continue
            module = prefixes[part] + key[: -len(suffix) - 1].replace(".", "_")
            v = value[:, None] if suffix == "lora_magnitude_vector" else value
            out[f"{module}.{_KOHYA_NAMES[suffix]}"] = v.contiguous()
            out[f"{module}.alpha"] = torch.tensor(float(alpha))
    return out
