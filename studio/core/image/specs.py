"""The frozen recipe of an image job. It is the job, and it is the image's metadata."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from studio.core.image import recipe_words as W
from studio.core.image.detail import DetailUnit, detail_entries, read_details
from studio.core.image.recipe_words import LATENT
from studio.core.image.regions import REGION_MODES, RegionUnit, read_regions, region_entries
from studio.core.image.samplers import DEFAULT_SAMPLER, DEFAULT_SCHEDULE, SAMPLERS, SCHEDULES, parse_sampler
from studio.core.image.units import ControlUnit, ReferenceUnit, model_name_of
from studio.core.jobs import MAX_SEED, RANDOM_SEED, JobKind
from studio.core.jobs.fields import Section, Words, aside, derived, knob, on_node, refused, unwritten

SPEC_VERSION = 1
MIN_SIZE, MAX_SIZE = 32, 4096
MAX_STEPS = 500
MAX_BATCH = 16
MAX_COUNT = 100
CPU_ENGINES = ("auto", "torch", "openvino", "openvino-int8")


@dataclass(frozen=True)
class LoraRef:
    """A LoRA applied to a job: the file and its weight. ``name`` is what ``<lora:name:w>`` calls it."""

    path: str
    weight: float = 1.0

    @property
    def name(self) -> str:
        return Path(self.path).stem


@dataclass(frozen=True)
class EmbeddingRef:
    """A textual-inversion embedding a prompt uses by its name (AUTOMATIC1111's way: the file name is the word)."""

    name: str
    path: str


ALL_BACKENDS = "all"  # a recipe's backend: every backend that can run it, the pictures shared out by seed


def _set(name: str) -> Callable[[Any], bool]:
    """True when a spec's field is not its default (what most A1111 words and ComfyUI refusals wait for)."""
    return lambda spec: bool(getattr(spec, name))


def _hires(spec: Any) -> bool:
    return bool(spec.hires)


@dataclass(frozen=True)
class GenerateSpec:
    """Everything needed to reproduce an image job exactly — and the image recipe's field table: each knob is
    declared here once, with its default, range, help and meaning (A1111 words, ComfyUI node or refusal, plot axis,
    section in the Image room). ``recipes.image.IMAGE`` is made from these declarations."""

    kind: ClassVar[JobKind] = JobKind.IMAGE

    # fmt: off
    model: str = knob(draft="", label="Model", help="The Stable Diffusion model (SD 1.x/2.x or SDXL): a diffusers "
        "folder or a .safetensors file (default: the last used, else the built-in demo).", metavar="PATH",
        words=Words("Model", 100, write=lambda s: s.model_name, read=W.read_model),
        comfy=on_node("CheckpointLoaderSimple", "ckpt_name"), axis=True, section=Section.MODEL, custom=True)
    prompt: str = knob(draft="", label="Prompt", help="What to draw. A1111 syntax: (word:1.2), [word], BREAK, "
        "<lora:name:0.8>.", cli="", words=unwritten("the text's first lines"),
        comfy=on_node("CLIPTextEncode", "text"), axis=True, section=Section.PROMPT, custom=True)
    negative_prompt: str = knob("", label="Negative prompt", help="What to keep out of the picture.",
        cli="--negative", words=unwritten("the text's 'Negative prompt:' line"),
        comfy=on_node("CLIPTextEncode", "text"), axis=True, section=Section.PROMPT, custom=True)
    width: int = knob(512, label="Width", help="Image width in pixels, a multiple of 8; SD 1.x likes 512, SDXL 1024.",
        minimum=MIN_SIZE, maximum=MAX_SIZE, unit="px", step=64, multiple_of=8,
        words=Words("Size", 60, write=lambda s: f"{s.width}x{s.height}", read=W.read_size),
        comfy=on_node("EmptyLatentImage", "width"), axis=True, section=Section.SIZE, custom=True)
    height: int = knob(512, label="Height", help="Image height in pixels, a multiple of 8.", minimum=MIN_SIZE,
        maximum=MAX_SIZE, unit="px", step=64, multiple_of=8, words=unwritten("written with the width, as Size"),
        comfy=on_node("EmptyLatentImage", "height"), axis=True, section=Section.SIZE, custom=True)
    steps: int = knob(25, label="Steps", help="Denoising steps: more is slower and usually finer; 20–30 suits most "
        "samplers.", minimum=1, maximum=MAX_STEPS, words=Words("Steps", 10), comfy=on_node("KSampler", "steps"),
        axis=True, section=Section.SAMPLING, custom=True)
    cfg_scale: float = knob(7.0, label="CFG scale", help="How strictly the image follows the prompt: 5–8 is "
        "typical; LCM and Turbo models want 0–2.", minimum=0.0, maximum=30.0, step=0.5, decimals=1, cli="--cfg",
        words=Words("CFG scale", 40, write=lambda s: float(s.cfg_scale)), comfy=on_node("KSampler", "cfg"), axis=True,
        section=Section.SAMPLING, custom=True)
    eta: float = knob(0.0, label="Eta", help="DDIM only: how much fresh noise each step adds (0: DDIM's "
        "deterministic path, 1: as much as DDPM); other samplers ignore it.", minimum=0.0, maximum=1.0, step=0.05,
        decimals=2, words=Words("Eta DDIM", 125, when=_set("eta")),
        comfy=refused("ComfyUI's KSampler has no eta; set it to 0 for a server."), axis=True,
        section=Section.SAMPLING)
    seed: int = knob(0, draft=RANDOM_SEED, label="Seed", help="The same seed and settings give the same image; −1 "
        "draws a new one (it becomes a number before the job runs).", minimum=RANDOM_SEED, maximum=MAX_SEED,
        special=((RANDOM_SEED, "a new random seed"),), words=Words("Seed", 50), comfy=on_node("KSampler", "seed"),
        axis=True, section=Section.SEED, custom=True)
    sampler: str = knob(DEFAULT_SAMPLER, label="Sampler", help="The sampler by its AUTOMATIC1111 name (\"Euler a\", "
        "\"DPM++ 2M\"; \"DPM++ 2M Karras\" sets the schedule too).", choices=tuple(SAMPLERS),
        words=Words("Sampler", 20, read=W.read_sampler), comfy=on_node("KSampler", "sampler_name"), axis=True,
        section=Section.SAMPLING, custom=True)
    schedule: str = knob(DEFAULT_SCHEDULE, label="Schedule type", help="How the noise levels are spaced; Karras "
        "spends more steps on fine detail.", choices=SCHEDULES,
        words=Words("Schedule type", 30, when=lambda s: s.schedule != "Automatic", read=W.nothing),
        comfy=on_node("KSampler", "scheduler"), axis=True, section=Section.SAMPLING, custom=True)
    batch_size: int = knob(1, label="Batch size", help="Images made at once: faster per image on a GPU, needs more "
        "memory.", minimum=1, maximum=MAX_BATCH, words=unwritten("a saved picture is a batch of one"),
        comfy=aside("a server makes one workflow per picture, each with its own seed"), axis=True,
        section=Section.SEED, custom=True)
    batch_count: int = knob(1, label="Batch count", help="How many batches to make, one after another (consecutive "
        "seeds).", minimum=1, maximum=MAX_COUNT, words=unwritten("a saved picture is a batch of one"),
        comfy=aside("a server makes one workflow per picture, each with its own seed"), axis=True,
        section=Section.SEED, custom=True)
    clip_skip: int = knob(1, label="Clip skip", help="Use an earlier text-encoder layer; many anime models want 2.",
        minimum=1, maximum=12, words=Words("Clip skip", 120, when=lambda s: s.clip_skip > 1),
        comfy=on_node("CLIPSetLastLayer"), axis=True, section=Section.SEED, custom=True)
    loras: tuple[LoraRef, ...] = knob((), label="LoRAs", help="A LoRA by its name in the library or a path, with a "
        "weight (0.7–1.0 is typical); repeatable. Tags <lora:name:w> in the prompt do the same.", cli="--lora",
        metavar="NAME[:W]", words=unwritten("written into the prompt as <lora:name:w> tags, hashed as Lora hashes"),
        comfy=on_node("LoraLoader", "lora_name"), axis=True, section=Section.LORAS, custom=True)
    init_image: str | None = knob(None, type=str, label="Init image", help="Start from this image (image to image).",
        metavar="IMAGE", words=unwritten("A1111 does not write the init image"), comfy=on_node("LoadImage", "image"),
        axis=False, section=Section.INIT, custom=True)
    strength: float = knob(0.75, label="Denoising strength", help="For image to image and inpainting: 0.3 keeps the "
        "init image's look, 0.75 its layout, 1 replaces it.", minimum=0.01, maximum=1.0, step=0.05, decimals=2,
        words=Words("Denoising strength", 110, when=lambda s: bool(s.init_image) and s.mode != "outpaint", write=lambda s: float(s.strength), read=W.read_strength,),
        comfy=on_node("KSampler", "denoise"), axis=True, section=Section.INIT, custom=True)
    mask: str | None = knob(None, type=str, label="Mask", help="Inpaint where this mask is white (needs an init "
        "image).", metavar="IMAGE", words=unwritten("A1111 does not write the mask"),
        comfy=on_node("SetLatentNoiseMask"), axis=False, section=Section.INIT, custom=True)
    mask_blur: int = knob(4, label="Mask blur", help="Feathers the edge where the repainted area meets the original.",
        minimum=0, maximum=64, unit="px",
        words=Words("Mask blur", 130, when=lambda s: bool(s.mask) or s.mode == "outpaint"),
        comfy=aside("the repainted area is pasted back here, with this blur"), axis=True, section=Section.INIT,
        custom=True)
    parent_image: str | None = knob(None, type=str, label="Made from", help="The gallery image the init image came "
        "from (lineage).", cli="", words=unwritten("lineage is Studio's own (the studio chunk)"),
        comfy=aside("lineage, kept in the recipe"), axis=False, section=Section.NONE)
    fast_decode: bool = knob(False, label="Fast decode", help="Decode the final image with the tiny autoencoder "
        "(TAESD) when one is installed: several times faster, a little softer.",
        words=Words("VAE", 150, when=_set("fast_decode"), write=lambda s: "taesd", read=W.read_vae),
        comfy=refused("The fast preview decoder is this machine's; turn it off for a server."), axis=True,
        section=Section.SEED, custom=True)
    hires_scale: float = knob(1.0, label="Hires upscale", help="Hires fix: make the picture at its size, upscale it "
        "by this factor and refine it with an image-to-image pass (1: off).", minimum=1.0, maximum=4.0, step=0.25,
        decimals=2, cli="--hires",
        words=Words("Hires upscale", 190, when=_hires, write=lambda s: float(s.hires_scale), read=W.read_hires_scale, keys=("Hires steps",),),
        comfy=on_node("LatentUpscale"), axis=True, section=Section.HIRES, custom=True)
    hires_steps: int = knob(0, label="Hires steps", help="Steps of the refining pass (0: as many as the first pass).",
        minimum=0, maximum=MAX_STEPS,
        words=Words("Hires steps", 200, when=lambda s: s.hires and s.hires_steps > 0, read=W.nothing),
        comfy=on_node("KSampler", "steps"), axis=True, section=Section.HIRES, custom=True)
    hires_denoise: float = knob(0.5, label="Hires denoising", help="How much the refining pass may change: 0.3 "
        "keeps the picture, 0.7 reinvents detail.", minimum=0.0, maximum=1.0, step=0.05, decimals=2,
        words=Words("Denoising strength", 110, when=_hires, write=lambda s: float(s.hires_denoise), read=W.read_hires_denoise,),
        comfy=on_node("KSampler", "denoise"), axis=True, section=Section.HIRES, custom=True)
    hires_upscaler: str = knob(LATENT, label="Hires upscaler", help="Latent (fast, needs denoising ≥ 0.5), Lanczos, "
        "or an upscaler model (ESRGAN, Real-ESRGAN, …) by its name or path.", metavar="NAME",
        words=Words("Hires upscaler", 210, when=_hires, write=lambda s: W.upscaler_name(s.hires_upscaler), read=W.read_hires_upscaler,),
        comfy=on_node("UpscaleModelLoader", "model_name"), axis=True, section=Section.HIRES, custom=True)
    vae: str = knob("", label="VAE", help="Decode with another VAE (a file by its name or path, or a diffusers VAE "
        "folder); empty: the model's own, or the default you set for the model in the Models room.",
        metavar="PATH|NAME",
        words=Words("VAE", 150, when=lambda s: bool(s.vae) and not s.fast_decode, write=lambda s: Path(s.vae).name, keys=("VAE hash",), read=W.nothing,),
        comfy=on_node("VAELoader", "vae_name"), axis=True, section=Section.MODEL, custom=True)
    outpaint: tuple[int, int, int, int] = knob((0, 0, 0, 0), draft="", type=str, label="Extend canvas", help="Outpain"
        "ting: grow the init image by this many pixels on its left, top, right and bottom (\"0,0,256,0\" widens it to "
        "the right); the new area is painted to match, with a blended seam.", metavar="L,T,R,B",
        words=Words("Outpaint", 160, when=lambda s: s.mode == "outpaint", write=lambda s: ",".join(map(str, s.outpaint)), read=W.read_outpaint,),
        comfy=refused("Outpainting does not run on ComfyUI servers yet: run this job here.", when=lambda s: any(s.outpaint),),
        axis=True, section=Section.INIT, custom=True)
    prompt_2: str = knob("", label="Second prompt", help="SDXL only: the prompt for the second text encoder "
        "(OpenCLIP ViT-bigG), e.g. the style while the prompt says the subject; empty: the prompt.", cli="--prompt-2",
        words=unwritten("A1111 has no second prompt"),
        comfy=refused("A second SDXL prompt does not run on ComfyUI servers yet.", when=lambda s: bool(s.prompt_2) and s.prompt_2 != s.prompt,),
        axis=True, section=Section.PROMPT, custom=True)
    idea: str = knob("", label="Idea", help="The short idea or passage the prompt was written from (Enhance prompt, "
        "Illustrate, Describe); kept in the recipe.", cli="--idea",
        words=Words("Idea", 260, when=lambda s: bool(s.idea.strip()), write=lambda s: s.idea.strip()[:500]),
        comfy=aside("what the prompt was written from, kept in the recipe"), axis=True, section=Section.NONE)
    filmstrip: bool = knob(False, label="Denoising filmstrip", help="Also keep the model's predicted final picture "
        "after every step (noise to picture), to scrub through and export; costs a decode per step.",
        cli="--filmstrip", words=unwritten("Studio's own: the frames lie beside the picture"),
        comfy=refused("A ComfyUI server does not send the predicted picture of every step."), axis=True,
        section=Section.SEED, custom=True)
    refiner: str = knob("", label="Refiner", help="SDXL only: a refiner model (diffusers folder or .safetensors) "
        "that makes the last steps, from the switch point on.", metavar="PATH",
        words=Words("Refiner", 170, when=_set("refiner"), write=lambda s: Path(s.refiner).stem, read=W.read_refiner),
        comfy=refused("The SDXL refiner does not run on ComfyUI servers yet: run this job here."), axis=True,
        section=Section.MODEL, custom=True)
    refiner_switch: float = knob(0.8, label="Refiner switch at", help="The fraction of the steps the base model "
        "makes before the refiner takes over.", minimum=0.05, maximum=0.99, step=0.05, decimals=2,
        words=Words("Refiner switch at", 180, when=_set("refiner"), write=lambda s: float(s.refiner_switch), read=W.nothing,),
        comfy=aside("used only with a refiner, which a server refuses"), axis=True, section=Section.MODEL,
        custom=True)
    variation_seed: int = knob(0, draft=RANDOM_SEED, label="Variation seed", help="Variations (AUTOMATIC1111's): "
        "the noise of this seed is blended into the seed's by the variation strength; −1 draws one. Each image of "
        "the job takes the next variation seed and keeps the seed.", minimum=RANDOM_SEED, maximum=MAX_SEED,
        special=((RANDOM_SEED, "a new random seed"),),
        words=Words("Variation seed", 70, when=lambda s: s.variation_strength > 0, read=W.read_variation),
        comfy=aside("blended in only with a variation strength, which a server refuses"), axis=True,
        section=Section.SEED, custom=True)
    variation_strength: float = knob(0.0, label="Variation strength", help="How far from the seed's picture: 0 is "
        "the seed's own picture, 0.1–0.3 a close variation, 1 the variation seed's picture.", minimum=0.0,
        maximum=1.0, step=0.05, decimals=2,
        words=Words("Variation seed strength", 80, when=_set("variation_strength"), write=lambda s: float(s.variation_strength), read=W.nothing,),
        comfy=refused("ComfyUI's stock nodes have no variation seed."), axis=True, section=Section.SEED, custom=True)
    styles: tuple[str, ...] = knob((), label="Styles", help="Named prompt styles (A1111's styles.csv, Fooocus "
        "styles): each wraps the prompt ({prompt}) or follows it, and adds its negative prompt; repeatable.",
        cli="--style", metavar="NAME",
        words=Words("Styles", 250, when=_set("styles"), write=lambda s: ", ".join(s.styles), read=W.nothing),
        comfy=aside("applied to the prompt when the job is frozen"), axis=False, section=Section.PROMPT, custom=True)
    combinatorial: bool = knob(False, label="Every combination", help="Dynamic prompts: make every combination of "
        "the {a|b} choices and __wildcards__ in order, instead of a random draw per image (its seed decides).",
        cli="--combinatorial", words=unwritten("a saved picture holds the prompt it drew"),
        comfy=aside("the prompts are drawn when the job is frozen"), axis=True, section=Section.SEED, custom=True)
    controls: tuple[ControlUnit, ...] = knob((), label="ControlNet", help="ControlNet units: where things go. Each "
        "is a control image, a preprocessor (canny, softedge, lineart, scribble, tile, inpaint, depth, pose, none), "
        "a ControlNet model of the image model's family, its weight (0–2) and, in a recipe, start/end; repeatable.",
        cli="--control", metavar="PREPROCESSOR:IMAGE:MODEL[:WEIGHT[:START:END]]",
        words=Words("ControlNet", 220, write=W.unit_entries, read=W.read_units, many=True),
        comfy=on_node("ControlNetApplyAdvanced", "strength"), axis=False, section=Section.CONTROLNET, custom=True)
    references: tuple[ReferenceUnit, ...] = knob((), label="Reference images", help="IP-Adapter: what the picture "
        "should look like, with a weight (0.5–0.8 is typical); the IP-Adapter and its image encoder are found for "
        "the model's family in the models folder; repeatable.", cli="--reference", metavar="IMAGE[:W]",
        words=Words("ControlNet", 221, write=W.reference_entries, read=W.nothing, many=True),
        comfy=refused("Reference images (IP-Adapter) need a ComfyUI extension: run this job here."), axis=False,
        section=Section.REFERENCES, custom=True)
    regions: tuple[RegionUnit, ...] = knob((), label="Regions", help="Regional prompts: a part of the picture "
        "(a box as fractions of the width and height, or a mask whose white marks it) with its own prompt and "
        "weight (its share there, 0–1) over the prompt, which holds everywhere else; SD 1.x/2.x and SDXL; "
        "repeatable.", cli="--region", metavar="X0,Y0,X1,Y1:PROMPT[:W]|MASK.png:PROMPT[:W]",
        words=Words("Region", 222, write=region_entries, read=read_regions, many=True),
        comfy=refused("Regional prompts are applied on this machine only: run this job here."), axis=False,
        section=Section.REGIONS, custom=True)
    region_mode: str = knob("attention", label="Region mode", help="How regions share the picture: attention "
        "(each region's words attend only to its area, inside one pass of the model) or denoise (the model runs "
        "once per prompt each step and the predictions are blended by area: slower, harder edges).",
        choices=REGION_MODES, cli="--region-mode", special=(("attention", "Attention (one pass)"),
                                                             ("denoise", "Denoise (a pass per prompt)")),
        words=Words("Regional mode", 223, when=lambda s: bool(s.regions)),
        comfy=aside("regions are refused on a server"), axis=True, section=Section.REGIONS)
    details: tuple[DetailUnit, ...] = knob((), label="Detailer", help="Find faces, hands or anything named in "
        "words in the finished picture and redraw each at the picture's size with its own prompt (ADetailer); needs "
        "a detector (OWLv2) in the models folder, and uses Segment Anything's outlines when present; repeatable.",
        cli="--detail", metavar="TARGET[:PROMPT]",
        words=Words("ADetailer", 300, write=detail_entries, read=read_details, many=True),
        comfy=refused("The detailer runs on this machine only: run this job here."), axis=False,
        section=Section.DETAILER, custom=True)
    backend: str = knob("", label="Runs on", help="Where the picture is made: empty for this machine, or a ComfyUI "
        "server by the name it was saved under (studio backends add); the model, LoRAs and VAE are then the "
        "server's, by file name.", metavar="NAME", words=unwritten("where it ran is not part of the picture"),
        comfy=aside("the server itself"), axis=True, section=Section.MODEL, custom=True)
    cpu_engine: str = knob("auto", label="CPU engine", help="What runs the model on a CPU: OpenVINO (faster; "
        "converts each model once, cached beside the models), OpenVINO with int8 convolutions (faster again without bf16 "
        "instructions; made once by a short calibration run; pictures differ slightly), torch, or auto (OpenVINO where it can run "
        "the job: SD 1.x/2.x and SDXL without ControlNet or reference images; int8 on a CPU without bf16). The same engine and seed give the same picture.",
        choices=CPU_ENGINES, cli="--cpu-engine", special=(("auto", "Auto"), ("torch", "torch"), ("openvino", "OpenVINO"), ("openvino-int8", "OpenVINO, int8")),
        words=Words("CPU engine", 285, when=lambda s: s.cpu_engine != "auto"),
        comfy=aside("a server runs its own engine"), axis=True, section=Section.MODEL)
    # Filled when the job is frozen or an image saved, never set by hand:
    embeddings: tuple[EmbeddingRef, ...] = derived(unwritten("hashed as TI hashes"),
        "the embeddings whose names the prompts use (found when frozen)", ())
    prompts: tuple[str, ...] = derived(unwritten("a saved picture's recipe holds its own prompt"),
        "dynamic prompts ({a|b}, __wildcard__): each image's own prompt, drawn when frozen (empty: the prompt)", ())
    negatives: tuple[str, ...] = derived(unwritten("a saved picture's recipe holds its own negative prompt"),
        "each image's own negative prompt", ())
    template: str = derived(Words("Template", 270, when=_set("template"), read=W.nothing),
        "a saved picture's dynamic-prompt template (its prompt is the one drawn from it)", "")
    negative_template: str = derived(Words("Negative Template", 280, when=_set("negative_template"), read=W.nothing),
        "the negative prompt's template", "")
    spec_version: int = derived(unwritten("Studio's own chunk"), "the recipe format's version", SPEC_VERSION)
    # fmt: on

    @property
    def remote(self) -> bool:
        """Made on one server: its model, LoRAs and VAE are the server's (``all`` uses this machine's, matched)."""
        return bool(self.backend) and self.backend != ALL_BACKENDS

    @property
    def mode(self) -> str:
        if self.init_image and any(self.outpaint):
            return "outpaint"
        if self.init_image and self.mask:
            return "inpaint"
        if self.init_image:
            return "img2img"
        return "txt2img"

    @property
    def hires(self) -> bool:
        return self.hires_scale > 1.0 and self.mode == "txt2img"

    @property
    def hires_size(self) -> tuple[int, int]:
        """The final size with hires fix (rounded down to a multiple of 8, as AUTOMATIC1111 does)."""
        return (int(self.width * self.hires_scale) // 8 * 8, int(self.height * self.hires_scale) // 8 * 8)

    @property
    def outpaint_size(self) -> tuple[int, int]:
        """The canvas after outpainting (grown to a multiple of 8 on the right and bottom)."""
        left, top, right, bottom = self.outpaint
        return (-(-(self.width + left + right) // 8) * 8, -(-(self.height + top + bottom) // 8) * 8)

    @property
    def output_size(self) -> tuple[int, int]:
        if self.mode == "outpaint":
            return self.outpaint_size
        return self.hires_size if self.hires else (self.width, self.height)

    @property
    def image_count(self) -> int:
        return self.batch_size * self.batch_count

    @property
    def model_name(self) -> str:
        return model_name_of(self.model)

    def prompts_of(self, index: int) -> tuple[str, str]:
        """The prompt and negative prompt of the ``index``-th image."""
        return (self.prompts[index] if index < len(self.prompts) else self.prompt,
                self.negatives[index] if index < len(self.negatives) else self.negative_prompt)  # fmt: skip

    def for_image(self, index: int) -> GenerateSpec:
        """The recipe one picture of the job is saved with — that picture's own: its seed and variation seed, its
        prompts (the templates beside them), a batch of one. Made again, it makes that picture."""
        own = dataclasses.replace(self, seed=self.seed_for(index), batch_size=1, batch_count=1,
                                  variation_seed=self.variation_seed_for(index) if self.variation_strength > 0
                                  else self.variation_seed)  # fmt: skip
        if not self.prompts and not self.negatives:
            return own
        prompt, negative = self.prompts_of(index)
        return dataclasses.replace(own, prompt=prompt, negative_prompt=negative, prompts=(), negatives=(),
                                   template=self.prompt if self.prompts else "",
                                   negative_template=self.negative_prompt if self.negatives else "")  # fmt: skip

    def seed_for(self, index: int) -> int:
        """The seed of the ``index``-th image of the job (A1111: consecutive seeds; with a variation, the same
        seed and consecutive variation seeds)."""
        return (self.seed + (0 if self.variation_strength > 0 else index)) % (MAX_SEED + 1)

    def variation_seed_for(self, index: int) -> int:
        return (self.variation_seed + index) % (MAX_SEED + 1)

    def replace(self, **changes: Any) -> GenerateSpec:
        return dataclasses.replace(self, **changes)

    # -- persistence -------------------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["loras"] = [{"path": lo.path, "weight": lo.weight} for lo in self.loras]
        d["outpaint"] = list(self.outpaint)
        d["prompts"], d["negatives"], d["styles"] = (
            list(self.prompts),
            list(self.negatives),
            list(self.styles),
        )
        d["embeddings"] = [{"name": e.name, "path": e.path} for e in self.embeddings]
        d["controls"] = [dataclasses.asdict(u) for u in self.controls]
        d["references"] = [dataclasses.asdict(u) for u in self.references]
        d["regions"] = [dataclasses.asdict(u) for u in self.regions]
        d["details"] = [dataclasses.asdict(u) for u in self.details]
        d["kind"] = self.kind.value
        return d

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> GenerateSpec:
        """Load any saved version of the spec (unknown keys from newer versions are ignored). Data of the wrong
        shape raises ``ShapeError`` (a ValueError) naming the field."""
        from studio.core.io.dataclass_io import ShapeError, from_dict

        if not isinstance(data, dict):
            raise ShapeError("a recipe must be a JSON object")
        return from_dict(cls, migrate_spec(dict(data)))


@dataclass(frozen=True)
class UpscaleSpec:
    """Upscale a picture (a gallery image or any file) into a new image beside the gallery's others."""

    kind: ClassVar[JobKind] = JobKind.UPSCALE

    image: str
    scale: float = 2.0
    upscaler: str = "Lanczos"  # "Lanczos" or an upscaler model's path
    tile: int = 256  # input pixels per tile side for a model (memory stays bounded)

    @property
    def upscaler_name(self) -> str:
        return Path(self.upscaler).stem if ("/" in self.upscaler or "\\" in self.upscaler) else self.upscaler


MAX_UPSCALED = 16384  # pixels per side of an upscaled picture


def migrate_spec(d: dict[str, Any]) -> dict[str, Any]:
    from studio.core.io.untrusted import integer

    version = integer(d.get("spec_version"), 1) or 1
    # Version 1 is the first; later migrations go here as `if version < N: ...`.
    d["spec_version"] = max(version, SPEC_VERSION)
    return d


def normalize_sampler(spec_fields: dict[str, Any]) -> dict[str, Any]:
    """Accept combined A1111 names ("DPM++ 2M Karras") in a dict of spec fields."""
    name = spec_fields.get("sampler", DEFAULT_SAMPLER)
    sampler, schedule = parse_sampler(name, spec_fields.get("schedule"))
    return {**spec_fields, "sampler": sampler, "schedule": schedule}
