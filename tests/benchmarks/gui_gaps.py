"""A 10 ms Qt timer that records how late it fires: the GUI thread's stalls, for the benchmarks."""

from __future__ import annotations


class GapRecorder:
    def __init__(self, interval_ms: int = 10):
        from PySide6.QtCore import QElapsedTimer, QTimer

        self.gaps: list[float] = []
        self._clock = QElapsedTimer()
        self._clock.start()
        self._last = self._clock.nsecsElapsed()
        self._timer = QTimer()
        self._timer.setInterval(interval_ms)
        self._timer.timeout.connect(self._tick)

    def _tick(self) -> None:
        now = self._clock.nsecsElapsed()
        self.gaps.append((now - self._last) / 1e6)
        self._last = now

    def start(self) -> None:
        self._last = self._clock.nsecsElapsed()
        self._timer.start()

    def stop(self) -> None:
        self._timer.stop()

    def summary(self) -> tuple[float, float]:
        """(max, p99) in ms."""
        g = sorted(self.gaps)
        return (g[-1], g[int(len(g) * 0.99)]) if g else (float("nan"), float("nan"))
