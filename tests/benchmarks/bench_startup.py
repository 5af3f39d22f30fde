"""Cold start: process launch → the main window shown, without torch imported. Median of several runs."""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def main(runs: int = 7) -> None:
    home = tempfile.mkdtemp(prefix="studio-bench-home-")
    env = {
        **os.environ,
        "STUDIO_HOME": home,
        "QT_QPA_PLATFORM": os.environ.get("QT_QPA_PLATFORM", "offscreen"),
    }
    walls, inside, torch_loaded = [], [], set()
    baseline = []
    for _ in range(runs):
        t = time.perf_counter()
        subprocess.run([sys.executable, "-c", "pass"], check=True, env=env)
        baseline.append(time.perf_counter() - t)
        t = time.perf_counter()
        out = subprocess.run(
            [sys.executable, "-m", "studio", "--quit-after-show"],
            capture_output=True,
            text=True,
            env=env,
            cwd=ROOT,
            check=True,
        ).stdout
        walls.append(time.perf_counter() - t)
        line = next(x for x in out.splitlines() if x.startswith("window shown"))
        inside.append(float(line.split("after ")[1].split(" s")[0]))
        torch_loaded.add(line.rsplit(": ", 1)[1])
    w, b = statistics.median(walls), statistics.median(baseline)
    print(
        f"process start → window shown and closed: median {w:.3f} s over {runs} runs "
        f"(bare `python -c pass`: {b:.3f} s; ratio {w / b:.1f}×)"
    )
    print(f"of which Studio's own main() until shown: median {statistics.median(inside):.3f} s")
    print(
        f"torch imported when the window appeared: {', '.join(sorted(torch_loaded))}  (aim: under 1.5 s, False)"
    )


if __name__ == "__main__":
    main()
