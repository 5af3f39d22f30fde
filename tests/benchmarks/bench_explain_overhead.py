"""What "See how it works" costs when it is not asked for: the same image job (tiny SD-shaped model, 64², 20 steps,
DPM++ 2M, CFG 7, a prompt with weights) run by this tree and by the tree just before that work (commit 6f4b269,
checked out with ``git worktree``), each in its own process, alternating, several jobs per round. Prints each
side's median seconds per job and the ratio (target ≤ 1.01)."""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

BEFORE = "6f4b269"  # the commit before issue 20's work
ROOT = Path(__file__).resolve().parents[2]

CHILD = r"""
import os, statistics, sys, time
os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, sys.argv[1])
from pathlib import Path
from studio.core.jobs.cancel import CancelToken
from studio.core.image.specs import GenerateSpec
from studio.runtime import build_runtime
model, home, jobs = sys.argv[2], sys.argv[3], int(sys.argv[4])
rt = build_runtime(Path(home))
spec = GenerateSpec(model=model, prompt="a (red:1.2) circle on a [blue] background, BREAK soft light",
                    negative_prompt="blurry", width=64, height=64, steps=20, cfg_scale=7.0, seed=1,
                    sampler="DPM++ 2M", schedule="Karras")
rt.image_engine.generate(spec, CancelToken(), lambda e: None)  # load + warm up
times = []
for i in range(jobs):
    t = time.perf_counter()
    rt.image_engine.generate(spec.replace(seed=i + 2), CancelToken(), lambda e: None)
    times.append(time.perf_counter() - t)
print(statistics.median(times))
rt.close(5)
"""


def main(rounds: int = 4, jobs: int = 8) -> None:
    sys.path.insert(0, str(ROOT))
    from tests.tiny_models import build_sd_pipeline

    tmp = Path(tempfile.mkdtemp(prefix="studio-bench-explain-"))
    model = tmp / "model"
    build_sd_pipeline(channels=(64, 128)).save_pretrained(str(model))
    before = tmp / "before"
    subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", str(before), BEFORE], check=True,
                   capture_output=True)  # fmt: skip
    try:
        sides: dict[str, list[float]] = {"now": [], "before": []}
        for r in range(rounds):
            for name, tree in (
                (("now", ROOT), ("before", before)) if r % 2 == 0 else (("before", before), ("now", ROOT))
            ):
                out = subprocess.run([sys.executable, "-c", CHILD, str(tree), str(model), str(tmp / f"home-{name}"),
                                      str(jobs)], capture_output=True, text=True, check=True)  # fmt: skip
                sides[name].append(float(out.stdout.strip().splitlines()[-1]))
        now, then = statistics.median(sides["now"]), statistics.median(sides["before"])
        print(f"tiny SD (UNet 64/128), 64x64, 20 steps DPM++ 2M, CFG 7; {rounds} rounds × {jobs} jobs, alternating "
              f"processes, {os.cpu_count()} CPUs")  # fmt: skip
        print(
            f"before issue 20 ({BEFORE}): median {then * 1000:.1f} ms a job  (rounds: "
            + ", ".join(f"{t * 1000:.1f}" for t in sides["before"])
            + ")"
        )
        print(
            f"this tree, explanations off: median {now * 1000:.1f} ms a job  (rounds: "
            + ", ".join(f"{t * 1000:.1f}" for t in sides["now"])
            + ")"
        )
        print(f"ratio: {now / then:.3f}  (target <= 1.01)")
    finally:
        subprocess.run(
            ["git", "-C", str(ROOT), "worktree", "remove", "--force", str(before)], capture_output=True
        )


if __name__ == "__main__":
    main()
