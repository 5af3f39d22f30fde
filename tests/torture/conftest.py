"""The torture suite: a quick subset runs by default; ``STUDIO_TORTURE=full`` runs the full counts (minutes).
``STUDIO_TORTURE_REPORT=FILE`` appends each test's figures (cases, kills, crashes, losses) as JSON lines."""

from __future__ import annotations

import json
import os
import resource

FULL = os.environ.get("STUDIO_TORTURE", "").lower() == "full"


def scale(quick: int, full: int) -> int:
    return full if FULL else quick


def report(name: str, **figures: object) -> None:
    line = json.dumps({"test": name, "full": FULL, **figures})
    print(line)
    if path := os.environ.get("STUDIO_TORTURE_REPORT"):
        with open(path, "a") as f:
            f.write(line + "\n")


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
