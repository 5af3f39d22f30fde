"""A Studio sound job with the built-in Tones ÷ the bare calls it makes (paint the spectrogram, Griffin-Lim, write
the FLAC), same process, alternating; and where a sound's time goes (denoising, Griffin-Lim, the file), with the
real-time factor (seconds of sound made per second)."""

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


def main(reps: int = 8, seconds: float = 2.0, steps: int = 20) -> None:
    import soundfile as sf
    import torch

    from studio.core.jobs.cancel import CancelToken
    from studio.core.jobs.events import Failed, Finished
    from studio.core.models.sound_models import builtin_sound_model
    from studio.core.sound.specs import SoundSpec
    from studio.engine.sound_spectrogram import Tones
    from studio.runtime import build_runtime

    torch.set_num_threads(os.cpu_count() or 1)
    tmp = Path(tempfile.mkdtemp(prefix="studio-bench-sound-"))
    rt = build_runtime(tmp / "home")
    done: queue.Queue = queue.Queue()
    rt.subscribe(lambda e: isinstance(e, Finished | Failed) and done.put(e))
    folder = builtin_sound_model()
    assert folder is not None, "the built-in Tones is missing"
    bare = Tones.load(folder, "cpu")
    frames = bare.scale.frames(seconds)

    def studio(seed: int) -> float:
        start = time.perf_counter()
        rt.runner.submit(
            SoundSpec(prompt="fast low drums", seconds=seconds, steps=steps, guidance=3.0, seed=seed)
        )
        event = done.get()
        assert isinstance(event, Finished), event
        return time.perf_counter() - start

    split: dict[str, list[float]] = {"denoise": [], "griffin-lim": [], "file": []}

    def plain(seed: int) -> float:
        t0 = time.perf_counter()
        picture = bare.paint("fast low drums", "", frames, steps, 3.0, seed, CancelToken(), lambda i, x: None)
        t1 = time.perf_counter()
        audio = bare.to_audio(picture, seed)
        t2 = time.perf_counter()
        sf.write(tmp / f"{seed}.flac", audio, bare.scale.sample_rate, format="FLAC")
        t3 = time.perf_counter()
        for key, value in zip(split, (t1 - t0, t2 - t1, t3 - t2), strict=True):
            split[key].append(value)
        return t3 - t0

    studio(0)  # loads the model
    plain(0)
    ours, theirs = [], []
    for i in range(reps):
        ours.append(studio(100 + i))
        theirs.append(plain(100 + i))
    ratio = statistics.median(ours) / statistics.median(theirs)
    print(
        f"CPU threads {torch.get_num_threads()}; {seconds} s of sound, {steps} steps, {reps} alternating runs"
    )
    print(f"Studio job {statistics.median(ours) * 1000:.0f} ms ÷ bare calls {statistics.median(theirs) * 1000:.0f} ms"
          f" = {ratio:.3f}")  # fmt: skip
    for key, values in split.items():
        print(f"  {key}: {statistics.median(values) * 1000:.0f} ms")
    print(f"real-time factor: {seconds / statistics.median(ours):.1f}× (seconds of sound per second)")
    rt.close()


if __name__ == "__main__":
    main()
