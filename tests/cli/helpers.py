import os
import subprocess
import sys
from pathlib import Path


def studio(*args, home: Path, timeout=120, stdin=None, env=None):
    """Run ``python -m studio ARGS`` with its own data folder; returns the CompletedProcess."""
    env = {**os.environ, "STUDIO_HOME": str(home), **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "studio", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=timeout,
        input=stdin,
    )
