"""The image job handler: GenerateSpec in, saved images out, typed events along the way."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from PIL import Image, ImageOps, UnidentifiedImageError

from studio.core.gallery.gallery_store import GalleryStore, SavedImage
from studio.core.image.filmstrip import filmstrip_path, write_filmstrip
from studio.core.image.image_metadata import RenderInfo
from studio.core.image.inpaint import paste_unmasked
from studio.core.image.recipe import check_spec as check
from studio.core.image.specs import ControlUnit, GenerateSpec, UpscaleSpec
from studio.core.io.hashing import HashCache
from studio.core.io.pictures import open_picture
from studio.core.io.settings import LoadOptions
from studio.core.jobs.cancel import CancelToken
from studio.core.jobs.errors import ErrorKind, StudioError
from studio.core.jobs.events import Event, ItemSaved, Note, Preview, Progress
from studio.engine.cpu_engine import engine_for, engine_name, recipe_of_engine
from studio.engine.decoding import decode, decode_tiny, preview_of
from studio.engine.denoise_steps import (
    PromptPlan,
    capture_x0,
    check_flow,
    flow_prompt,
    job_runs,
    prompt_warnings,
    unpack,
    variation_noise,
)
from studio.engine.detailer import Detailer, inpainter
from studio.engine.devices import Placement, choose_placement
from studio.engine.finishing import refine
from studio.engine.guidance import GuidanceCache, adapter_scales, control_call
from studio.engine.image_io import load_input_image
from studio.engine.model_additions import apply_embeddings, apply_loras, use_vae
from studio.engine.openvino_cache import default_root
from studio.engine.pipelines import (
    FLOW_FAMILIES,
    LoadedModel,
    PipelineCache,
    pipeline_for,
    set_scheduler,
    tune_memory,
)
from studio.engine.prompt_encoding import encode
from studio.engine.regional_prompts import regional, regions_over
from studio.engine.upscale import ModelUpscaler

Emit = Callable[[Event], None]
NO_TINY_VAE = ("Fast decode needs a tiny autoencoder: download madebyollin/taesd (SD 1.x/2.x) or "
               "madebyollin/taesdxl (SDXL) in the Models room, or turn Fast decode off.")  # fmt: skip
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
        openvino_cache: Callable[[], Path] | None = None,
        vision: Callable[[str], Path | None] = lambda kind: None,
    ):
        """``tiny_vae(family)``: the folder of a tiny autoencoder (TAESD/TAESDXL) the user has, or None;
        ``openvino_cache()``: where converted UNets are kept (default: beside the models in Studio's home)."""
        self.store = store
        self._tiny_vae = tiny_vae
        self._openvino_cache = openvino_cache or default_root
        self.hashes = hashes
        self._placement = placement or choose_placement
        self.cache = PipelineCache(self._placement, make_room, options)
        self.refiners = PipelineCache(self._placement, lambda: None, options)  # an SDXL refiner
        self._options = options
        self._preview_interval = preview_interval
        self.prompts = PromptCache()
        self.guidance = GuidanceCache()  # ControlNets and IP-Adapters
        self._upscaler: ModelUpscaler | None = None  # the last upscaler model used (kept: batches reuse it)
        self.detailer = Detailer(vision)  # ``vision(kind)``: the library's detector or segmenter folder

    def clear(self) -> None:
        """Free the models (another engine needs the memory)."""
        self.refiners.clear()
        self.guidance.clear()
        self.detailer.clear()
        self.cache.clear()

    def generate(self, spec: GenerateSpec, cancel: CancelToken, emit: Emit) -> list[SavedImage]:
        check(spec)
        cancel.raise_if_cancelled()
        try:
            return self._generate(spec, cancel, emit)
        except StudioError:
            raise
        except Exception as e:
            from studio.core.jobs.errors import JobCancelled
            from studio.engine.errors import translate

            if isinstance(e, JobCancelled):
                raise
            raise translate(e, width=spec.width, height=spec.height, batch=spec.batch_size) from e

    def _generate(self, spec: GenerateSpec, cancel: CancelToken, emit: Emit) -> list[SavedImage]:
        import torch

        from studio.core.jobs.events import Loading

        model = self.load(spec, emit)
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
        # eta is DDIM's; the pipeline hands it to a scheduler that takes it
        call: dict[str, Any] = {"num_inference_steps": spec.steps, "guidance_scale": spec.cfg_scale,
                                "output_type": "latent", **({"eta": spec.eta} if spec.eta and not flow else {})}  # fmt: skip
        for warning in prompt_warnings(spec, model.family):
            emit(Note(text=warning))
        init = mask = None
        if spec.mode == "txt2img":
            call.update(width=spec.width, height=spec.height)
            if spec.refiner:
                if model.family != "sdxl":
                    raise StudioError(ErrorKind.INVALID_INPUT, "The refiner finishes SDXL pictures; this model is "
                                      f"{model.family.upper()}.", field="refiner")  # fmt: skip
                call.update(denoising_end=spec.refiner_switch)
        elif spec.mode == "outpaint":  # the new area is invented (strength 1); the picture is kept
            from studio.core.image.outpaint import outpaint_canvas

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
            call.update(control_call(controls, size, spec.mode, init, mask, emit))
        self.guidance.use_adapters(model, model.base, spec.references)
        if spec.references:
            call["ip_adapter_image_embeds"] = self.guidance.image_embeds(
                model, spec.references, spec.batch_size
            )
            model.base.set_ip_adapter_scale(adapter_scales(spec.references, 0.0))

        info = self._render_info(spec, model, emit)
        tiny = self._tiny(model, needed=spec.fast_decode)
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
            plan = (
                None
                if flow
                else regions_over(PromptPlan(self.prompts, model, pipe, spec, prompt, negative), size)
            )
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
            with regional(pipe, plan):
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
                with regional(pipe, plan):
                    latents = self._hires_pass(
                        model, pipe, spec, run_call, latents, seeds, on_step, emit, state
                    )
                cancel.raise_if_cancelled()
            elif spec.refiner:
                state.update(done=state.get("ran", 0))
                latents = refine(self.refiners, spec, (prompt, negative), latents, seeds, on_step, emit)
                cancel.raise_if_cancelled()
            images = decode_tiny(tiny, pipe, latents) if spec.fast_decode else decode(model, pipe, latents)
            seconds = (time.perf_counter() - started) / len(images)
            for i, image in enumerate(images):
                if mask is not None and init is not None:
                    image = paste_unmasked(image, init, mask, spec.mask_blur)
                if spec.details:  # ADetailer's pass
                    image = self.detailer(inpainter(model, spec, self.prompts, negative), spec, image, seeds[i],
                                          emit, cancel)  # fmt: skip
                item_info = RenderInfo(**{**info.__dict__, "index": first + i, "seconds": seconds})
                recipe = recipe_of_engine(spec.for_image(first + i), model)
                item = keep(self.store, image, recipe, item_info, emit)
                if item and spec.filmstrip and i == 0 and state.get("frames"):  # the last frame: the picture
                    write_filmstrip([*state["frames"][:-1], image], filmstrip_path(item.path))
                saved += [item] if item else []
        return saved

    def load(self, spec: GenerateSpec, emit: Emit, needs_torch: str = "") -> LoadedModel:
        """The job's model, loaded for the engine that runs it here (``needs_torch``: why it cannot be OpenVINO)."""
        from studio.core.jobs.events import Loading

        engine = engine_for(
            spec, emit, self._options(), self._placement().device, self._openvino_cache(), needs_torch
        )
        return self.cache.get(spec.model, lambda name: emit(Loading(what=f"Loading {name}…")), engine)

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

        from studio.core.image.recipe import LANCZOS, LATENT
        from studio.core.jobs.events import Loading
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
            second.update(control_call(controls, (width, height), "img2img", None, None, emit))
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
        from studio.core.jobs.events import Loading

        nets = []
        for unit in controls:
            emit(Loading(what=f"Loading the ControlNet {unit.model_name}…"))
            nets.append(self.guidance.controlnet(unit.model, model))
        return nets[0] if len(nets) == 1 else nets

    def upscale(self, spec: UpscaleSpec, cancel: CancelToken, emit: Emit) -> list[SavedImage]:
        """An upscaled copy of a picture, saved as its child: the source's recipe with AUTOMATIC1111's
        *Postprocess upscale by* / *Postprocess upscaler* added."""
        from studio.core.image.recipe import LANCZOS
        from studio.core.image.recipe_readers import read_recipe
        from studio.core.image.specs import MAX_UPSCALED
        from studio.core.jobs.events import Loading
        from studio.engine.upscale import upscale

        cancel.raise_if_cancelled()
        try:
            with open_picture(spec.image) as raw:
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
        info = RenderInfo(device=self._placement().device, seconds=time.perf_counter() - started,
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

    def _tiny(self, model: LoadedModel, needed: bool = False) -> Any:
        """The tiny autoencoder for this model's family (loaded once per model), or None when there is none (a
        sentence for Fast decode when ``needed``)."""
        path = self._tiny_vae(model.family)
        if path is None and needed:
            raise StudioError(ErrorKind.INVALID_INPUT, NO_TINY_VAE, field="fast_decode")
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
        from studio.core.jobs.events import Loading

        path = Path(model.path)
        if path.is_file() and not self.hashes.known(path):
            emit(Loading(what=f"Computing the hash of {path.name} (once)…"))
        model_hash = self.hashes.a1111_model_hash(path) if path.is_file() else ""
        loras = {lo.name: self.hashes.a1111_lora_hash(Path(lo.path)) for lo in spec.loras}
        vae_hash = (
            self.hashes.a1111_model_hash(Path(spec.vae)) if spec.vae and Path(spec.vae).is_file() else ""
        )
        return RenderInfo(
            engine=engine_name(model),
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


def keep(store: GalleryStore, image: Image.Image, recipe: GenerateSpec, info: RenderInfo, emit: Emit
         ) -> SavedImage | None:  # fmt: skip
    """Save one picture of a batch; one the content filter holds back is told and skipped, not the batch."""
    try:
        item = store.save(image, recipe, info)
    except StudioError as e:
        if e.kind != ErrorKind.BLOCKED:
            raise
        emit(Note(text=e.user_message))
        return None
    emit(ItemSaved(item=item))
    return item


def _recipe_of(path: str, info: dict[Any, Any], recipe: Any) -> GenerateSpec:
    """The recipe an upscaled copy carries: its source's own (Studio's exact spec, or what another tool wrote),
    with the source as its parent."""
    from studio.core.image.image_metadata import own_recipe, record_from_info

    own = own_recipe(record_from_info(info))
    if own is not None:
        return own.replace(parent_image=path)
    return GenerateSpec(model=recipe.model or "", prompt=recipe.prompt, negative_prompt=recipe.negative_prompt,
                        seed=recipe.seed if isinstance(recipe.seed, int) and recipe.seed >= 0 else 0,
                        width=recipe.width or 512, height=recipe.height or 512, parent_image=path)  # fmt: skip
