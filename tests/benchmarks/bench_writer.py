"""Text streaming: Studio's tokens/s ÷ a bare ``model.generate`` (same model, settings and seed), time to the
first token, and the GUI thread's longest stall while the Writer streams into the editor.

    .venv/bin/python tests/benchmarks/bench_writer.py [--model resources/models/storyteller] [--tokens 200]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).parent))


class Bare:
    """The same model loaded once, called directly: the baseline."""

    def __init__(self, model_dir: str):
        from transformers import AutoModelForCausalLM, AutoTokenizer

        self.tok = AutoTokenizer.from_pretrained(model_dir)
        self.lm = AutoModelForCausalLM.from_pretrained(model_dir).eval()

    def __call__(self, prompt: str, tokens: int, seed: int) -> tuple[float, int]:
        import torch

        ids = self.tok(prompt, return_tensors="pt")
        torch.manual_seed(seed)
        t = time.perf_counter()
        with torch.inference_mode():
            out = self.lm.generate(
                **ids,
                max_new_tokens=tokens,
                do_sample=True,
                temperature=0.8,
                top_p=0.95,
                top_k=0,
                repetition_penalty=1.1,
                pad_token_id=self.tok.eos_token_id,
            )
        n = out.shape[1] - ids["input_ids"].shape[1]
        return n / (time.perf_counter() - t), n


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--model", default=str(ROOT / "resources" / "models" / "storyteller"))
    p.add_argument("--tokens", type=int, default=200)
    p.add_argument("--runs", type=int, default=3)
    a = p.parse_args()
    prompt = "And it came to pass in those days, that"
    from studio.core.jobs.cancel import CancelToken
    from studio.core.jobs.events import Token
    from studio.core.text.text_specs import WriteSpec
    from studio.engine.text import TextEngine

    engine = TextEngine()
    out: dict[str, float] = {}
    studio_rates, bare_rates, first, counts = [], [], [], []
    engine.load(a.model, lambda e: None)
    bare = Bare(a.model)
    bare(prompt, 8, 0)  # warm both paths
    engine.write(WriteSpec(model=a.model, prompt=prompt, max_new_tokens=8), CancelToken(), lambda e: None)
    for run in range(a.runs):
        rate, n = bare(prompt, a.tokens, run)
        bare_rates.append(rate)
        seen: list[float] = []
        t = time.perf_counter()
        spec = WriteSpec(
            model=a.model,
            prompt=prompt,
            max_new_tokens=a.tokens,
            temperature=0.8,
            top_p=0.95,
            repetition_penalty=1.1,
            seed=run,
        )
        result = engine.write(
            spec,
            CancelToken(),
            lambda e, s=seen: s.append(time.perf_counter()) if isinstance(e, Token) else None,
        )[0]
        first.append((seen[0] - t) * 1000 if seen else float("nan"))
        studio_rates.append(result.tokens_per_s)
        counts.append((n, result.tokens))
    out["bare_tokens_per_s"] = statistics.median(bare_rates)
    out["studio_tokens_per_s"] = statistics.median(studio_rates)
    out["ratio_studio_over_bare"] = out["studio_tokens_per_s"] / out["bare_tokens_per_s"]
    out["first_token_ms_median"] = statistics.median(first)
    print("tokens per run (bare, studio):", counts)

    # Editing the Author's Note (near the end) with and without the reused KV cache: tokens re-encoded and
    # time to the first token of the next Continue
    from studio.core.text.writer_context import StoryContext

    story = (
        "And it came to pass, when the king heard these words, that he arose and went up unto the city, "
        "and all the people with him. "
    ) * 40

    def first_token(note: str, reuse: bool) -> tuple[float, int]:
        if not reuse:
            engine._cache = None
        seen: list[float] = []
        t = time.perf_counter()
        spec = WriteSpec(
            model=a.model,
            prompt=story,
            max_new_tokens=8,
            temperature=0.0,
            context=StoryContext(memory="A chronicle of kings.", note=note, note_depth=0),
        )
        r = engine.write(
            spec, CancelToken(), lambda e: seen.append(time.perf_counter()) if isinstance(e, Token) else None
        )[0]
        return ((seen[0] - t) * 1000 if seen else float("nan")), r.reused_tokens

    first_token("solemn", True)
    with_cache = [first_token(note, True) for note in ("grim", "hopeful", "tense")]
    without = [first_token(note, False) for note in ("grim", "hopeful", "tense")]
    out["note_edit_first_token_ms_with_cache"] = statistics.median(x for x, _ in with_cache)
    out["note_edit_first_token_ms_without_cache"] = statistics.median(x for x, _ in without)
    out["note_edit_tokens_reused"] = statistics.median(n for _, n in with_cache)

    # the GUI while the Writer streams
    from PySide6.QtGui import QTextCursor
    from PySide6.QtWidgets import QApplication

    from studio.app import create_window
    from studio.runtime import build_runtime

    app = QApplication([])
    rt = build_runtime(Path(tempfile.mkdtemp(prefix="studio-bench-writer-")))
    st = create_window(rt)
    st.window.resize(1300, 850)
    st.window.show()
    page = st.window.writer_page
    page.session.set("model", a.model)
    page.session.set("max_new_tokens", a.tokens)
    st.window.tabs.setCurrentWidget(page)
    page.editor.setPlainText(prompt)
    page.editor.moveCursor(QTextCursor.MoveOperation.End)
    from gui_gaps import GapRecorder

    timer = GapRecorder()
    done = []
    page.session.generationEnded.connect(lambda *x: done.append(x))
    for _ in range(2):  # the first includes loading the model on the worker thread
        done.clear()
        timer.start()
        page.continue_at_cursor()
        while not done:
            app.processEvents()
        timer.stop()
        page.editor.moveCursor(QTextCursor.MoveOperation.End)
    timer.gaps = timer.gaps[2:]
    out["gui_max_gap_ms"], out["gui_p99_gap_ms"] = timer.summary()
    st.shutdown()
    print(json.dumps({k: round(v, 3) for k, v in out.items()}, indent=1))


if __name__ == "__main__":
    main()
