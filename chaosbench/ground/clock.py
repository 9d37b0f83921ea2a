"""The harness's clients' clock. Client-side wall timestamps (WebSocket delivery latency, order
timestamps) go through a run's ``ClientClock.wall()`` so that the clock-skew fault can shift them
(the clients' view of time, not the machine's). The recorder, the run directory and window
closing never use it: they use the real ``time.time()``."""

from __future__ import annotations

import time
from dataclasses import dataclass


@dataclass
class ClientClock:
    """One run's client clock: ``time.time()`` shifted by ``skew`` seconds (0 unless the
    ``clock_skew`` fault is active)."""

    skew: float = 0.0

    def wall(self) -> float:
        return time.time() + self.skew
