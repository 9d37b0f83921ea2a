"""A gevent loop-lag probe: how late a greenlet that asks to wake every ``interval`` wakes up.

If anything blocks the event loop (a C call that does not yield, a thread holding the GIL, a
blocking socket), every greenlet is delayed; the probe measures that delay. It keeps the largest
lag and the recent lags (at most ``keep`` of them, the oldest dropped first) for percentiles over
a stretch of time: ``reset()`` at its start, ``percentile(99)`` at its end.
"""

from __future__ import annotations

import math
import time
from collections import deque

import gevent


class LoopLagProbe:
    def __init__(self, interval: float = 0.005, keep: int = 200_000) -> None:
        self.interval = interval
        self.max_lag = 0.0
        self.samples = 0
        self.lags: deque[float] = deque(maxlen=keep)
        self._greenlet: gevent.Greenlet | None = None

    def _run(self) -> None:
        while True:
            before = time.perf_counter()
            gevent.sleep(self.interval)
            lag = time.perf_counter() - before - self.interval
            self.samples += 1
            self.lags.append(lag)
            if lag > self.max_lag:
                self.max_lag = lag

    def reset(self) -> None:
        """Forget the lags so far (the largest too): percentiles cover what comes next."""
        self.lags.clear()
        self.max_lag = 0.0

    def percentile(self, q: float) -> float:
        """The ``q``-th percentile (0..100, nearest rank) of the lags kept, in seconds; 0.0
        without a sample."""
        if not self.lags:
            return 0.0
        ordered = sorted(self.lags)
        rank = max(1, math.ceil(q / 100.0 * len(ordered)))
        return ordered[min(rank, len(ordered)) - 1]

    def start(self) -> LoopLagProbe:
        self._greenlet = gevent.spawn(self._run)
        return self

    def stop(self) -> float:
        """Stop and return the largest lag seen, in seconds."""
        if self._greenlet is not None:
            self._greenlet.kill()
            self._greenlet = None
        return self.max_lag

    def __enter__(self) -> LoopLagProbe:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
