"""Finishing at print size: a hires fix ×2 of a 512² picture and a tiled ×4 upscale of a 512² picture, each as a
Studio job (queue → runner → engine → PNG with its recipe) ÷ the same work done with bare diffusers / spandrel
calls on the same thread, alternating; and the peak memory each adds (resident set, sampled every 2 ms).

The model is SD-shaped with random weights, small enough for a 2-core CPU: an 8× VAE of 8 M parameters (so 512²
is 64² latents, as in SD), a 2-level UNet with attention at the lower level; the upscaler a Real-ESRGAN compact net ×4 (64
features, 16 convolutions: realesr-general-x4v3's shape). Targets: time ratio ≤ 1.05; the tiled upscale's
peak within the stated bound (the output picture in float32 twice, plus 160 MB), whatever the input size.
"""

from __future__ import annotations

import os
import queue
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
MB = 1024 * 1024


class PeakRss:
    """The largest resident set seen while the block runs, above what it was when the block began."""

    def __enter__(self) -> PeakRss:
        import psutil

        self._proc = psutil.Process()
        self.start = self._proc.memory_info().rss
        self.peak = self.start
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)
        self._thread.start()
        return self

    def _watch(self) -> None:
        while not self._stop.wait(0.002):
            self.peak = max(self.peak, self._proc.memory_info().rss)

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self._proc.memory_info().rss)

    @property
    def added(self) -> int:
        return self.peak - self.start


def build_model(folder: Path) -> None:
    import torch
    from diffusers import AutoencoderKL, StableDiffusionPipeline
    from transformers import CLIPTokenizer

    from tests.tiny_models import _scheduler, _text_encoder, _unet, build_tokenizer

    torch.manual_seed(0)
    tok = CLIPTokenizer.from_pretrained(str(build_tokenizer(Path(tempfile.mkdtemp()))), model_max_length=77)
    # above 5 M parameters, so the live preview is the cheap latent approximation, as for SD's own VAE
    vae = AutoencoderKL(block_out_channels=(32, 64, 128, 256), in_channels=3, out_channels=3, latent_channels=4,
                        down_block_types=("DownEncoderBlock2D",) * 4, up_block_types=("UpDecoderBlock2D",) * 4,
                        norm_num_groups=32, sample_size=512)  # fmt: skip
    unet = _unet(block_out_channels=(64, 128), cross_attention_dim=32, attention_head_dim=8)
    StableDiffusionPipeline(vae=vae, text_encoder=_text_encoder(tok), tokenizer=tok, unet=unet,
                            scheduler=_scheduler(), safety_checker=None, feature_extractor=None,
                            requires_safety_checker=False).save_pretrained(str(folder))  # fmt: skip


def build_upscaler(path: Path) -> None:
    import torch
    from safetensors.torch import save_file

    from studio.engine.upscale import _import_spandrel

    _import_spandrel()
    from spandrel.architectures.Compact import Compact

    torch.manual_seed(0)
    net = Compact(num_feat=64, num_conv=16, upscale=4)
    path.parent.mkdir(parents=True, exist_ok=True)
    save_file({k: v.contiguous() for k, v in net.state_dict().items()}, str(path))


def main(reps: int = 3, steps: int = 10) -> None:
    import numpy as np
    import torch
    from diffusers import AutoPipelineForImage2Image, EulerDiscreteScheduler
    from PIL import Image

    from studio.core.image.specs import GenerateSpec, UpscaleSpec
    from studio.core.jobs.events import Failed, Finished
    from studio.runtime import build_runtime

    tmp = Path(tempfile.mkdtemp(prefix="studio-bench-finish-"))
    model, upscaler = tmp / "model", tmp / "x4-compact.safetensors"
    build_model(model)
    build_upscaler(upscaler)
    rt = build_runtime(tmp / "home")
    rt.settings.preview_interval_s = 0.25
    done: queue.Queue = queue.Queue()
    rt.subscribe(lambda e: isinstance(e, Finished | Failed) and done.put(e))

    def studio(spec: object) -> tuple[float, int]:
        with PeakRss() as mem:
            t = time.perf_counter()
            rt.runner.submit(spec)
            e = done.get()
            elapsed = time.perf_counter() - t
        assert isinstance(e, Finished), e
        return elapsed, mem.added

    def on_runner(fn) -> tuple[float, int]:  # noqa: ANN001 - the bare work
        result: queue.Queue = queue.Queue()

        def call() -> None:
            with PeakRss() as mem:
                t = time.perf_counter()
                fn()
                elapsed = time.perf_counter() - t
            result.put((elapsed, mem.added))

        rt.runner.call_soon(call)
        return result.get()

    # -- hires fix ×2: 512² txt2img, Lanczos to 1024², img2img at denoising 0.5 ------------------------------------
    prompt, negative = "a lighthouse at dusk, oil painting", "blurry"
    hires = GenerateSpec(model=str(model), prompt=prompt, negative_prompt=negative, width=512, height=512,
                         steps=steps, cfg_scale=7.0, seed=1, sampler="Euler", schedule="Automatic",
                         hires_scale=2.0, hires_steps=steps, hires_denoise=0.5, hires_upscaler="Lanczos")  # fmt: skip
    studio(hires)  # load + warm up
    loaded = rt.image_engine.cache.loaded
    base = loaded.by_mode["txt2img"]
    refine = AutoPipelineForImage2Image.from_pipe(base)
    base.set_progress_bar_config(disable=True)
    refine.set_progress_bar_config(disable=True)
    euler = EulerDiscreteScheduler.from_config(loaded.scheduler_config)

    def bare_hires() -> None:
        base.scheduler = euler
        refine.scheduler = euler
        first = base(prompt, negative_prompt=negative, width=512, height=512, num_inference_steps=steps,
                     guidance_scale=7.0, generator=torch.Generator("cpu").manual_seed(1)).images[0]  # fmt: skip
        big = first.resize((1024, 1024), Image.Resampling.LANCZOS)
        out = refine(prompt, negative_prompt=negative, image=big, strength=0.5, num_inference_steps=steps,
                     guidance_scale=7.0, generator=torch.Generator("cpu").manual_seed(1)).images[0]  # fmt: skip
        out.save(tmp / "bare-hires.png")

    on_runner(bare_hires)
    hs, hb = [], []
    for _ in range(reps):
        hb.append(on_runner(bare_hires))
        hs.append(studio(hires))

    # -- tiled ×4 upscale of a 512² picture -------------------------------------------------------------------------
    rng = np.random.default_rng(0)
    source = tmp / "source.png"
    Image.fromarray(rng.integers(0, 255, (512, 512, 3), dtype=np.uint8)).save(source)
    up_spec = UpscaleSpec(image=str(source), scale=4.0, upscaler=str(upscaler), tile=256)
    studio(up_spec)  # load + warm up
    from studio.engine.upscale import _import_spandrel, tile_spans

    _import_spandrel()
    from spandrel import ModelLoader

    net = ModelLoader().load_from_file(str(upscaler)).eval()

    def bare_tiles() -> None:  # the same tiles, by bare spandrel calls, pasted without blending
        rgb = np.asarray(Image.open(source).convert("RGB"), dtype=np.float32) / 255.0
        out = np.zeros((2048, 2048, 3), dtype=np.float32)
        for y0, y1 in tile_spans(512, 256, 16):
            for x0, x1 in tile_spans(512, 256, 16):
                patch = torch.from_numpy(rgb[y0:y1, x0:x1].transpose(2, 0, 1).copy())[None]
                with torch.inference_mode():
                    res = net(patch)[0].clamp(0, 1).numpy()
                out[y0 * 4 : y1 * 4, x0 * 4 : x1 * 4] = res.transpose(1, 2, 0)
        Image.fromarray((out * 255 + 0.5).astype(np.uint8)).save(tmp / "bare-up.png")

    def bare_whole() -> None:  # the whole picture in one call: no bound on memory
        rgb = np.asarray(Image.open(source).convert("RGB"), dtype=np.float32) / 255.0
        with torch.inference_mode():
            res = net(torch.from_numpy(rgb.transpose(2, 0, 1).copy())[None])[0].clamp(0, 1).numpy()
        Image.fromarray((res.transpose(1, 2, 0) * 255 + 0.5).astype(np.uint8)).save(tmp / "bare-whole.png")

    on_runner(bare_tiles)
    us, ub = [], []
    for _ in range(reps):
        ub.append(on_runner(bare_tiles))
        us.append(studio(up_spec))
    whole = on_runner(bare_whole)

    def med(xs: list[tuple[float, int]], i: int) -> float:
        return statistics.median(x[i] for x in xs)

    print(
        f"{torch.get_num_threads()} threads, {reps} alternating reps, precision {loaded.placement.dtype_name}"
    )
    print(f"hires fix x2 (512² → 1024², {steps}+{steps} steps, Lanczos, denoise 0.5)")
    print(f"  bare diffusers : {med(hb, 0):6.2f} s   peak +{med(hb, 1) / MB:6.0f} MB")
    print(f"  Studio job     : {med(hs, 0):6.2f} s   peak +{med(hs, 1) / MB:6.0f} MB")
    print(f"  time ratio     : {med(hs, 0) / med(hb, 0):.3f}   (target <= 1.05)")
    bound = 2 * 2048 * 2048 * 3 * 4 + 160 * MB
    print("tiled x4 upscale (512² → 2048², Real-ESRGAN compact x4, 256 px tiles)")
    print(f"  bare spandrel, same tiles : {med(ub, 0):6.2f} s   peak +{med(ub, 1) / MB:6.0f} MB")
    print(f"  bare spandrel, whole image: {whole[0]:6.2f} s   peak +{whole[1] / MB:6.0f} MB")
    print(f"  Studio job                : {med(us, 0):6.2f} s   peak +{med(us, 1) / MB:6.0f} MB "
          f"(bound {bound / MB:.0f} MB: {'within' if med(us, 1) <= bound else 'ABOVE'})")  # fmt: skip
    print(f"  time ratio                : {med(us, 0) / med(ub, 0):.3f}   (target <= 1.05)")
    rt.close()


if __name__ == "__main__":
    main()
