"""STAND-IN engines for real-use tests, slow on purpose: a picture or a training run that takes as long as the test
says (held until released, or a step every ``step_s`` seconds), reporting through the same typed events as the
real engines and stopping at the next step when cancelled. They replace a runtime's handlers for one spec type."""

from __future__ import annotations

import threading
import time
from typing import Any

from PIL import Image

from studio.core.image.image_metadata import RenderInfo
from studio.core.jobs.cancel import CancelToken
from studio.core.jobs.events import ItemSaved, Progress


class HeldJob:
    """A handler that runs ``steps`` steps of ``step_s`` seconds each, and before its first step waits until
    ``release()`` (or forever: a job that only Stop ends). ``started`` is set when it runs."""

    def __init__(self, steps: int = 20, step_s: float = 0.05, hold: bool = True, store: Any = None):
        self.steps, self.step_s, self.store = steps, step_s, store
        self.started = threading.Event()
        self._go = threading.Event()
        if not hold:
            self._go.set()
        self.ran: list[Any] = []
        self.cancelled = 0

    def release(self) -> None:
        self._go.set()

    def __call__(self, spec: Any, cancel: CancelToken, emit: Any) -> list[Any]:
        self.started.set()
        while not self._go.wait(0.05):
            cancel.raise_if_cancelled()
        for step in range(1, self.steps + 1):
            if cancel.wait(self.step_s):
                self.cancelled += 1
                cancel.raise_if_cancelled()
            emit(Progress(step=step, total=self.steps, item=0, items=getattr(spec, "image_count", 1)))
        self.ran.append(spec)
        if self.store is None or not hasattr(spec, "seed_for"):
            return []
        items = []
        for i in range(spec.image_count):
            picture = Image.new("RGB", (spec.width, spec.height), (40 * i % 256, 90, 160))
            item = self.store.save(picture, spec.for_image(i), RenderInfo(index=i,
                                                                           device="stand-in", seconds=0.0))  # fmt: skip
            emit(ItemSaved(item=item))
            items.append(item)
        return items


def wait_for(condition: Any, timeout: float = 30.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.02)
    return False
