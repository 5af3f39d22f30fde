"""The image job handler: GenerateSpec in, saved images out, typed events along the way."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from PIL import Image, ImageFilter, ImageOps, UnidentifiedImageError

from studio.core.attention import AttentionSpec
from studio.core.cancel import CancelToken
from studio.core.errors import ErrorKind, StudioError
from studio.core.events import Event, ItemSaved, Note, Preview, Progress
from studio.core.filmstrip import filmstrip_path, write_filmstrip
from studio.core.gallery_store import GalleryStore, SavedImage
from studio.core.hashing import HashCache
from studio.core.image_metadata import RenderInfo
from studio.core.plot import PlotSpec
from studio.core.prompt_schedule import schedule, text_at
from studio.core.settings import LoadOptions
from studio.core.specs import ControlUnit, GenerateSpec, UpscaleSpec, check
from studio.engine.devices import Placement, choose_placement
from studio.engine.guidance import GuidanceCache, adapter_scales, control_map, inpaint_control
from studio.engine.image_io import load_input_image
from studio.engine.pipelines import (
    FLOW_FAMILIES,
    LoadedModel,
    PipelineCache,
    apply_embeddings,
    apply_loras,
    pipeline_for,
    set_scheduler,
    tune_memory,
    use_vae,
)
from studio.engine.preview import latents_to_preview
from studio.engine.prompt_encoding import encode
from studio.engine.upscale import ModelUpscaler

Emit = Callable[[Event], None]
CONTROL_KEYS = (
    "control_image",
    "controlnet_conditioning_scale",
    "control_guidance_start",
    "control_guidance_end",
)


def _versions() -> dict[str, str]:
    import diffusers
    import torch
    import transformers

    return {
        "torch": torch.__version__,
        "diffusers": diffusers.__version__,
        "transformers": transformers.__version__,
    }


class ImageEngine:
    """Runs image jobs on one device. Owned by the runner thread; not for concurrent use."""

    def __init__(
        self,
        store: GalleryStore,
        hashes: HashCache,
        *,
        placement: Callable[[], Placement] | None = None,
        preview_interval: Callable[[], float] = lambda: 0.25,
        make_room: Callable[[], None] = lambda: None,
        options: Callable[[], LoadOptions] = LoadOptions,
        tiny_vae: Callable[[str], Path | None] = lambda family: None,
    ):
        """``tiny_vae(family)``: the folder of a tiny autoencoder (TAESD/TAESDXL) the user has, or None."""
        self.store = store
        self._tiny_vae = tiny_vae
        self.hashes = hashes
        self._placement = placement or choose_placement
        self.cache = PipelineCache(self._placement, make_room, options)
        self.refiners = PipelineCache(
            self._placement, lambda: None, options
        )  # an SDXL refiner beside the base
        self._options = options
        self._preview_interval = preview_interval
        self.prompts = PromptCache()
        self.guidance = GuidanceCache()  # ControlNets and IP-Adapters
        self._upscaler: ModelUpscaler | None = None  # the last upscaler model used (kept: batches reuse it)

    def clear(self) -> None:
        """Free the models (another engine needs the memory)."""
        self.refiners.clear()
        self.guidance.clear()
        self.cache.clear()

    def generate(self, spec: GenerateSpec, cancel: CancelToken, emit: Emit) -> list[SavedImage]:
        check(spec)
        cancel.raise_if_cancelled()
        try:
            return self._generate(spec, cancel, emit)
        except StudioError:
            raise
        except Exception as e:
            from studio.core.errors import JobCancelled
            from studio.engine.errors import translate

            if isinstance(e, JobCancelled):
                raise
            raise translate(e, width=spec.width, height=spec.height, batch=spec.batch_size) from e

    def _generate(self, spec: GenerateSpec, cancel: CancelToken, emit: Emit) -> list[SavedImage]:
        import torch

        from studio.core.events import Loading

        model = self.cache.get(spec.model, on_loading=lambda name: emit(Loading(what=f"Loading {name}…")))
        cancel.raise_if_cancelled()
        flow = model.family in FLOW_FAMILIES
        if flow:
            check_flow(spec, model.family)
        pipe = pipeline_for(model, "inpaint" if spec.mode == "outpaint" else spec.mode)
        tune_memory(model, *spec.output_size, spec.batch_size)
        apply_loras(model, spec.loras)
        apply_embeddings(model, spec.embeddings)
        use_vae(model, spec.vae)
        set_scheduler(model, pipe, spec.sampler, spec.schedule)
        size = spec.outpaint_size if spec.mode == "outpaint" else (spec.width, spec.height)
        call: dict[str, Any] = {
            "num_inference_steps": spec.steps,
            "guidance_scale": spec.cfg_scale,
            "output_type": "latent",
        }
        for warning in prompt_warnings(spec):
            emit(Note(text=warning))
        if spec.prompt_2.strip() and model.family != "sdxl":
            emit(Note(text=f"{model.family.upper()} has one text encoder: the second prompt was not used."))
        init = mask = None
        if spec.mode == "txt2img":
            call.update(width=spec.width, height=spec.height)
            if spec.refiner:
                if model.family != "sdxl":
                    raise StudioError(ErrorKind.INVALID_INPUT, "The refiner finishes SDXL pictures; this model is "
                                      f"{model.family.upper()}.", field="refiner")  # fmt: skip
                call.update(denoising_end=spec.refiner_switch)
        elif spec.mode == "outpaint":  # the new area is invented (strength 1); the picture is kept
            from studio.core.outpaint import outpaint_canvas

            picture = load_input_image(spec.init_image or "", (spec.width, spec.height), "init_image")
            init, mask = outpaint_canvas(picture, spec.outpaint, size)
            call.update(image=init, mask_image=mask, strength=1.0, width=size[0], height=size[1])
        else:
            init = load_input_image(spec.init_image or "", size, "init_image")
            call.update(image=init, strength=spec.strength)
            if flow:  # their image-to-image pipelines take the size from these, not from the image
                call.update(width=size[0], height=size[1])
            if spec.mode == "inpaint":
                mask = load_input_image(spec.mask or "", size, "mask", mode="L")
                call.update(mask_image=mask, width=spec.width, height=spec.height)

        controls = tuple(u for u in spec.controls if u.weight > 0)  # weight 0: no control at all
        if controls:
            nets = self._controlnets(model, controls, emit)
            pipe = pipeline_for(model, "inpaint" if spec.mode == "outpaint" else spec.mode, nets)
            call.update(self._control_call(controls, size, spec.mode, init, mask, emit))
        self.guidance.use_adapters(model, model.base, spec.references)
        if spec.references:
            call["ip_adapter_image_embeds"] = self.guidance.image_embeds(
                model, spec.references, spec.batch_size
            )
            model.base.set_ip_adapter_scale(adapter_scales(spec.references, 0.0))

        info = self._render_info(spec, model, emit)
        tiny = self._tiny(model)
        if spec.fast_decode and tiny is None:
            raise StudioError(
                ErrorKind.INVALID_INPUT,
                "Fast decode needs a tiny autoencoder: download madebyollin/taesd (SD 1.x/2.x) or "
                "madebyollin/taesdxl (SDXL) in the Models room, or turn Fast decode off.",
                field="fast_decode",
            )
        saved: list[SavedImage] = []
        interval = self._preview_interval()
        hires_steps = max(1, int((spec.hires_steps or spec.steps) * spec.hires_denoise)) if spec.hires else 0
        first_steps = (
            spec.steps if spec.mode in ("txt2img", "outpaint") else max(1, int(spec.steps * spec.strength))
        )
        for first, count in job_runs(spec):
            seeds = [spec.seed_for(first + i) for i in range(count)]
            started = time.perf_counter()
            prompt, negative = spec.prompts_of(first)
            plan = None if flow else PromptPlan(self.prompts, model, pipe, spec, prompt, negative)
            run_call = {
                **call,
                **(flow_prompt(model, spec, prompt, negative, emit) if flow else plan.kwargs(first_steps)),  # type: ignore[union-attr]
                "num_images_per_prompt": count,
            }
            # one progress bar over both passes of a hires fix
            state: dict[str, Any] = {"last_preview": 0.0, "done": 0, "size": size}

            def on_step(
                p: Any, step: int, _t: Any, kw: dict[str, Any], first: int = first, state=state, plan=plan
            ) -> dict:
                cancel.raise_if_cancelled()
                state["ran"] = step + 1
                if plan is not None and plan.scheduled:  # prompt editing: the next step's text
                    plan.switch(p, step + 2, kw)
                if spec.references:  # each reference acts between its start and end
                    model.base.set_ip_adapter_scale(
                        adapter_scales(spec.references, (step + 1) / p.num_timesteps)
                    )
                # base and refiner share the job's steps; a hires pass adds its own
                total = (
                    spec.steps
                    if spec.refiner
                    else state["done"] + p.num_timesteps + (0 if state["done"] else hires_steps)
                )
                emit(Progress(step=state["done"] + step + 1, total=total, item=first, items=spec.image_count))
                if spec.filmstrip and state.get("x0") is not None:  # the picture this step predicts
                    x0 = unpack(model, p, state.pop("x0"), state["size"])
                    state.setdefault("frames", []).append(decode(model, p, x0)[0])
                now = time.monotonic()
                if not flow and state["done"] + step + 1 < total and now - state["last_preview"] >= interval:
                    state["last_preview"] = now
                    picture = preview_of(model, p, kw["latents"], state["size"], tiny)
                    emit(Preview(image=picture, step=state["done"] + step + 1, item=first))
                return kw

            shape = (spec.width, spec.height, count)
            if model.compiled_shapes is not None and shape not in model.compiled_shapes:
                emit(Loading(what=f"Compiling the model for {spec.width}×{spec.height} (a one-time warm-up; later "
                                  "jobs of this size start at once, after a restart too)…"))  # fmt: skip
                model.compiled_shapes.add(shape)
            if spec.filmstrip:
                capture_x0(pipe.scheduler, state)
            gens = [torch.Generator("cpu").manual_seed(s) for s in seeds]
            if (spec.variation_strength > 0 or spec.variation_seed) and spec.mode == "txt2img" and not flow:
                run_call["latents"] = variation_noise(
                    pipe, spec, first, seeds, run_call["prompt_embeds"].dtype
                )
            latents = pipe(
                generator=gens,
                callback_on_step_end=on_step,
                callback_on_step_end_tensor_inputs=[
                    "latents",
                    *(plan.tensors if plan and plan.scheduled else ()),
                ],
                **run_call,
            ).images
            latents = unpack(model, pipe, latents, size)
            cancel.raise_if_cancelled()
            if spec.references:
                model.base.set_ip_adapter_scale(adapter_scales(spec.references, 0.0))
            if spec.hires:
                state.update(done=spec.steps, size=spec.hires_size)
                if plan is not None:
                    run_call.update(plan.kwargs(hires_steps))
                latents = self._hires_pass(model, pipe, spec, run_call, latents, seeds, on_step, emit, state)
                cancel.raise_if_cancelled()
            elif spec.refiner:
                state.update(done=state.get("ran", 0))
                latents = self._refine(spec, prompt, negative, latents, seeds, on_step, emit)
                cancel.raise_if_cancelled()
            images = decode_tiny(tiny, pipe, latents) if spec.fast_decode else decode(model, pipe, latents)
            seconds = (time.perf_counter() - started) / len(images)
            for i, image in enumerate(images):
                if mask is not None and init is not None:
                    image = paste_unmasked(image, init, mask, spec.mask_blur)
                item_info = RenderInfo(**{**info.__dict__, "seed": seeds[i], "index": first + i, "seconds": seconds,
                                          "variation_seed": spec.variation_seed_for(first + i)})  # fmt: skip
                item = self.store.save(image, spec.for_image(first + i), item_info)
                if spec.filmstrip and i == 0 and state.get("frames"):  # the last frame is the picture itself
                    write_filmstrip([*state["frames"][:-1], image], filmstrip_path(item.path))
                saved.append(item)
                emit(ItemSaved(item=item))
        return saved

    def _hires_pass(
        self,
        model: LoadedModel,
        pipe: Any,
        spec: GenerateSpec,
        call: dict[str, Any],
        latents: Any,
        seeds: list[int],
        on_step: Callable[..., dict],
        emit: Emit,
        state: dict[str, Any],
    ) -> Any:
        """AUTOMATIC1111's hires fix: the first pass's result upscaled (its latents, or the decoded picture by
        Lanczos or an upscaler model), then refined by an image-to-image pass at the final size."""
        import torch

        from studio.core.events import Loading
        from studio.core.recipes.image import LANCZOS, LATENT
        from studio.engine.upscale import upscale

        width, height = spec.hires_size
        tune_memory(model, width, height, spec.batch_size)
        if spec.hires_upscaler == LATENT:
            factor = pipe.vae_scale_factor
            start: Any = torch.nn.functional.interpolate(
                latents, size=(height // factor, width // factor), mode="bilinear", antialias=False
            )
        else:
            model_upscaler = None
            if spec.hires_upscaler != LANCZOS:
                emit(Loading(what=f"Upscaling with {Path(spec.hires_upscaler).stem}…"))
                model_upscaler = self.upscaler(spec.hires_upscaler, model.placement.device)
            start = [upscale(im, (width, height), model_upscaler) for im in decode(model, pipe, latents)]
        controls = tuple(u for u in spec.controls if u.weight > 0)
        second = {k: v for k, v in call.items() if k not in ("width", "height", *CONTROL_KEYS)}
        if controls:  # the control maps again, at the final size
            refine = pipeline_for(model, "img2img", self._controlnets(model, controls, emit))
            second.update(self._control_call(controls, (width, height), "img2img", None, None, emit))
        else:
            refine = pipeline_for(model, "img2img")
        set_scheduler(model, refine, spec.sampler, spec.schedule)
        if spec.filmstrip:
            capture_x0(refine.scheduler, state)
        second.update(
            image=start, strength=spec.hires_denoise, num_inference_steps=spec.hires_steps or spec.steps
        )
        if model.family in FLOW_FAMILIES:
            second.update(width=width, height=height)
        gens = [torch.Generator("cpu").manual_seed(s) for s in seeds]
        out = refine(
            generator=gens,
            callback_on_step_end=on_step,
            callback_on_step_end_tensor_inputs=["latents"],
            **second,
        ).images
        return unpack(model, refine, out, (width, height))

    def _controlnets(self, model: LoadedModel, controls: tuple[ControlUnit, ...], emit: Emit) -> Any:
        from studio.core.events import Loading

        nets = []
        for unit in controls:
            emit(Loading(what=f"Loading the ControlNet {unit.model_name}…"))
            nets.append(self.guidance.controlnet(unit.model, model))
        return nets[0] if len(nets) == 1 else nets

    def _control_call(
        self,
        controls: tuple[ControlUnit, ...],
        size: tuple[int, int],
        mode: str,
        init: Image.Image | None,
        mask: Image.Image | None,
        emit: Emit,
    ) -> dict[str, Any]:
        """The control maps (each shown as it is made) and the units' weights and start/end, as the ControlNet
        pipelines take them."""
        maps: list[Any] = []
        for unit in controls:
            if unit.preprocessor == "inpaint" and init is not None and mask is not None:
                shown = Image.composite(Image.new("RGB", init.size), init.convert("RGB"), mask.convert("L"))
                maps.append(inpaint_control(init, mask))
            else:
                shown = control_map(unit, size)
                maps.append(shown)
            emit(Preview(image=shown, step=0, item=0))
        one = len(maps) == 1
        return {
            "image" if mode == "txt2img" else "control_image": maps[0] if one else maps,
            "controlnet_conditioning_scale": controls[0].weight if one else [u.weight for u in controls],
            "control_guidance_start": controls[0].start if one else [u.start for u in controls],
            "control_guidance_end": controls[0].end if one else [u.end for u in controls],
        }

    def _refine(
        self,
        spec: GenerateSpec,
        prompt: str,
        negative: str,
        latents: Any,
        seeds: list[int],
        on_step: Callable[..., dict],
        emit: Emit,
    ) -> Any:
        """SDXL's ensemble of experts: the refiner denoises from the switch point on, from the base's latents."""
        import torch

        from studio.core.events import Loading

        refiner = self.refiners.get(
            spec.refiner, on_loading=lambda name: emit(Loading(what=f"Loading the refiner {name}…"))
        )
        if refiner.family != "sdxl":
            raise StudioError(ErrorKind.INVALID_INPUT, f"{Path(spec.refiner).name} is not an SDXL refiner "
                              f"({refiner.family.upper()}).", field="refiner")  # fmt: skip
        pipe = pipeline_for(refiner, "img2img")
        set_scheduler(refiner, pipe, spec.sampler, spec.schedule)
        final = len(seeds) and spec.steps  # the prompt as edited by its last step
        call = encode(pipe, text_at(schedule(prompt, final), final),
                      text_at(schedule(negative, final), final) if spec.cfg_scale > 1.0 else None, spec.clip_skip,
                      spec.prompt_2)  # fmt: skip
        gens = [torch.Generator("cpu").manual_seed(s) for s in seeds]
        return pipe(
            image=latents,
            num_inference_steps=spec.steps,
            denoising_start=spec.refiner_switch,
            guidance_scale=spec.cfg_scale,
            num_images_per_prompt=len(seeds),
            output_type="latent",
            generator=gens,
            callback_on_step_end=on_step,
            callback_on_step_end_tensor_inputs=["latents"],
            **call,
        ).images

    def plot(self, spec: PlotSpec, cancel: CancelToken, emit: Emit) -> list[SavedImage]:
        """An X/Y/Z plot: every cell made as a normal image (its own recipe), then the grid with labelled axes,
        saved as one more picture carrying the first cell's recipe and A1111's plot fields."""
        from studio.core.plot import compose_grid

        saved: list[SavedImage] = []
        pictures: list[Image.Image] = []
        for cell in spec.cells:
            cancel.raise_if_cancelled()
            (item,) = self.generate(cell, cancel, emit)[:1]
            saved.append(item)
            with Image.open(item.path) as im:
                pictures.append(im.convert("RGB"))
        grid = compose_grid(pictures, spec)
        model = self.cache.get(spec.cells[0].model)
        info = self._render_info(spec.cells[0], model, emit)
        fields = [("Script", "X/Y/Z plot")]
        for letter, axis in zip("XYZ", spec.axes, strict=False):
            fields += [(f"{letter} Type", axis.name), (f"{letter} Values", ", ".join(axis.values))]
        item_info = RenderInfo(**{**info.__dict__, "seed": spec.cells[0].seed, "postprocess": tuple(fields)})
        grid_item = self.store.save(grid, spec.cells[0], item_info)
        emit(ItemSaved(item=grid_item))
        return [*saved, grid_item]

    def attention(self, spec: AttentionSpec, cancel: CancelToken, emit: Emit) -> list[SavedImage]:
        """*Where each word acts*: the picture made again while its cross-attention is recorded; each word's map
        written over the picture (``WORD.png``) and alone (``WORD.map.png``) in ``spec.out``."""
        import numpy as np

        from studio.core.attention import overlay, word_positions
        from studio.core.tokens import ClipTokens, tokenizer_folder
        from studio.engine.attention_maps import AttentionRecorder, install

        model = self.cache.get(spec.spec.model)
        if model.family in FLOW_FAMILIES or getattr(model.base, "unet", None) is None:
            raise StudioError(ErrorKind.INVALID_INPUT, "Attention maps are read from a UNet's cross-attention "
                              "(SD 1.x/2.x, SDXL).", field="model")  # fmt: skip
        folder = tokenizer_folder(spec.spec.model)
        if folder is None:
            raise StudioError(ErrorKind.INVALID_INPUT, "This model's tokenizer is not known.", field="model")
        tokens = ClipTokens(folder)
        prompt = spec.spec.prompts_of(0)[0]
        positions = {w: word_positions(prompt, w, tokens.ids) for w in spec.words}
        missing = [w for w, where in positions.items() if not where]
        if missing:
            raise StudioError(
                ErrorKind.INVALID_INPUT, f"“{missing[0]}” is not a word of the prompt.", field="prompt"
            )
        factor = model.base.vae_scale_factor
        recorder = AttentionRecorder(positions, (spec.spec.height // factor, spec.spec.width // factor))
        unet = model.base.unet
        before = install(unet, recorder)
        try:
            saved = self.generate(
                spec.spec.replace(batch_count=1, batch_size=1, hires_scale=1.0), cancel, emit
            )
        finally:
            unet.set_attn_processor(before)
        out = Path(spec.out)
        out.mkdir(parents=True, exist_ok=True)
        with Image.open(saved[0].path) as im:
            picture = im.convert("RGB")
        for word, heat in recorder.maps.items():
            drawn, alone = overlay(picture, np.asarray(heat))
            safe = "".join(c if c.isalnum() or c in "-_" else "_" for c in word)[:60] or "word"
            drawn.save(out / f"{safe}.png")
            alone.save(out / f"{safe}.map.png")
        return saved

    def upscale(self, spec: UpscaleSpec, cancel: CancelToken, emit: Emit) -> list[SavedImage]:
        """An upscaled copy of a picture, saved as its child: the source's recipe with AUTOMATIC1111's
        *Postprocess upscale by* / *Postprocess upscaler* added."""
        from studio.core.events import Loading
        from studio.core.recipe_readers import read_recipe
        from studio.core.recipes.image import LANCZOS
        from studio.core.specs import MAX_UPSCALED
        from studio.engine.upscale import upscale

        cancel.raise_if_cancelled()
        try:
            with Image.open(spec.image) as raw:
                picture = ImageOps.exif_transpose(raw).convert("RGB")
                source_info = dict(raw.info)
        except (UnidentifiedImageError, OSError, Image.DecompressionBombError) as e:
            raise StudioError(ErrorKind.INVALID_INPUT, f"{Path(spec.image).name} is not an image Studio can read.",
                              repr(e), field="image") from e  # fmt: skip
        size = (round(picture.width * spec.scale), round(picture.height * spec.scale))
        if max(size) > MAX_UPSCALED:
            raise StudioError(ErrorKind.INVALID_INPUT, f"{picture.width}×{picture.height} × {spec.scale:g} is "
                              f"{size[0]}×{size[1]}, above {MAX_UPSCALED} px a side.", field="scale")  # fmt: skip
        model = None
        if spec.upscaler != LANCZOS:
            emit(Loading(what=f"Loading the upscaler {Path(spec.upscaler).stem}…"))
            model = self.upscaler(spec.upscaler, self._placement().device)

        def on_tile(done: int, total: int) -> None:
            cancel.raise_if_cancelled()
            emit(Progress(step=done, total=total, item=0, items=1))

        started = time.perf_counter()
        result = upscale(picture, size, model, on_tile=on_tile) if model else upscale(picture, size, None)
        cancel.raise_if_cancelled()
        base = _recipe_of(spec.image, source_info, read_recipe(spec.image))
        info = RenderInfo(seed=base.seed, device=self._placement().device, seconds=time.perf_counter() - started,
                          postprocess=(("Postprocess upscale by", f"{spec.scale:g}"),
                                       ("Postprocess upscaler", spec.upscaler_name)))  # fmt: skip
        item = self.store.save(result, base, info)
        emit(ItemSaved(item=item))
        return [item]

    def upscaler(self, path: str, device: str) -> ModelUpscaler:
        """The upscaler model at ``path`` on ``device`` (loaded once, kept for the next job)."""
        from studio.engine.upscale import load_model_upscaler

        if self._upscaler is None or self._upscaler.path != path:
            self._upscaler = None
            loaded = load_model_upscaler(Path(path), allow_pickle=self._options().allow_pickle)
            loaded.model.to(device)
            self._upscaler = loaded
        return self._upscaler

    def _tiny(self, model: LoadedModel) -> Any:
        """The tiny autoencoder for this model's family (loaded once per model), or None when there is none."""
        path = self._tiny_vae(model.family)
        if path is None:
            return None
        if model.tiny is None or model.tiny[0] != str(path):
            from diffusers import AutoencoderTiny

            tiny = AutoencoderTiny.from_pretrained(str(path), dtype=model.placement.components.vae,
                                                   local_files_only=True)  # fmt: skip
            tiny.to(model.placement.device).eval()
            model.tiny = (str(path), tiny)
        return model.tiny[1]

    def _render_info(self, spec: GenerateSpec, model: LoadedModel, emit: Emit) -> RenderInfo:
        from studio.core.events import Loading

        path = Path(model.path)
        if path.is_file() and not self.hashes.known(path):
            emit(Loading(what=f"Computing the hash of {path.name} (once)…"))
        model_hash = self.hashes.a1111_model_hash(path) if path.is_file() else ""
        loras = {lo.name: self.hashes.a1111_lora_hash(Path(lo.path)) for lo in spec.loras}
        vae_hash = (
            self.hashes.a1111_model_hash(Path(spec.vae)) if spec.vae and Path(spec.vae).is_file() else ""
        )
        return RenderInfo(
            seed=spec.seed,
            device=model.placement.device,
            dtype=model.placement.dtype_name,
            model_hash=model_hash,
            lora_hashes=loras,
            vae_hash=vae_hash,
            ti_hashes={e.name: self.hashes.sha256(Path(e.path))[:12] for e in spec.embeddings},
            versions=_versions(),
        )


class PromptCache:
    """Prompt encodings kept between jobs (as ComfyUI keeps them): the same prompt, negative prompt, clip skip and
    LoRAs on the same loaded model are not encoded again. With CFG ≤ 1 no unconditional pass runs, so the
    negative prompt is not encoded at all."""

    def __init__(self, size: int = 16):
        from collections import OrderedDict

        self._entries: OrderedDict[tuple, dict[str, Any]] = OrderedDict()
        self._size = size
        self._model: LoadedModel | None = None
        self.hits = 0

    def encoded(
        self,
        model: LoadedModel,
        pipe: Any,
        spec: GenerateSpec,
        prompt: str | None = None,
        negative: str | None = None,
    ) -> dict[str, Any]:
        """The encoded ``prompt`` and ``negative`` (default: the spec's) with the spec's encoder settings."""
        if self._model is not model:  # another model (or the same one loaded again): nothing carries over
            self._entries.clear()
            self._model = model
        prompt = spec.prompt if prompt is None else prompt
        negative = (spec.negative_prompt if negative is None else negative) if spec.cfg_scale > 1.0 else None
        loras = tuple(sorted((lo.path, lo.weight) for lo in spec.loras))  # a LoRA may change the text encoder
        key = (prompt, negative, spec.clip_skip, loras, spec.embeddings, spec.prompt_2)
        if key in self._entries:
            self._entries.move_to_end(key)
            self.hits += 1
            return dict(self._entries[key])
        kwargs = encode(pipe, prompt, negative, spec.clip_skip, spec.prompt_2)
        self._entries[key] = kwargs
        while len(self._entries) > self._size:
            self._entries.popitem(last=False)
        return dict(kwargs)


def _recipe_of(path: str, info: dict[Any, Any], recipe: Any) -> GenerateSpec:
    """The recipe an upscaled copy carries: its source's own (Studio's exact spec, or what another tool wrote),
    with the source as its parent."""
    from studio.core.image_metadata import record_from_info

    record = record_from_info(info)
    if record and isinstance(record.get("spec"), dict):
        try:
            spec = GenerateSpec.from_dict(record["spec"])
            seed = record.get("image_seed", spec.seed)
            return spec.replace(seed=seed if isinstance(seed, int) else spec.seed, batch_size=1, batch_count=1,
                                parent_image=path)  # fmt: skip
        except ValueError:
            pass
    return GenerateSpec(model=recipe.model or "", prompt=recipe.prompt, negative_prompt=recipe.negative_prompt,
                        seed=recipe.seed if isinstance(recipe.seed, int) and recipe.seed >= 0 else 0,
                        width=recipe.width or 512, height=recipe.height or 512, parent_image=path)  # fmt: skip


def preview_of(
    model: LoadedModel, pipe: Any, latents: Any, size: tuple[int, int], tiny: Any = None
) -> Image.Image:
    """The live preview of the first image: exact for models with a small VAE, real-looking with a tiny
    autoencoder (TAESD), else a linear approximation of the latents' colours."""
    if model.small_vae:
        return decode(model, pipe, latents[:1])[0].resize(size, Image.Resampling.BILINEAR)
    if tiny is not None:
        return decode_tiny(tiny, pipe, latents[:1])[0].resize(size, Image.Resampling.BILINEAR)
    return latents_to_preview(latents, model.family, size)


def decode_tiny(tiny: Any, pipe: Any, latents: Any) -> list[Image.Image]:
    """Decode with a tiny autoencoder: it takes the UNet's latents as they are (its scaling factor is 1)."""
    import torch

    with torch.no_grad():
        pixels = tiny.decode(latents.to(tiny.dtype), return_dict=False)[0]
    return pipe.image_processor.postprocess(pixels.float(), output_type="pil")


def decode(model: LoadedModel, pipe: Any, latents: Any) -> list[Image.Image]:
    """VAE-decode latents, guarding against the fp16 VAE NaN (black image) trap by retrying in fp32."""
    import torch

    vae = pipe.vae
    cfg = vae.config
    with torch.no_grad():
        if getattr(cfg, "latents_mean", None) is not None and getattr(cfg, "latents_std", None) is not None:
            mean = torch.tensor(cfg.latents_mean).view(1, -1, 1, 1).to(latents.device, latents.dtype)
            std = torch.tensor(cfg.latents_std).view(1, -1, 1, 1).to(latents.device, latents.dtype)
            latents = latents * std / cfg.scaling_factor + mean
        else:
            latents = latents / cfg.scaling_factor
        if getattr(cfg, "shift_factor", None) is not None:  # SD 3.x and FLUX.1's VAEs
            latents = latents + cfg.shift_factor
        if vae.dtype == torch.float16 and (model.vae_upcast or getattr(cfg, "force_upcast", False)):
            vae.to(torch.float32)
            model.vae_upcast = True
        pixels = vae.decode(latents.to(vae.dtype), return_dict=False)[0]
        if vae.dtype != torch.float32 and torch.isnan(pixels).any():
            vae.to(torch.float32)
            model.vae_upcast = True
            pixels = vae.decode(latents.float(), return_dict=False)[0]
        if torch.isnan(pixels).any():
            raise StudioError(
                ErrorKind.INTERNAL,
                "The model produced an invalid (NaN) image. Try another sampler, fewer steps or fp32.",
            )
    return pipe.image_processor.postprocess(pixels.float(), output_type="pil")


def check_flow(spec: GenerateSpec, family: str) -> None:
    """What SD 3.x and FLUX.1 do not take in Studio, said beside its field before any step runs."""
    from studio.core.model_identify import FAMILY_LABELS
    from studio.core.recipes.image import LATENT

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


def flow_prompt(
    model: LoadedModel, spec: GenerateSpec, prompt: str, negative: str, emit: Emit
) -> dict[str, Any]:
    """SD 3.x and FLUX.1 read the prompt as text (T5 and CLIP): A1111's weights are taken out, with a note. FLUX.1
    is guidance-distilled: the CFG scale is its guidance, and it has no negative prompt."""
    from studio.core.prompts import extract_loras, parse_weights

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


def prompt_warnings(spec: GenerateSpec) -> list[str]:
    """What the prompts' syntax read differently from how it looks (an unclosed bracket), said once a job."""
    from studio.core.dynamic_prompts import template_warnings
    from studio.core.prompt_schedule import schedule_warnings

    out = []
    for label, text in (("Prompt", spec.prompt), ("Negative prompt", spec.negative_prompt)):
        out += [f"{label}: {w}" for w in (*template_warnings(text), *schedule_warnings(text))]
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

    def texts(self, step: int, total: int) -> tuple[str, str]:
        return (text_at(schedule(self.prompt, total), step), text_at(schedule(self.negative, total), step))

    def kwargs(self, total: int) -> dict[str, Any]:
        """The encodings of a pass's first step (a pass of ``total`` steps)."""
        self._total = max(1, total)
        self._current = self.texts(1, self._total)
        return self._cache.encoded(self._model, self._pipe, self._spec, *self._current)

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


def paste_unmasked(generated: Image.Image, init: Image.Image, mask: Image.Image, blur: int) -> Image.Image:
    """Keep the original pixels outside the mask (feathered by ``blur`` px), as AUTOMATIC1111 does."""
    alpha = mask.filter(ImageFilter.GaussianBlur(blur)) if blur > 0 else mask
    return Image.composite(generated.convert("RGB"), init.convert("RGB"), alpha)
