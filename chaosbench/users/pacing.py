"""Open-model pacing (constant arrival rate) with coordinated-omission correction, wrk2-style.

A closed-model user sends its next request only after the previous one answered, so a server
that stalls for a second also stops the clock of everyone waiting on it: the stall becomes one
slow sample among many fast ones and the percentiles hide it. Under open-model pacing every task
iteration has an *intended* start time on a fixed schedule (``1/rate`` apart). When the user is
late (because the previous request was stuck), the next requests start late and their response
time counts from the intended start, so the stall shows up in the latencies. Late starts are
counted and their lateness is carried in the request context (``schedule_lag_ms``).

Use ``wait_time = constant_arrival_rate(rate)`` in a user class, or set ``pacing_rate`` on a
chaosbench user (see ``chaosbench.users.base.LoadUser``).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class IntendedStart:
    """When an operation should have started: perf_counter and wall clock, and how late it is."""

    perf: float
    wall: float
    lag_ms: float


class Pacer:
    """The schedule of one user: intended start times ``1/rate`` apart.

    ``wait()`` is the user's wait time: the seconds to sleep until the next intended start (0 when
    behind schedule, which is how a backlog is caught up). ``claim()`` hands the intended start to
    the first operation of the iteration; later operations of the same iteration start when they
    start.
    """

    def __init__(self, rate: float) -> None:
        if not rate > 0:
            raise ValueError("pacing rate must be > 0")
        self.rate = rate
        self.interval = 1.0 / rate
        self._next: float | None = None  # intended perf_counter of the current iteration
        self._claimed = False
        self.iterations = 0
        self.late_starts = 0
        self.max_lag_ms = 0.0

    def wait(self) -> float:
        now = time.perf_counter()
        self._next = now if self._next is None else self._next + self.interval
        self._claimed = False
        return max(0.0, self._next - now)

    def claim(self) -> IntendedStart | None:
        """The intended start of this iteration for its first operation, else None."""
        now = time.perf_counter()
        if self._next is None:  # first iteration: the schedule starts now
            self._next = now
        if self._claimed:
            return None
        self._claimed = True
        self.iterations += 1
        lag_ms = max(0.0, (now - self._next) * 1000.0)
        if lag_ms > 1.0:
            self.late_starts += 1
        self.max_lag_ms = max(self.max_lag_ms, lag_ms)
        wall = time.time() - (now - self._next)
        return IntendedStart(perf=min(self._next, now), wall=wall, lag_ms=lag_ms)


def constant_arrival_rate(rate: float) -> Callable[[Any], float]:
    """A Locust ``wait_time`` for open-model pacing at ``rate`` task iterations per second per
    user. The user's ``pacer`` attribute (created on first use) holds the schedule."""

    def wait_time(user: Any) -> float:
        pacer = getattr(user, "pacer", None)
        if not isinstance(pacer, Pacer) or pacer.rate != rate:
            pacer = Pacer(rate)
            user.pacer = pacer
        return pacer.wait()

    return wait_time
