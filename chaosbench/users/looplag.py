"""A gevent loop-lag probe: how late a greenlet that asks to wake every ``interval`` wakes up.

If anything blocks the event loop (a C call that does not yield, a thread holding the GIL, a
blocking socket), every greenlet is delayed; the probe measures that delay.
"""

from __future__ import annotations

import time

import gevent


class LoopLagProbe:
    def __init__(self, interval: float = 0.005) -> None:
        self.interval = interval
        self.max_lag = 0.0
        self.samples = 0
        self._greenlet: gevent.Greenlet | None = None

    def _run(self) -> None:
        while True:
            before = time.perf_counter()
            gevent.sleep(self.interval)
            lag = time.perf_counter() - before - self.interval
            self.samples += 1
            if lag > self.max_lag:
                self.max_lag = lag

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
