"""What the denoising loop needs besides the pipeline: each image's prompts as the steps see them (A1111's prompt
editing, dynamic prompts' runs), the starting noise (variations), each step's predicted picture (the filmstrip),
and the flow-matching families' own rules (SD 3.x, FLUX.1)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from studio.core.image.prompt_schedule import schedule, text_at
from studio.core.image.specs import GenerateSpec
from studio.core.jobs.errors import ErrorKind, StudioError
from studio.core.jobs.events import Event, Note
from studio.engine.pipelines import LoadedModel

if TYPE_CHECKING:
    from collections.abc import Callable

    from studio.engine.image import PromptCache

    Emit = Callable[[Event], None]


def check_flow(spec: GenerateSpec, family: str) -> None:
    """What SD 3.x and FLUX.1 do not take in Studio, said beside its field before any step runs."""
    from studio.core.image.recipe import LATENT
    from studio.core.models.model_identify import FAMILY_LABELS

    label = FAMILY_LABELS.get(family, family)
    if spec.sampler != "Euler":
        raise StudioError(ErrorKind.INVALID_INPUT, f"{label} samples with its own flow-matching Euler sampler; "
                          "choose Euler.", field="sampler")  # fmt: skip
    if spec.embeddings:
        raise StudioError(ErrorKind.INVALID_INPUT, f"Textual-inversion embeddings are for SD 1.x/2.x and SDXL; "
                          f"{label} cannot use {spec.embeddings[0].name}.", field="prompt")  # fmt: skip
    if spec.hires and spec.hires_upscaler == LATENT:
        raise StudioError(ErrorKind.INVALID_INPUT, f"{label}'s latents are not upscaled directly: choose Lanczos "
                          "or an upscaler model for the hires fix.", field="hires_upscaler")  # fmt: skip
    if spec.fast_decode:
        raise StudioError(ErrorKind.INVALID_INPUT, f"Fast decode (TAESD) is for SD 1.x/2.x and SDXL; turn it off "
                          f"for {label}.", field="fast_decode")  # fmt: skip
    if spec.regions:
        raise StudioError(ErrorKind.INVALID_INPUT, f"Regional prompts work with SD 1.x, SD 2.x and SDXL models; "
                          f"this one is {label}.", field="regions")  # fmt: skip


def flow_prompt(
    model: LoadedModel, spec: GenerateSpec, prompt: str, negative: str, emit: Emit
) -> dict[str, Any]:
    """SD 3.x and FLUX.1 read the prompt as text (T5 and CLIP): A1111's weights are taken out, with a note. FLUX.1
    is guidance-distilled: the CFG scale is its guidance, and it has no negative prompt."""
    from studio.core.image.prompts import extract_loras, parse_weights

    def plain(text: str) -> str:
        pieces = parse_weights(extract_loras(text)[0])
        return " ".join(p.text.strip() for p in pieces if p.text.strip() and p.text.strip() != "BREAK")

    if schedule(prompt, spec.steps)[1:] or schedule(negative, spec.steps)[1:]:
        emit(
            Note(
                text="This model does not edit the prompt during its steps: the text of the last step is used."
            )
        )
    prompt = text_at(schedule(prompt, spec.steps), spec.steps)
    negative = text_at(schedule(negative, spec.steps), spec.steps)
    if any(p.weight != 1.0 for p in parse_weights(extract_loras(prompt)[0])):
        emit(Note(text="This model reads the prompt as plain text: the (word:1.2) weights were left out."))
    call: dict[str, Any] = {"prompt": plain(prompt)}
    if model.family == "sd3":
        call["negative_prompt"] = plain(negative)
    elif negative.strip():
        emit(Note(text="FLUX.1 has no negative prompt (its guidance is distilled); it was not used."))
    return call


def capture_x0(scheduler: Any, state: dict[str, Any]) -> None:
    """Have ``scheduler`` leave each step's prediction of the final latents (x0) in ``state["x0"]`` (first image):
    the scheduler's own (``pred_original_sample``, DPM-Solver++/UniPC's data prediction), else worked out from the
    step's sigma (Euler-type samplers, flow matching), else the step's result."""
    original = scheduler.step

    def step(model_output: Any, timestep: Any, sample: Any, *args: Any, **kwargs: Any) -> Any:
        sigmas, index = getattr(scheduler, "sigmas", None), getattr(scheduler, "step_index", None)
        sigma = sigmas[index] if sigmas is not None and index is not None and index < len(sigmas) else None
        out = original(model_output, timestep, sample, *args, **kwargs)
        x0 = out[1] if isinstance(out, tuple) and len(out) > 1 else getattr(out, "pred_original_sample", None)
        outputs = getattr(scheduler, "model_outputs", None)
        if (
            x0 is None
            and outputs
            and outputs[-1] is not None
            and "++" in str(scheduler.config.get("algorithm_type", "++"))
        ):
            x0 = outputs[-1]
        if x0 is None and sigma is not None:
            x0 = sample - sigma.to(sample.device, sample.dtype) * model_output
        if x0 is None:
            x0 = out[0] if isinstance(out, tuple) else out.prev_sample
        state["x0"] = x0[:1].detach().clone()
        return out

    scheduler.step = step


def slerp(t: float, low: Any, high: Any) -> Any:
    """Spherical interpolation between two noises (AUTOMATIC1111's variations): ``t`` = 0 is ``low`` exactly."""
    import torch

    if t <= 0:
        return low
    a, b = low.flatten().double(), high.flatten().double()
    dot = torch.clamp((a / a.norm()) @ (b / b.norm()), -1.0, 1.0)
    if dot > 0.9995:
        mixed = (1 - t) * a + t * b
    else:
        omega = torch.acos(dot)
        mixed = (torch.sin((1 - t) * omega) * a + torch.sin(t * omega) * b) / torch.sin(omega)
    return mixed.reshape(low.shape).to(low.dtype)


def variation_noise(pipe: Any, spec: GenerateSpec, first: int, seeds: list[int], dtype: Any) -> Any:
    """The starting noise of each image: drawn from its seed on the CPU exactly as diffusers draws it, blended
    with its variation seed's noise by the variation strength."""
    import torch

    factor = pipe.vae_scale_factor
    shape = (1, pipe.unet.config.in_channels, spec.height // factor, spec.width // factor)
    out = []
    for i, seed in enumerate(seeds):
        base = torch.randn(shape, generator=torch.Generator("cpu").manual_seed(seed), dtype=dtype)
        other = torch.randn(shape, generator=torch.Generator("cpu").manual_seed(spec.variation_seed_for(first + i)),
                            dtype=dtype)  # fmt: skip
        out.append(slerp(spec.variation_strength, base, other))
    return torch.cat(out).to(pipe._execution_device)


def job_runs(spec: GenerateSpec) -> list[tuple[int, int]]:
    """(first image, images) of each pipeline call: the batches, or one image a call when the images have prompts
    of their own (dynamic prompts: their encodings may differ in length)."""
    if spec.prompts or spec.negatives:
        return [(i, 1) for i in range(spec.image_count)]
    return [(b * spec.batch_size, spec.batch_size) for b in range(spec.batch_count)]


def prompt_warnings(spec: GenerateSpec, family: str) -> list[str]:
    """What the prompts' syntax read differently from how it looks (an unclosed bracket), and what the model's
    family leaves out, said once a job."""
    from studio.core.image.dynamic_prompts import template_warnings
    from studio.core.image.prompt_schedule import schedule_warnings

    out = []
    for label, text in (("Prompt", spec.prompt), ("Negative prompt", spec.negative_prompt)):
        out += [f"{label}: {w}" for w in (*template_warnings(text), *schedule_warnings(text))]
    if spec.prompt_2.strip() and family != "sdxl":
        out.append(f"{family.upper()} has one text encoder: the second prompt was not used.")
    if spec.regions and spec.refiner:
        out.append("The refiner finishes the whole picture with the prompt alone: the regions shape the base "
                   "model's steps.")  # fmt: skip
    return out


class PromptPlan:
    """A run's prompt and negative as the steps see them: AUTOMATIC1111's prompt editing (``[from:to:when]``,
    ``[a|b]``) switches the text encodings between steps; each distinct text is encoded once (the cache)."""

    def __init__(
        self,
        cache: PromptCache,
        model: LoadedModel,
        pipe: Any,
        spec: GenerateSpec,
        prompt: str,
        negative: str,
    ):
        self._cache, self._model, self._pipe, self._spec = cache, model, pipe, spec
        self.prompt, self.negative = prompt, negative
        self.scheduled = bool(schedule(prompt, 100)[1:] or schedule(negative, 100)[1:])
        self.tensors = (
            ("prompt_embeds", "add_text_embeds") if hasattr(pipe, "text_encoder_2") else ("prompt_embeds",)
        )
        self._total = spec.steps
        self._current: tuple[str, str] | None = None

    @property
    def spec(self) -> GenerateSpec:
        return self._spec

    def texts(self, step: int, total: int) -> tuple[str, str]:
        return (text_at(schedule(self.prompt, total), step), text_at(schedule(self.negative, total), step))

    def kwargs(self, total: int) -> dict[str, Any]:
        """The encodings of a pass's first step (a pass of ``total`` steps)."""
        self._total = max(1, total)
        self._current = self.texts(1, self._total)
        return self._cache.encoded(self._model, self._pipe, self._spec, *self._current)

    def encoded_beside(self, prompt: str) -> dict[str, Any]:
        """Another prompt's encodings with this run's negative prompt (a region's: SDXL's second encoder reads
        it too, not the job's second prompt)."""
        negative = (self._current or self.texts(1, self._total))[1]
        return self._cache.encoded(self._model, self._pipe, self._spec.replace(prompt_2=""), prompt, negative)

    def switch(self, pipe: Any, step: int, kw: dict[str, Any]) -> None:
        """Before step ``step`` (from 1): put that step's encodings into the pipeline's running tensors."""
        import torch

        if step > self._total:
            return
        texts = self.texts(step, self._total)
        if texts == self._current or "prompt_embeds" not in kw:
            return
        self._current = texts
        enc = self._cache.encoded(self._model, self._pipe, self._spec, *texts)
        current = kw["prompt_embeds"]
        guided = bool(getattr(pipe, "do_classifier_free_guidance", False))
        n = current.shape[0] // (2 if guided else 1)

        def batch(t: Any) -> Any:
            return t.to(current.device, current.dtype).repeat(n, *([1] * (t.dim() - 1)))

        pos = batch(enc["prompt_embeds"])
        kw["prompt_embeds"] = torch.cat([batch(enc["negative_prompt_embeds"]), pos]) if guided else pos
        if "add_text_embeds" in kw and "pooled_prompt_embeds" in enc:
            pooled = batch(enc["pooled_prompt_embeds"]).to(kw["add_text_embeds"].dtype)
            kw["add_text_embeds"] = (
                torch.cat([batch(enc["negative_pooled_prompt_embeds"]).to(pooled.dtype), pooled])
                if guided
                else pooled
            )


def unpack(model: LoadedModel, pipe: Any, latents: Any, size: tuple[int, int]) -> Any:
    """FLUX.1 returns its latents packed in 2×2 patches; everything after the pipeline wants them as an image."""
    if model.family != "flux" or latents.dim() != 3:
        return latents
    return pipe._unpack_latents(latents, size[1], size[0], pipe.vae_scale_factor)
