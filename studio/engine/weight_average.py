"""An exponential moving average of the weights being trained (EMA): updated after every step, swapped in for
samples, validation and the exported LoRA, and kept in checkpoints so a resumed run averages on as an unbroken
one would."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any


class WeightAverage:
    def __init__(self, params: list[Any], decay: float):
        self.params = params
        self.decay = decay
        self.shadow = [p.detach().clone() for p in params]

    def update(self, step: int) -> None:
        """After optimizer step ``step`` (1-based): a short warm-up, so early weights do not linger in a short run."""
        import torch

        d = min(self.decay, (1 + step) / (10 + step))
        with torch.no_grad():
            for s, p in zip(self.shadow, self.params, strict=True):
                s.lerp_(p.detach(), 1 - d)

    @contextlib.contextmanager
    def swapped(self) -> Iterator[None]:
        """The averaged weights in the model for the duration (the trained ones back afterwards)."""
        self._swap()
        try:
            yield
        finally:
            self._swap()

    def _swap(self) -> None:
        import torch

        with torch.no_grad():
            for s, p in zip(self.shadow, self.params, strict=True):
                tmp = p.detach().clone()
                p.copy_(s)
                s.copy_(tmp)

    def state(self) -> dict[str, Any]:
        return {str(i): s.detach().cpu().clone() for i, s in enumerate(self.shadow)}

    def load(self, state: dict[str, Any]) -> None:
        import torch

        with torch.no_grad():
            for i, s in enumerate(self.shadow):
                if str(i) in state:
                    s.copy_(state[str(i)].to(s.device, s.dtype))
