"""The training estimate against the run (issue 35): whole `studio train` processes on the built-in Shapes model,
each printing its estimate before it starts and its duration at the end — a 60-step run with the default samples
and A/B grid, the same with neither, one with a held-out validation split, and a LoKr — first on a fresh data folder
(the rough estimate: no earlier run to measure by), then again (measured on the earlier runs). Prints estimate ÷
duration for each; the target is within 2× (0.5–2.0).

    .venv/bin/python tests/benchmarks/bench_train_estimate.py [--steps 60]
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

RUNS = {
    "defaults (samples every sixth, A/B grid)": [],
    "no samples, no grids": ["--sample-every", "0", "--grids", "none"],
    "validation split 0.25": ["--validation-split", "0.25"],
    "LoKr": ["--algo", "lokr"],
}
SAID = re.compile(r"The run took (.+) \(estimated (.+)\)\.")


def seconds(words: str) -> float:
    """ "1 min 20 s" / "about 32 s" → seconds."""
    total = 0.0
    for value, unit in re.findall(r"([\d.]+)\s*(h|min|s)\b", words):
        total += float(value) * {"h": 3600, "min": 60, "s": 1}[unit]
    return total


def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "unknown CPU"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=60)
    args = ap.parse_args()
    from tests.training.conftest import photos

    work = Path(tempfile.mkdtemp(prefix="bench-estimate-"))
    pics = photos(work / "pics", n=12, size=(320, 320))
    home = work / "home"
    print(f"{cpu_name()}; {args.steps}-step runs on the built-in Shapes model, 12 pictures")
    print(f"{'run':44} {'pass':9} {'estimate':>9} {'took':>7} {'ratio':>6}")
    for attempt in ("rough", "measured"):
        for name, extra in RUNS.items():
            out = work / f"{abs(hash((name, attempt)))}.safetensors"
            began = time.perf_counter()
            done = subprocess.run([sys.executable, "-m", "studio", "train", "--home", str(home), "--images", str(pics),
                                   "--trigger", "sks", "--class", "disc", "--steps", str(args.steps), "--out", str(out),
                                   *extra], capture_output=True, text=True, cwd=ROOT)  # fmt: skip
            wall = time.perf_counter() - began
            said = SAID.search(done.stderr)
            if done.returncode != 0 or said is None:
                print(f"{name:44} failed: {done.stderr[-400:]}")
                continue
            took, estimate = seconds(said.group(1)), seconds(said.group(2))
            print(
                f"{name:44} {attempt:9} {estimate:8.1f}s {took:6.1f}s {estimate / took:6.2f}   (process {wall:.1f} s)"
            )


if __name__ == "__main__":
    main()
