"""LoRA training on SD 1.x / 2.x / SDXL with peft — LoRA, DoRA, LoHa or LoKr: buckets, cached latents, masks,
min-SNR, noise offset, EMA, a held-out validation loss, checkpoints that resume bit-identically (weights, optimizer,
schedule, EMA, random state, data position), NaN rollback; samples, grids and the export are ``train_outputs``'.

Runs wherever it is called; Studio calls it in a subprocess (``train_process``) so that a crash or ``kill -9`` of
the trainer never takes the window with it, and a run always resumes from its last whole checkpoint.
"""

from __future__ import annotations

import json
import math
import threading
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from studio.core.io.atomic import atomic_write
from studio.core.io.words import count
from studio.core.jobs.cancel import CancelToken
from studio.core.jobs.errors import ErrorKind, JobCancelled, StudioError
from studio.core.jobs.events import Note, Progress
from studio.core.train.run_history import CurveLog
from studio.core.train.train_specs import (
    CheckpointSaved,
    SamplesSaved,
    TrainDone,
    TrainSpec,
    TrainStep,
    ValidationLoss,
    checkpoint_interval,
    checkpoints,
    latest_checkpoint,
    validate_train,
    validation_interval,
)
from studio.engine.adapter_kinds import adapter_config
from studio.engine.flow_train import VALIDATION_SIGMAS, FlowObjective
from studio.engine.run_checkpoints import load_run_checkpoint, save_run_checkpoint
from studio.engine.train_base import TEXT_TARGETS, denoiser_part, load_base, targets
from studio.engine.train_examples import (
    Emit,
    Example,
    batch_at,
    batch_masks,
    batches_for_epoch,
    class_examples,
    held_out,
    load_examples,
)
from studio.engine.train_loss import noised, validation_timesteps, weighted_loss
from studio.engine.train_outputs import RunOutputs
from studio.engine.train_parallel import Parallel, launched_rank, parallel_from_env
from studio.engine.weight_average import WeightAverage


def _fail(message: str, field: str | None = None, kind: ErrorKind = ErrorKind.INVALID_INPUT) -> StudioError:
    return StudioError(kind, message, field=field)


class Trainer:
    # the base model, as ``train_base.load_base`` loads it
    pipe: Any
    family: str
    xl: bool
    flow: FlowObjective | None
    denoiser: Any  # the UNet, or SD 3.x / FLUX.1's transformer
    encoders: list[Any]
    tokenizers: list[Any]
    device: str

    def __init__(
        self,
        spec: TrainSpec,
        emit: Emit,
        cancel: CancelToken | None = None,
        checkpoint_now: threading.Event | None = None,
    ):
        if problems := validate_train(spec):
            field, message = next(iter(problems.items()))
            raise _fail(message, field)
        self.spec = spec
        self.emit = emit
        self.cancel = cancel or CancelToken()
        self.checkpoint_now = checkpoint_now or threading.Event()
        self.run = Path(spec.run_dir)
        self.run.mkdir(parents=True, exist_ok=True)
        self.began = time.perf_counter()
        self.estimate = self.setup_seconds = 0.0
        self.step = self.start = 0
        self.stepping = 0.0
        self.outputs = RunOutputs(self)
        self.curve: CurveLog | None = None
        self.last_validation: float | None = None

    # -- set-up --------------------------------------------------------------------------------------------------
    def _setup(self) -> None:
        import torch
        from peft import inject_adapter_in_model

        spec = self.spec
        load_base(self)
        self.par = parallel_from_env(self.device)  # under `accelerate launch`: one of several processes
        self.examples, self.validation = held_out(load_examples(spec), spec.validation_split, spec.seed)
        if spec.epochs:  # epochs asked for: as many steps as that many passes over the pictures take
            per_epoch = len(batches_for_epoch(self.examples, spec.batch_size, spec.seed, 0))
            steps = spec.epochs * per_epoch
            self.spec = spec = replace(
                spec,
                steps=steps,
                sample_every=spec.sample_every and min(spec.sample_every, max(1, steps // 4)),
            )
            epochs = f"{count(spec.epochs, 'epoch')} of {count(per_epoch, 'step')}"
            self.emit(Note(text=f"{epochs}: {spec.steps} steps."))
        self._preflight()
        self.class_examples = class_examples(spec, self.pipe, self.emit, self.cancel, self.par)
        torch.manual_seed(spec.seed)
        self.denoiser.add_adapter(adapter_config(spec.algo, spec.rank, spec.alpha, targets(self)))
        if spec.train_text_encoder:
            for i, te in enumerate(self.encoders):
                config = adapter_config(spec.algo, spec.rank, spec.alpha, TEXT_TARGETS)
                self.encoders[i] = inject_adapter_in_model(config, te)
        if spec.gradient_checkpointing:
            self.denoiser.enable_gradient_checkpointing()
        groups: list[dict[str, Any]] = [
            {"params": [p for p in self.denoiser.parameters() if p.requires_grad], "lr": spec.lr_unet}
        ]
        if spec.train_text_encoder:
            groups.append(
                {
                    "params": [p for te in self.encoders for p in te.parameters() if p.requires_grad],
                    "lr": spec.lr_text or spec.lr_unet,
                }
            )
        self.optimizer = self._optimizer(groups)
        self.params = [p for g in groups for p in g["params"]]
        self.ema = WeightAverage(self.params, spec.ema_decay) if spec.ema else None
        from diffusers.optimization import get_scheduler

        self.schedule = get_scheduler(
            spec.schedule,
            self.optimizer,
            num_warmup_steps=spec.warmup_steps
            if "warmup" in spec.schedule or spec.schedule in ("cosine", "linear")
            else 0,
            num_training_steps=spec.steps,
        )
        self.noise_gen = torch.Generator().manual_seed(
            spec.seed + 1_000_003 * self._rank
        )  # each its own noise
        buckets = count(len({e.bucket for e in self.examples}), "aspect-ratio bucket")
        held = (
            f", {count(len(self.validation), 'picture')} held out for validation" if self.validation else ""
        )
        masked = sum(e.mask is not None for e in self.examples)
        masks = f"; {masked} with a mask (background weight {spec.mask_floor:g})" if masked else ""
        self.emit(Note(text=f"{count(len(self.examples), 'picture')} in {buckets}{held}{masks}"))
        self.latents: list[Any] | None = None
        self.class_latents: list[Any] | None = None
        with torch.no_grad():
            if spec.cache_latents:
                self.latents = [self._encode_image(e.pixels[None]) for e in self.examples]
                self.class_latents = [self._encode_image(e.pixels[None]) for e in self.class_examples]
            self.validation_latents = [self._encode_image(e.pixels[None]) for e in self.validation]
        self.alphas = self._train_alphas()
        self.autocast = self._autocast_dtype()
        self.setup_seconds = time.perf_counter() - self.began

    def _preflight(self) -> None:
        """Refuse, with the reason, a run that cannot fit the device; say what it needs otherwise."""
        from studio.core.io.words import duration
        from studio.core.models.memory_plan import GB
        from studio.core.train.train_plan import estimate_seconds, memory_needed
        from studio.engine.devices import device_memory

        modules = (self.denoiser, self.pipe.vae, *self.encoders)
        params = sum(p.numel() for m in modules for p in m.parameters())
        free = device_memory(self.device)[1]
        if free is not None:
            free += sum(
                p.numel() * p.element_size() for m in modules for p in m.parameters()
            )  # already loaded
        needed, refusal = memory_needed(self.spec, self.family, self.device, free, params=params)
        if refusal:
            raise _fail(refusal, "resolution", ErrorKind.OUT_OF_MEMORY)
        unet_params = sum(p.numel() for p in self.denoiser.parameters())
        pictures = len(self.examples) + len(self.validation)
        seconds, how = estimate_seconds(self.spec, self.family, self.device, unet_params, self.run.parent, pictures,
                                        loaded=time.perf_counter() - self.began)  # fmt: skip
        self.estimate = seconds
        self.emit(
            Note(
                text=f"This run needs about {needed / GB:.1f} GB on {self.device}"
                + (f" ({free / GB:.1f} GB free)" if free else "")
                + f" and about {duration(seconds, rough=True)} ({how})."
            )
        )

    def _optimizer(self, groups: list[dict[str, Any]]) -> Any:
        import torch

        if self.spec.optimizer == "adamw8bit":
            try:
                import bitsandbytes as bnb  # type: ignore[import-not-found]

                return bnb.optim.AdamW8bit(groups, weight_decay=1e-2)
            except ImportError:
                self.emit(Note(text="8-bit AdamW needs bitsandbytes, which is not installed: using AdamW."))
        return torch.optim.AdamW(groups, weight_decay=1e-2)

    def _autocast_dtype(self) -> Any:
        import torch

        mp = self.spec.mixed_precision
        if mp == "auto":
            mp = ("bf16" if torch.cuda.is_bf16_supported() else "fp16") if self.device == "cuda" else "no"
        return {"fp16": torch.float16, "bf16": torch.bfloat16}.get(mp)

    def _train_alphas(self) -> Any:
        sched = self.pipe.scheduler
        self.prediction = sched.config.get("prediction_type", "epsilon")
        if self.flow is not None:  # flow models: noise levels are the flow objective's
            return None
        from diffusers import DDPMScheduler

        return DDPMScheduler.from_config(sched.config).alphas_cumprod

    def _encode_image(self, pixels: Any) -> Any:
        vae = self.pipe.vae
        lat = vae.encode(pixels.to(self.device, vae.dtype)).latent_dist.mean
        shift = (
            getattr(vae.config, "shift_factor", None) or 0.0
        )  # SD 3.x and FLUX.1's VAEs centre their latents
        return ((lat - shift) * vae.config.scaling_factor).cpu()

    # -- one step ----------------------------------------------------------------------------------------------
    def _text(self, captions: list[str]) -> tuple[Any, Any]:
        import torch

        states, pooled = [], None
        for tok, te in zip(self.tokenizers, self.encoders, strict=True):
            ids = tok(
                captions,
                padding="max_length",
                max_length=tok.model_max_length,
                truncation=True,
                return_tensors="pt",
            ).input_ids.to(self.device)
            if self.xl:
                out = te(ids, output_hidden_states=True)
                states.append(out.hidden_states[-2])
                pooled = out[0]
            else:
                states.append(te(ids)[0])
        return torch.cat(states, dim=-1), pooled

    par: Parallel | None = None

    @property
    def _main(self) -> bool:
        """Process 0 (or the only one): it alone writes checkpoints, samples, the status and the result."""
        return self.par is None or self.par.is_main

    @property
    def _rank(self) -> int:
        return self.par.rank if self.par is not None else 0

    def _share(self, step: int) -> int:
        """Which batch of the run's sequence this process takes at ``step``: with N processes, each step takes
        N consecutive batches, one each (an N times larger batch, the same number of steps)."""
        return step * (self.par.world if self.par is not None else 1) + self._rank

    def loss_at(self, step: int) -> Any:
        spec = self.spec
        loss = self._loss(
            self.examples,
            self.latents,
            batch_at(self.examples, spec.batch_size, spec.seed, self._share(step)),
        )
        if self.class_examples and spec.prior_weight > 0:  # prior preservation: the class as it was
            idx = batch_at(self.class_examples, spec.batch_size, spec.seed + 1, self._share(step))
            loss = loss + spec.prior_weight * self._loss(self.class_examples, self.class_latents, idx)
        return loss

    def _loss(self, examples: list[Example], latents: list[Any] | None, idx: list[int]) -> Any:
        import torch

        if latents is not None:
            x0 = torch.cat([latents[i] for i in idx]).to(self.device)
        else:
            with torch.no_grad():
                x0 = self._encode_image(torch.stack([examples[i].pixels for i in idx])).to(self.device)
        if self.flow is not None:
            return self.flow.loss(x0, [examples[i].caption for i in idx], self.noise_gen, batch_masks(examples, idx),
                                  self.spec.mask_floor)  # fmt: skip
        batch = noised(x0, self.alphas, self.noise_gen, self.prediction, self.spec.noise_offset)
        return self._weighted(examples, idx, batch)

    def _weighted(self, examples: list[Example], idx: list[int], batch: Any) -> Any:
        """The UNet's prediction for a noised batch, and its loss (masked, min-SNR weighted)."""
        import torch

        with torch.autocast(self.device, dtype=self.autocast, enabled=self.autocast is not None):
            states, pooled = self._text([examples[i].caption for i in idx])
            kwargs: dict[str, Any] = {}
            if self.xl:
                h, w = examples[idx[0]].bucket[1], examples[idx[0]].bucket[0]
                ids = [[*examples[i].original, 0, 0, h, w] for i in idx]
                kwargs["added_cond_kwargs"] = {
                    "text_embeds": pooled,
                    "time_ids": torch.tensor(ids, dtype=states.dtype, device=self.device),
                }
            pred = self.denoiser(batch.noisy, batch.timesteps.to(self.device), states, **kwargs).sample
        masks = batch_masks(examples, idx)
        return weighted_loss(
            pred, batch, self.prediction, self.spec.min_snr_gamma, masks, self.spec.mask_floor
        )

    def validation_loss(self) -> float:
        """The held-out pictures' loss at fixed noise levels and fixed noise (the same measurement each time), with
        the weights as they are exported (EMA when on)."""
        import torch

        levels = VALIDATION_SIGMAS if self.flow is not None else validation_timesteps(len(self.alphas))
        total = 0.0
        self.denoiser.eval()
        try:
            with torch.no_grad(), self.averaged():
                for k, x0 in enumerate(self.validation_latents):
                    gen = torch.Generator().manual_seed(self.spec.seed * 31 + k)
                    x = x0.repeat(len(levels), 1, 1, 1).to(self.device)
                    if self.flow is not None:
                        total += float(self.flow.loss(x, [self.validation[k].caption] * len(levels), gen,
                                                      sigmas=levels))  # fmt: skip
                        continue
                    batch = noised(x, self.alphas, gen, self.prediction, timesteps=torch.tensor(levels))
                    total += float(self._weighted(self.validation, [k] * len(levels), batch))
        finally:
            self.denoiser.train()
        return total / max(1, len(self.validation_latents))

    def averaged(self) -> Any:
        """The weights as exported, for the duration: the moving average when EMA is on."""
        import contextlib

        return self.ema.swapped() if self.ema is not None else contextlib.nullcontext()

    # -- checkpoints ---------------------------------------------------------------------------------------------
    def lora_state(self) -> dict[str, Any]:
        from peft.utils import get_peft_model_state_dict

        state = {denoiser_part(self): get_peft_model_state_dict(self.denoiser)}
        if self.spec.train_text_encoder:
            for i, te in enumerate(self.encoders):
                state[f"text_encoder{'_2' if i else ''}"] = get_peft_model_state_dict(te)
        return {part: {k: v.detach().cpu().clone() for k, v in sd.items()} for part, sd in state.items()}

    def load_weights(self, state: dict[str, Any]) -> None:
        """A checkpoint's weights as they are exported (its moving average when it has one) into the model."""
        import torch

        self.set_lora_state(state)
        if "ema" in state:
            with torch.no_grad():
                for i, p in enumerate(self.params):
                    if str(i) in state["ema"]:
                        p.copy_(state["ema"][str(i)].to(p.device, p.dtype))

    def set_lora_state(self, state: dict[str, Any]) -> None:
        from peft.utils import set_peft_model_state_dict

        set_peft_model_state_dict(self.denoiser, state[denoiser_part(self)])
        for i, te in enumerate(self.encoders):
            key = f"text_encoder{'_2' if i else ''}"
            if key in state:
                set_peft_model_state_dict(te, state[key])

    # -- the run -----------------------------------------------------------------------------------------------
    def _status(self, status: str, step: int, **extra: Any) -> None:
        if launched_rank() != 0:
            return
        spec = self.spec
        if self.par is not None:
            extra = {"processes": self.par.world, **extra}
        data = {
            "status": status,
            "step": step,
            "steps": spec.steps,
            "out": spec.out,
            "base": spec.base,
            "device": getattr(self, "device", spec.device),
            "resolution": spec.resolution,
            "batch_size": spec.batch_size,
            "train_text_encoder": spec.train_text_encoder,
            "gradient_checkpointing": spec.gradient_checkpointing,
            "algo": spec.algo,
            **self._timing(),
            **extra,
        }
        atomic_write(self.run / "status.json", lambda f: f.write(json.dumps(data).encode()))

    def _timing(self) -> dict[str, float]:
        """What the run measured of itself, for the next estimate and for the room's list of past runs."""
        out: dict[str, float] = {
            "seconds": time.perf_counter() - self.began,
            "estimate_seconds": self.estimate,
        }
        if self.step > self.start:
            out["seconds_per_step"] = self.stepping / (self.step - self.start)
        if self.outputs.sample_seconds:
            out["seconds_per_sample_step"] = sum(self.outputs.sample_seconds) / len(
                self.outputs.sample_seconds
            )
        if self.setup_seconds:
            out["setup_seconds"] = self.setup_seconds
        if self.last_validation is not None:
            out["validation_loss"] = self.last_validation
        return out

    def train(self) -> TrainDone:
        spec = self.spec
        self.began = time.perf_counter()
        if launched_rank() == 0:
            atomic_write(self.run / "spec.json", lambda f: f.write(spec.to_json().encode()))
        self._setup()
        spec = self.spec  # with the steps that epochs come to
        start = 0
        if (ck := latest_checkpoint(self.run)) is not None:
            start = load_run_checkpoint(self, ck)
            self.emit(Note(text=f"Resuming from the checkpoint at step {start}."))
        self.curve = CurveLog(self.run, start) if self._main else None
        self.denoiser.train()
        for te in self.encoders:
            te.train(spec.train_text_encoder)
        if self.par is not None:
            self.par.start_alike(self.params)
            self.emit(Note(text=f"Training on {self.par.world} processes (accelerate): each step takes "
                                f"{self.par.world}× the batch."))  # fmt: skip
        self.start = self.step = start
        self.stepping = 0.0  # seconds in training steps alone (no samples, no checkpoints): the run's speed
        self._status("running", start)
        try:
            while self.step < spec.steps:
                if self.par is not None and self.par.any(self.cancel.cancelled):
                    raise JobCancelled()  # every process stops at the same step
                self.cancel.raise_if_cancelled()
                self._one_step()
                if self._main:
                    self._after_step(self.step)
        except JobCancelled:
            self._status("cancelled", self.step)
            raise
        except StudioError as e:
            self._status("failed", self.step, message=e.user_message)
            raise
        if not self._main:  # process 0 writes the result
            return TrainDone(path=spec.out, run_dir=str(self.run))
        return self._finish()

    def _one_step(self) -> None:
        import torch

        spec, step = self.spec, self.step
        t0 = time.perf_counter()
        loss = self.loss_at(step)
        if spec.inject_nan_at and step + 1 == spec.inject_nan_at:
            loss = loss * float("nan")
        value = self.par.mean(loss) if self.par is not None else float(loss.item())
        if not math.isfinite(value):
            self._rollback(step + 1)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if self.par is not None:
            self.par.average_gradients(self.params)
        torch.nn.utils.clip_grad_norm_(self.params, 1.0)
        self.optimizer.step()
        self.schedule.step()
        self.step = step = step + 1
        if self.ema is not None:
            self.ema.update(step)
        self.stepping += time.perf_counter() - t0
        if self.curve is not None:
            self.curve.add(step, value)
        self.emit(TrainStep(step=step, total=spec.steps, loss=value, lr=float(self.schedule.get_last_lr()[0]),
                            seconds=time.perf_counter() - self.began))  # fmt: skip
        self.emit(Progress(step=step, total=spec.steps))

    def _after_step(self, step: int) -> None:
        """Process 0's work between steps: validation, a checkpoint when due or asked, samples when due."""
        spec = self.spec
        if self.validation and (step % validation_interval(spec) == 0 or step == spec.steps):
            loss = self.validation_loss()
            if self.curve is not None:
                self.curve.add(step, validation=loss)
            self.last_validation = loss
            self.emit(ValidationLoss(step=step, loss=loss, pictures=len(self.validation)))
        asked = self.checkpoint_now.is_set()
        if (step % checkpoint_interval(spec) == 0 or asked) and step < spec.steps:
            self.checkpoint_now.clear()
            self._checkpoint(step)
        if spec.sample_every and step % spec.sample_every == 0:
            self.emit(SamplesSaved(step=step, paths=(str(self.outputs.save_samples(step)),)))

    def _finish(self) -> TrainDone:
        from studio.core.io.words import duration

        spec, step = self.spec, self.step
        self._checkpoint(step)
        with self.averaged():
            out, kohya = self.outputs.export(Path(spec.out))
        grids = tuple(self.outputs.ab_grids())
        took = time.perf_counter() - self.began
        self.emit(
            Note(text=f"The run took {duration(took)} (estimated {duration(self.estimate, rough=True)}).")
        )
        self._status("done", step, grids=list(grids))
        return TrainDone(path=str(out), kohya_path=str(kohya or ""), grids=grids, run_dir=str(self.run))

    def _checkpoint(self, step: int) -> None:
        if self.curve is not None:
            self.curve.flush()
        folder = save_run_checkpoint(self, step)
        kept = tuple(str(p) for p in checkpoints(self.run))
        self.emit(CheckpointSaved(step=step, path=str(folder), kept=kept))

    def _rollback(self, step: int) -> None:
        from studio.engine.train_checkpoint import nan_rollback

        raise nan_rollback(
            self.run,
            step,
            lambda ck: load_run_checkpoint(self, ck),
            self.spec.lr_unet,
            " or turn off fp16 mixed precision",
        )


def train(
    spec: TrainSpec,
    emit: Emit,
    cancel: CancelToken | None = None,
    checkpoint_now: threading.Event | None = None,
) -> TrainDone:
    """Train; ``checkpoint_now``, when set by another thread, saves a checkpoint after the current step."""
    return Trainer(spec, emit, cancel, checkpoint_now).train()
