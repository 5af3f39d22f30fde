"""Notes by meaning, measured: what choosing among 500 notes adds to a Continue of the built-in Storyteller (the
notes' meanings made once and kept; each Continue embeds the text before the cursor and compares), against the same
Continue without notes, alternating, in one process. The first Continue, which embeds every note, is timed apart.

    python tests/benchmarks/bench_notes.py [--notes 500] [--runs 15]
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

PEOPLE = [
    "Ilse",
    "the keeper",
    "Marten",
    "the pilot",
    "old Greta",
    "the harbour master",
    "a fisherman",
    "the mayor",
]
THINGS = ["the lamp", "the tide", "the storm", "a letter", "the ledger", "the bell", "the boat", "the stairs"]
DOINGS = ["fears", "keeps", "hides", "remembers", "mends", "counts", "watches", "loses"]
WHERE = ["at night", "in winter", "since the wreck", "every morning", "behind the chapel", "on the rocks"]


def make_notes(n: int) -> list:
    from studio.core.text.story_notes import Note

    rng = random.Random(0)
    return [Note(f"note {i}", " ".join(f"{rng.choice(PEOPLE).capitalize()} {rng.choice(DOINGS)} {rng.choice(THINGS)} "
                                     f"{rng.choice(WHERE)}." for _ in range(3))) for i in range(n)]  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--notes", type=int, default=500)
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()
    from dataclasses import replace

    from studio.core.jobs.cancel import CancelToken
    from studio.core.models.builtin_models import BUILTIN_TEXT_DIRS
    from studio.core.text.text_specs import WriteSpec
    from studio.core.text.writer_context import StoryContext
    from studio.engine.note_vectors import NoteVectors
    from studio.engine.precision import cpu_caps
    from studio.engine.sentence_embedding import make_embed
    from studio.engine.text import TextEngine

    print(f"CPU: {cpu_caps()}")
    engine = TextEngine()
    vectors = NoteVectors(make_embed, Path(tempfile.mkdtemp()) / "note-vectors.npz")
    engine.similar = vectors.similar
    story = (
        "The keeper climbed the stairs as the storm came in. Ilse stood at the window and watched the tide."
    )
    base = WriteSpec(
        model=str(BUILTIN_TEXT_DIRS[0]), prompt=story, max_new_tokens=20, seed=1, cpu_engine="torch"
    )
    plain = replace(base, context=StoryContext())
    noted = replace(base, context=StoryContext(notes=tuple(make_notes(args.notes))))
    engine.write(plain, CancelToken(), lambda e: None)  # loaded and warm
    started = time.perf_counter()
    engine.write(noted, CancelToken(), lambda e: None)
    first = time.perf_counter() - started
    without, with_notes = [], []
    for i in range(args.runs):
        for spec, into in ((plain, without), (noted, with_notes)):
            spec = replace(
                spec, prompt=f"{story} ({i})"
            )  # a new passage each time: its meaning is computed anew
            started = time.perf_counter()
            engine.write(spec, CancelToken(), lambda e: None)
            into.append(time.perf_counter() - started)
    a, b = statistics.median(without) * 1000, statistics.median(with_notes) * 1000
    print(f"Storyteller, 20 new tokens, {args.notes} notes ({args.runs} Continues each, alternating):")
    print(f"  without notes {a:7.1f} ms;  with {args.notes} notes {b:7.1f} ms;  added {b - a:+6.1f} ms "
          f"(target ≤ 50 ms)")  # fmt: skip
    print(
        f"  the first Continue with them (every note's meaning made once, then kept): {first * 1000:.0f} ms"
    )
    # the choice alone, on the same story: what a Continue pays for its notes however the text then comes out
    from studio.core.text.writer_context import assemble

    tok, length = engine.tokenizer(base.model)
    count = lambda t: len(tok(t)["input_ids"]) if t else 0  # noqa: E731
    timings: dict[str, list[float]] = {"without": [], "with": []}
    for i in range(args.runs):
        passage = f"{story} ({i})"
        for name, spec in (("without", plain), ("with", noted)):
            started = time.perf_counter()
            assemble(passage, spec.context, count, length - 20, vectors.similar)
            timings[name].append(time.perf_counter() - started)
    a, b = (statistics.median(timings[k]) * 1000 for k in ("without", "with"))
    print(f"  assembling the context alone: {a:.1f} ms without notes, {b:.1f} ms choosing among {args.notes} "
          f"(+{b - a:.1f} ms: the passage embedded, {args.notes} cosines, the chosen notes counted)")  # fmt: skip


if __name__ == "__main__":
    main()
