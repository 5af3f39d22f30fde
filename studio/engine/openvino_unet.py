"""A UNet that runs through OpenVINO on the CPU, in the place of diffusers' own: the pipeline around it (prompt
encoding, every sampler, image-to-image, inpainting, callbacks, the VAE) stays diffusers', so every sampler and every
step callback (live previews, the filmstrip, prompt editing) works as with torch. The network itself is the one
``openvino.convert_model`` made of the model's UNet (``openvino_cache``), compiled for each static shape a job uses
(batch, latent size), at bf16 where the CPU has bf16 instructions and f32 elsewhere."""

from __future__ import annotations

import shutil
from collections import OrderedDict
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import torch
from diffusers import ConfigMixin, ModelMixin
from diffusers.models.unets.unet_2d_condition import UNet2DConditionOutput

from studio.core.jobs.errors import ErrorKind, StudioError
from studio.engine.mapped_pages import released

# shapes kept compiled at once (a hires fix uses two); each holds its own copy of the weights
KEEP_COMPILED = 2
NEEDS_TORCH = (
    "down_block_additional_residuals",  # ControlNet
    "mid_block_additional_residual",
    "down_intrablock_additional_residuals",  # T2I-Adapter
    "cross_attention_kwargs",  # attention processors' arguments (IP-Adapter scales, LoRA scales)
)


def openvino_version() -> str:
    import openvino

    return openvino.__version__.split("-")[0]


def input_names(config: dict[str, Any]) -> tuple[str, ...]:
    """The converted UNet's inputs, in order: SDXL adds its pooled text and size conditioning, an LCM-distilled
    UNet its guidance embedding."""
    names = ["sample", "timestep", "encoder_hidden_states"]
    if config.get("addition_embed_type") == "text_time":
        names += ["text_embeds", "time_ids"]
    if config.get("time_cond_proj_dim"):
        names.append("timestep_cond")
    return tuple(names)


def inference_hint(bf16: bool) -> str:
    """OpenVINO's inference precision: bf16 where the CPU computes it natively, else f32 (the torch fp32 path's
    arithmetic)."""
    return "bf16" if bf16 else "f32"


def compiled_kind() -> str:
    """What a compiled network depends on besides its shape and precision: the instructions OpenVINO may use (held
    back by ``ONEDNN_MAX_CPU_ISA`` when a lesser CPU is measured on a better one)."""
    import os

    from studio.engine.precision import cpu_caps

    held = os.environ.get("ONEDNN_MAX_CPU_ISA", "").lower()
    return "".join(c for c in f"{cpu_caps().kind}-{held}" if c.isalnum() or c in "-_").strip("-")


class OpenVinoUNet(ModelMixin, ConfigMixin):
    """Looks like a ``UNet2DConditionModel`` to diffusers' pipelines (its config, dtype, device, SDXL's
    ``add_embedding`` width) and runs the converted network. Inputs come in as the pipeline's float32 tensors and the
    prediction goes back as one."""

    def __init__(self, config: dict[str, Any], xml: Path, hint: str, threads: int) -> None:
        super().__init__()
        self.register_to_config(**config)
        self.register_buffer("_anchor", torch.zeros(1), persistent=False)  # dtype float32, device cpu
        self.xml = Path(xml)
        self.hint = hint
        self.threads = threads
        self._names = input_names(config)
        self._compiled: OrderedDict[tuple, Any] = OrderedDict()
        self.recorder: list[dict[str, Any]] | None = None  # while int8 is calibrated: each call's inputs
        if config.get("addition_embed_type") == "text_time":  # SDXL's pipelines read its input width
            width = config.get("projection_class_embeddings_input_dim")
            self.add_embedding = SimpleNamespace(linear_1=SimpleNamespace(in_features=width))

    def _apply(self, fn: Any, recurse: bool = True) -> OpenVinoUNet:  # noqa: ARG002 - .to(dtype) keeps float32
        return self

    def request_for(self, shapes: dict[str, tuple[int, ...]]) -> Any:
        """An infer request of the network compiled for these static shapes (cached; the oldest one dropped)."""
        key = tuple(sorted(shapes.items()))
        if key in self._compiled:
            self._compiled.move_to_end(key)
            return self._compiled[key]
        import openvino as ov

        while len(self._compiled) >= KEEP_COMPILED:
            self._compiled.popitem(last=False)
        config = {
            "INFERENCE_PRECISION_HINT": self.hint,
            "PERFORMANCE_HINT": "LATENCY",
            "INFERENCE_NUM_THREADS": self.threads,
        }
        core = ov.Core()
        try:  # read for each shape, not kept: its weights are mapped from the cache file
            model = core.read_model(str(self.xml))
        except RuntimeError as e:  # the files match their manifest, but OpenVINO cannot read them
            shutil.rmtree(self.xml.parent, ignore_errors=True)
            raise StudioError(ErrorKind.MODEL_INVALID, "The model's OpenVINO cache could not be read, so it was "
                              "removed; run the job again to convert the model anew.", str(e),
                              field="cpu_engine") from e  # fmt: skip
        try:
            model.reshape({name: ov.PartialShape(list(shape)) for name, shape in shapes.items()})
            with released(self.xml.with_suffix(".bin")):  # the weights once in memory, not twice
                request = self._compile(core, model, config).create_infer_request()
        except RuntimeError as e:
            raise StudioError(ErrorKind.MODEL_INVALID, "OpenVINO could not compile this model for this size on this "
                              "CPU; set the CPU engine to torch (or to openvino, if int8 was chosen).",
                              str(e), field="cpu_engine") from e  # fmt: skip
        del model
        self._compiled[key] = request
        return request

    def _compile(self, core: Any, model: Any, config: dict[str, Any]) -> Any:
        """The network compiled for the CPU, through OpenVINO's cache of compiled networks kept in the variant's
        folder without weights (a few MB a shape: the weights are read from the variant's own file): a later
        process compiles the same shape in 2.2 s instead of 3.7 s (an SD 1.5-size UNet, 2 cores). A cache entry
        OpenVINO cannot use is compiled anew; a cache it cannot write is done without."""
        cached = {
            "CACHE_DIR": str(self.xml.parent / f"compiled-{compiled_kind()}"),
            "CACHE_MODE": "OPTIMIZE_SIZE",
            "WEIGHTS_PATH": str(self.xml.with_suffix(".bin")),
        }
        try:
            return core.compile_model(model, "CPU", {**config, **cached})
        except RuntimeError:
            return core.compile_model(model, "CPU", config)

    def forget_compiled(self) -> None:
        """Drop the compiled networks (and their copies of the weights); the next call compiles again."""
        self._compiled.clear()

    def release_memory(self) -> None:
        """Let go of the compiled networks' working buffers (OpenVINO keeps them between calls; torch frees its
        activations after each step): called before the VAE decodes, so the two never hold memory at once."""
        for request in self._compiled.values():
            request.get_compiled_model().release_memory()

    def inputs_of(
        self,
        sample: torch.Tensor,
        timestep: Any,
        encoder_hidden_states: torch.Tensor,
        timestep_cond: torch.Tensor | None,
        added_cond_kwargs: dict[str, torch.Tensor] | None,
    ) -> dict[str, Any]:
        batch = sample.shape[0]
        t = torch.as_tensor(timestep, dtype=torch.float32).reshape(-1)
        values: dict[str, Any] = {
            "sample": sample,
            "timestep": t.expand(batch) if t.numel() == 1 else t,
            "encoder_hidden_states": encoder_hidden_states,
        }
        if "text_embeds" in self._names:
            added = added_cond_kwargs or {}
            values.update(text_embeds=added["text_embeds"], time_ids=added["time_ids"])
        if "timestep_cond" in self._names:
            values["timestep_cond"] = timestep_cond
        return {k: values[k].detach().to(torch.float32).contiguous().numpy() for k in self._names}

    def forward(
        self,
        sample: torch.Tensor,
        timestep: Any,
        encoder_hidden_states: torch.Tensor,
        timestep_cond: torch.Tensor | None = None,
        added_cond_kwargs: dict[str, torch.Tensor] | None = None,
        return_dict: bool = True,
        **extra: Any,
    ) -> Any:
        used = [k for k in NEEDS_TORCH if extra.get(k)]
        if used:
            raise RuntimeError(f"The OpenVINO UNet cannot take {used[0]}; this job needs the torch engine.")
        inputs = self.inputs_of(sample, timestep, encoder_hidden_states, timestep_cond, added_cond_kwargs)
        if self.recorder is not None:
            self.recorder.append({k: v.copy() for k, v in inputs.items()})
        request = self.request_for({k: tuple(v.shape) for k, v in inputs.items()})
        out = torch.from_numpy(request.infer(inputs, share_inputs=True)[0].copy()).to(sample.dtype)
        return UNet2DConditionOutput(sample=out) if return_dict else (out,)
