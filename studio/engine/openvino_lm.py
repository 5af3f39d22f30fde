"""A converted language model running on OpenVINO's CPU plugin (``openvino_lm_export``): the KV cache is the compiled
network's state, so each step feeds only the new tokens. The state is kept between jobs with the token ids it
holds: the next Continue (the same story a little longer) re-encodes just what changed, as on torch."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from studio.engine.text_prompt import reusable_prefix

_ONE_BEAM = np.zeros(1, dtype=np.int32)  # one sequence: its cache kept where it is


class OpenVinoLM:
    """One compiled network and its infer request (the KV cache); ``config`` is the model's transformers config."""

    def __init__(self, xml: Path, config: Any, threads: int):
        import openvino as ov

        from studio.engine.mapped_pages import released

        # the CPU plugin's own choices stand (bf16 arithmetic where the CPU has it, a u8 KV cache): GenAI's too
        with released(xml.with_suffix(".bin")):
            self.compiled = ov.Core().compile_model(
                str(xml), "CPU", {"PERFORMANCE_HINT": "LATENCY", "INFERENCE_NUM_THREADS": max(1, threads)}
            )
        self.request = self.compiled.create_infer_request()
        self.config = config
        self.held: list[int] = []  # the token ids whose keys and values the state holds

    @property
    def hint(self) -> str:
        return str(self.compiled.get_property("INFERENCE_PRECISION_HINT").to_string())

    def reset(self) -> None:
        self.request.reset_state()
        self.held = []

    def start(self, ids: list[int]) -> tuple[np.ndarray, int]:
        """Feed a prompt, reusing the longest prefix the state already holds; the next-token logits and how many
        prompt tokens were not encoded again."""
        n = reusable_prefix(self.held, ids)
        if n <= 0:
            self.reset()
        elif n < len(self.held):
            self._crop(n)
        return self.step(ids[n:]), n

    def step(self, ids: list[int]) -> np.ndarray:
        """Feed tokens after those held; the last one's next-token logits (a float32 row of the vocabulary)."""
        start = len(self.held)
        new = np.asarray([ids], dtype=np.int64)
        self.request.infer(
            {
                "input_ids": new,
                "attention_mask": np.ones((1, start + len(ids)), dtype=np.int64),
                "position_ids": np.arange(start, start + len(ids), dtype=np.int64)[None],
                "beam_idx": _ONE_BEAM,
            }
        )
        self.held.extend(ids)
        return np.array(self.request.get_tensor("logits").data[0, -1], dtype=np.float32)

    def _crop(self, n: int) -> None:
        """Keep the first ``n`` positions of every layer's keys and values."""
        import openvino as ov

        for state in self.request.query_state():
            kept = np.ascontiguousarray(np.asarray(state.state.data)[:, :, :n])
            state.state = ov.Tensor(kept)
        self.held = self.held[:n]
