"""Studio job ÷ bare diffusers call, same tiny model, same parameters, same process."""

from __future__ import annotations

import os
import queue
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))


def main(reps: int = 15, size: int = 64, steps: int = 20) -> None:
    import torch
    from diffusers import EulerDiscreteScheduler

    from studio.core.image.specs import GenerateSpec
    from studio.core.jobs.events import Failed, Finished
    from studio.runtime import build_runtime
    from tests.tiny_models import build_sd_pipeline

    torch.set_num_threads(os.cpu_count() or 1)
    tmp = Path(tempfile.mkdtemp(prefix="studio-bench-"))
    model = tmp / "model"
    build_sd_pipeline(channels=(64, 128)).save_pretrained(str(model))

    rt = build_runtime(tmp / "home")
    rt.settings.preview_interval_s = 0.25
    done: queue.Queue = queue.Queue()
    rt.subscribe(lambda e: isinstance(e, Finished | Failed) and done.put(e))
    spec = GenerateSpec(
        model=str(model),
        prompt="a red circle on a blue background",
        negative_prompt="blurry",
        width=size,
        height=size,
        steps=steps,
        cfg_scale=7.0,
        seed=1,
        sampler="Euler",
        schedule="Automatic",
    )

    def studio_job() -> float:
        t = time.perf_counter()
        rt.runner.submit(spec)
        e = done.get()
        assert isinstance(e, Finished), e
        return time.perf_counter() - t

    studio_job()  # load + warm up
    pipe = rt.image_engine.cache.loaded.by_mode["txt2img"]
    bare_scheduler = EulerDiscreteScheduler.from_config(pipe.scheduler.config)

    def bare_call() -> float:
        # On the runner's thread too: torch's OpenMP team belongs to the calling thread, and two teams
        # taking turns on 2 cores would slow whichever ran second (their idle workers spin).
        result: queue.Queue = queue.Queue()

        def call() -> None:
            t = time.perf_counter()
            pipe.scheduler = bare_scheduler
            pipe(
                "a red circle on a blue background",
                negative_prompt="blurry",
                width=size,
                height=size,
                num_inference_steps=steps,
                guidance_scale=7.0,
                generator=torch.Generator("cpu").manual_seed(1),
            )
            result.put(time.perf_counter() - t)

        rt.runner.call_soon(call)
        return result.get()

    bare_call()
    studio_times, bare_times = [], []
    for _ in range(reps):
        bare_times.append(bare_call())
        studio_times.append(studio_job())
    s, b = statistics.median(studio_times), statistics.median(bare_times)
    print(
        f"tiny SD (UNet 64/128), {size}x{size}, {steps} steps, {reps} alternating reps, "
        f"{torch.get_num_threads()} threads"
    )
    print(f"bare diffusers call : median {b * 1000:.1f} ms, best {min(bare_times) * 1000:.1f} ms")
    print(
        f"Studio job          : median {s * 1000:.1f} ms, best {min(studio_times) * 1000:.1f} ms "
        "(queue, events, previews, PNG + metadata, index)"
    )
    print(
        f"overhead ratio      : median {s / b:.3f}, best-of {min(studio_times) / min(bare_times):.3f}  "
        "(target <= 1.05)"
    )
    rt.close()


if __name__ == "__main__":
    main()
