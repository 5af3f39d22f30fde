"""The Writer's samplers, measured: time per written token of the built-in Storyteller with DRY, XTC, banned phrases
(rolled back), phrase bias and a JSON schema, against Studio's own token loop without them and transformers'
generate(), in one process, alternating (torch on the CPU).

    python tests/benchmarks/bench_text_controls.py [--tokens 200] [--runs 5]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from dataclasses import replace
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

SCHEMA = {"type": "object", "required": ["name", "story"], "additionalProperties": False,
          "properties": {"name": {"type": "string", "maxLength": 40}, "story": {"type": "string"}}}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tokens", type=int, default=200)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    from studio.core.jobs.cancel import CancelToken
    from studio.core.models.builtin_models import BUILTIN_TEXT_DIRS
    from studio.core.text.text_specs import WriteSpec
    from studio.engine.precision import cpu_caps
    from studio.engine.text import TextEngine

    print(f"CPU: {cpu_caps()}")
    engine = TextEngine()
    base = WriteSpec(model=str(BUILTIN_TEXT_DIRS[0]), prompt="And God said unto Moses,", max_new_tokens=args.tokens,
                     cpu_engine="torch", seed=1)  # fmt: skip
    cases = {
        "generate() (no controls)": base,
        "Studio's loop (a bias of 0)": replace(base, bias=("zq:0",)),
        "DRY 0.8": replace(base, dry_multiplier=0.8),
        "XTC 0.5 / 0.1": replace(base, xtc_probability=0.5),
        "5 banned phrases": replace(base, banned=("the LORD", "thou", "unto", "shall", "and the")),
        "bias on 3 phrases": replace(base, bias=("LORD:-100", "God:-5", "sea:3")),
        "JSON schema": replace(base, json_schema=json.dumps(SCHEMA)),
    }
    engine.write(base, CancelToken(), lambda e: None)  # loaded and warm
    per_token: dict[str, list[float]] = {name: [] for name in cases}
    rolled: dict[str, int] = {name: 0 for name in cases}
    for run in range(args.runs):
        for name, spec in cases.items():
            notes: list[str] = []
            started = time.perf_counter()
            try:
                (result,) = engine.write(replace(spec, seed=run), CancelToken(),
                                         lambda e, kept=notes: kept.append(getattr(e, "text", "")))  # fmt: skip
            except Exception:  # noqa: BLE001 - an unfinished JSON answer still measures the loop
                continue
            seconds = time.perf_counter() - started
            per_token[name].append(seconds * 1000 / max(1, result.tokens))
            rolled[name] += sum(n.startswith(tuple("0123456789")) and "rolled back" in n for n in notes)
    plain = statistics.median(per_token["Studio's loop (a bias of 0)"])
    print(f"Storyteller, {args.tokens} new tokens, {args.runs} runs each (median ms per written token):")
    for name, values in per_token.items():
        if values:
            m = statistics.median(values)
            extra = f"  ({rolled[name]} jobs rolled phrases back)" if rolled[name] else ""
            print(f"  {name:<30} {m:6.2f} ms/token  ({m / plain:4.2f}× Studio's loop alone){extra}")


if __name__ == "__main__":
    main()
