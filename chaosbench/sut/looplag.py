"""The SUT's own event-loop lag: how late a greenlet that sleeps ``interval`` wakes up.

Reported by /health as the largest lag in the current and the previous window, so that a GC pause,
a CPU hog or anything blocking the loop shows up while it happens.
"""

from __future__ import annotations

import time

import gevent


class LoopLag:
    def __init__(self, interval: float = 0.01, window: float = 10.0) -> None:
        self.interval = interval
        self.window = window
        self.current = 0.0
        self.previous = 0.0
        self._window_start = time.monotonic()
        self._greenlet: gevent.Greenlet | None = None

    def start(self) -> LoopLag:
        self._greenlet = gevent.spawn(self._run)
        return self

    def stop(self) -> None:
        if self._greenlet is not None:
            self._greenlet.kill()

    def recent_max(self) -> float:
        """Largest lag (seconds) in the last one to two windows."""
        return max(self.current, self.previous)

    def _run(self) -> None:
        while True:
            before = time.monotonic()
            gevent.sleep(self.interval)
            now = time.monotonic()
            lag = max(0.0, now - before - self.interval)
            if now - self._window_start >= self.window:
                self.previous, self.current = self.current, 0.0
                self._window_start = now
            self.current = max(self.current, lag)
