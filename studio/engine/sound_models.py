"""The sound models the libraries carry, each made to answer ``make(spec, cancel, emit) -> Made``: MusicGen
(transformers: audio tokens written one 20-ms frame at a time, then decoded by EnCodec), Stable Audio Open
(diffusers: denoising a latent, then decoding), and Studio's own spectrogram models (``Tones``)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from studio.core.jobs.cancel import CancelToken
from studio.core.jobs.errors import ErrorKind, StudioError
from studio.core.jobs.events import Event, Progress
from studio.core.sound.pictures import picture_of, spectrogram_picture
from studio.core.sound.specs import SoundSpec, SoundStep
from studio.engine.sound_spectrogram import Tones, finish

Emit = Callable[[Event], None]
FILM_SIZE = (256, 96)  # one step's spectrogram in the filmstrip
MUSICGEN_MAX_SECONDS = 30.0


@dataclass(frozen=True)
class Made:
    audio: np.ndarray  # (samples,) or (samples, channels), float32
    sample_rate: int
    tokens: tuple[tuple[int, ...], ...] = ()  # MusicGen: one row of token ids a codebook


def _bad(folder: Path, e: BaseException) -> StudioError:
    return StudioError(ErrorKind.MODEL_INVALID, f"{folder.name} could not be loaded as a sound model: {e}",
                       field="model")  # fmt: skip


class TonesModel:
    def __init__(self, folder: Path, device: str):
        self.model = Tones.load(folder, device)

    def make(self, spec: SoundSpec, cancel: CancelToken, emit: Emit) -> Made:
        scale = self.model.scale
        frames = scale.frames(spec.seconds)

        def on_step(i: int, x0: np.ndarray) -> None:
            emit(Progress(step=i + 1, total=spec.steps))
            if spec.explain:
                emit(SoundStep(step=i + 1, total=spec.steps, picture=picture_of((x0 + 1) / 2, *FILM_SIZE)))

        picture = self.model.paint(spec.prompt, spec.negative_prompt, frames, spec.steps, spec.guidance, spec.seed,
                                   cancel, on_step)  # fmt: skip
        return Made(self.model.to_audio(picture, spec.seed), scale.sample_rate)


class MusicGen:
    def __init__(self, folder: Path, device: str):
        from transformers import AutoTokenizer, MusicgenForConditionalGeneration

        try:
            self.tokenizer = AutoTokenizer.from_pretrained(folder)
            model = MusicgenForConditionalGeneration.from_pretrained(folder, use_safetensors=True)
            self.model = model.to(device)  # type: ignore[arg-type]  # transformers types .to oddly
        except (OSError, ValueError, KeyError, TypeError) as e:
            raise _bad(folder, e) from e
        self.model.eval()
        self.device = device

    def make(self, spec: SoundSpec, cancel: CancelToken, emit: Emit) -> Made:
        import torch
        from transformers import StoppingCriteria, StoppingCriteriaList

        if spec.seconds > MUSICGEN_MAX_SECONDS:
            raise StudioError(ErrorKind.INVALID_INPUT, f"MusicGen makes at most {MUSICGEN_MAX_SECONDS:.0f} s at a "
                              "time; ask for less.", field="seconds")  # fmt: skip
        codec = self.model.config.audio_encoder
        frames = max(1, round(spec.seconds * codec.frame_rate))
        total = frames + self.model.decoder.num_codebooks - 1  # the codebooks are written with a delay each

        class Steps(StoppingCriteria):
            def __init__(self) -> None:
                self.step = 0

            def __call__(self, input_ids: Any, scores: Any, **kw: Any) -> Any:
                cancel.raise_if_cancelled()
                self.step += 1
                emit(Progress(step=min(self.step, total), total=total))
                return torch.zeros(input_ids.shape[0], dtype=torch.bool, device=input_ids.device)

        codes: list[Any] = []
        decode = self.model.audio_encoder.decode

        def keep_codes(audio_codes: Any, *args: Any, **kw: Any) -> Any:
            codes.append(audio_codes.detach().cpu())
            return decode(audio_codes, *args, **kw)

        inputs = self.tokenizer([spec.prompt], return_tensors="pt", padding=True).to(self.device)
        torch.manual_seed(spec.seed % 2**63)
        self.model.audio_encoder.decode = keep_codes
        try:
            with torch.inference_mode():
                audio = self.model.generate(**inputs, do_sample=True, max_new_tokens=total,
                                            guidance_scale=spec.guidance if spec.guidance > 1 else None,
                                            stopping_criteria=StoppingCriteriaList([Steps()]))  # fmt: skip
        finally:
            del self.model.audio_encoder.decode  # the instance's wrapper goes; the class's method is back
        samples = audio[0].float().cpu().numpy().T  # (samples, channels)
        tokens = tuple(tuple(int(t) for t in row) for row in codes[0][0, 0].tolist()) if codes else ()
        return Made(finish(samples[:, 0] if samples.shape[1] == 1 else samples, codec.sampling_rate, None),
                    int(codec.sampling_rate), tokens if spec.explain else ())  # fmt: skip


class StableAudio:
    """Stable Audio Open (diffusers ``StableAudioPipeline``), from its folder."""

    def __init__(self, folder: Path, device: str):
        from diffusers import StableAudioPipeline

        try:
            self.pipe: Any = StableAudioPipeline.from_pretrained(folder, use_safetensors=True).to(device)
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as e:
            raise _bad(folder, e) from e
        self.pipe.set_progress_bar_config(disable=True)
        self.sample_rate = int(self.pipe.vae.sampling_rate)

    def _film(self, latents: Any) -> Any:
        """What the latent holds now, as a spectrogram picture (decoded through the pipeline's own autoencoder)."""
        import torch

        with torch.inference_mode():
            audio = self.pipe.vae.decode(latents[:1]).sample[0].mean(0).float().cpu().numpy()
        return spectrogram_picture(audio, self.sample_rate, *FILM_SIZE)

    def make(self, spec: SoundSpec, cancel: CancelToken, emit: Emit) -> Made:
        import torch

        def on_step(i: int, t: Any, latents: Any) -> None:  # the pipeline takes the older callback
            cancel.raise_if_cancelled()
            emit(Progress(step=i + 1, total=spec.steps))
            if spec.explain:
                emit(SoundStep(step=i + 1, total=spec.steps, picture=self._film(latents)))

        gen = torch.Generator("cpu").manual_seed(spec.seed % 2**63)
        out = self.pipe(prompt=spec.prompt, negative_prompt=spec.negative_prompt or None, generator=gen,
                        num_inference_steps=spec.steps, guidance_scale=spec.guidance, output_type="np",
                        callback=on_step, callback_steps=1, audio_end_in_s=spec.seconds).audios[0]  # fmt: skip
        samples = np.asarray(out, dtype=np.float32).T  # (samples, channels)
        mono_or_stereo = samples[:, 0] if samples.shape[1] == 1 else samples
        return Made(finish(mono_or_stereo, self.sample_rate, None), self.sample_rate)


# AudioLDM 2 is identified but not run: diffusers 0.42's pipeline calls GPT-2 generation helpers that
# transformers 5's GPT2Model no longer has, and a tiny one built at diffusers' own test sizes fails inside it
AUDIOLDM2_REFUSED = ("{name} is AudioLDM 2, which does not run with the diffusers and transformers this Studio "
                     "ships (its pipeline calls a GPT-2 generation helper transformers 5 removed); use Stable Audio "
                     "Open or MusicGen for now.")  # fmt: skip


def load_sound_model(folder: Path, family: str, device: str) -> Any:
    if family == "tones":
        return TonesModel(folder, device)
    if family == "musicgen":
        return MusicGen(folder, device)
    if family == "stable-audio":
        return StableAudio(folder, device)
    if family == "audioldm2":
        raise StudioError(ErrorKind.MODEL_INVALID, AUDIOLDM2_REFUSED.format(name=folder.name), field="model")
    raise StudioError(
        ErrorKind.MODEL_INVALID, f"{folder.name} is not a sound model Studio can run.", field="model"
    )
