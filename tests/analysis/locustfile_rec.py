"""A tiny locustfile for the results tests: real Redis requests (optionally through the chaos
fault proxy), reported through Locust's request event with request_type REDIS.

Environment:
- CB_TEST_RESULTS_ONLY=1: wire only the results half (chaosbench.wiring.results) instead of the
  whole harness, and let ``CB_TEST_FAKE_CHAOS`` drive the phases;
- CB_TEST_FAKE_CHAOS="warmup:1,baseline:2,burst:2,recovery:2,...": a minimal stand-in for the
  scheduler that appends marks to the run's timeline and fires the run's chaos events
  (``RunState.of(environment)``) exactly as the contract says (phase changes, one inject at
  each burst start, one revert at its end);
- CB_TEST_LAG_FILE: when the users start being stopped, write there the largest gevent loop
  lag (seconds) as chaosbench.looplag.LoopLagProbe measures it, and the largest lag the process
  caused itself: a probe interval's lag when the process used at least half of it in CPU time
  (a lag during which the process hardly ran is the OS scheduling other processes on this
  shared machine, not something in the process blocking the loop).
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import gevent
import redis
from locust import User, constant, events, task

if os.environ.get("CB_TEST_RESULTS_ONLY") == "1":
    import chaosbench.wiring.results

    chaosbench.wiring.results.install(events)
else:
    import chaosbench.harness

from chaosbench.ground.journal import JournalRecord
from chaosbench.ground.state import RunState
from chaosbench.ground.timeline import Phase, PhaseMark
from chaosbench.users.looplag import LoopLagProbe

REDIS_URL = os.environ.get("CB_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
PREFIX = os.environ.get("CB_TEST_PREFIX", "cbt_rec")
WAIT = float(os.environ.get("CB_TEST_WAIT", "0.02"))
DEADLINE_MS = float(os.environ.get("CB_TEST_DEADLINE_MS", "5"))
FAKE_CHAOS = os.environ.get("CB_TEST_FAKE_CHAOS", "")
LAG_FILE = os.environ.get("CB_TEST_LAG_FILE", "")


class AttributingProbe(LoopLagProbe):
    def __init__(self, interval: float) -> None:
        super().__init__(interval)
        self.max_busy_lag = 0.0
        self.lags: list[float] = []  # every interval's lag (bounded by the run's length)
        self.worst: list[tuple[float, float, float]] = []  # (wall, lag, cpu)

    def _run(self) -> None:
        while True:
            before, cpu = time.perf_counter(), time.process_time()
            gevent.sleep(self.interval)
            lag = time.perf_counter() - before - self.interval
            used = time.process_time() - cpu
            self.samples += 1
            self.lags.append(lag)
            self.max_lag = max(self.max_lag, lag)
            if lag > 0.02:
                self.worst.append((round(time.time(), 2), round(lag, 4), round(used, 4)))
            if used >= lag / 2:
                self.max_busy_lag = max(self.max_busy_lag, lag)


_probe = AttributingProbe(interval=0.01)


def _fake_scheduler(state: RunState) -> None:
    timeline, chaos = state.timeline, state.events
    for item in FAKE_CHAOS.split(","):
        phase_name, _, seconds = item.partition(":")
        phase = Phase(phase_name.rstrip("0123456789"))
        burst = int(phase_name[len(phase.value) :] or 0) or None
        faults = ("slow_redis",) if phase is Phase.BURST else ()
        planned = time.time()
        mark = PhaseMark(time.time(), phase, burst, faults)
        timeline.append(mark)
        chaos.phase_changed.fire(mark=mark, planned_wall=planned)
        if phase is Phase.BURST:
            t = time.time()
            chaos.fault_injected.fire(
                record=JournalRecord(
                    "inject", "slow_redis", "latency", "redis", burst, planned, t, t + 0.001
                )
            )
        gevent.sleep(float(seconds))
        if phase is Phase.BURST:
            t = time.time()
            chaos.fault_reverted.fire(
                record=JournalRecord(
                    "revert", "slow_redis", "latency", "redis", burst, None, t, t + 0.001
                )
            )
    chaos.chaos_stopped.fire(reason="completed")


@events.test_start.add_listener
def _on_test_start(environment: Any, **_: Any) -> None:
    if LAG_FILE:
        _probe.start()
    if FAKE_CHAOS and not environment.parsed_options.worker:
        gevent.spawn(_fake_scheduler, RunState.of(environment))


@events.test_stopping.add_listener
def _on_test_stopping(**_: Any) -> None:
    if LAG_FILE and _probe.samples:
        max_lag = _probe.stop()
        lags = sorted(_probe.lags)
        p99 = lags[min(len(lags) - 1, int(0.99 * len(lags)))]
        Path(LAG_FILE).write_text(
            f"{max_lag} {_probe.max_busy_lag} {_probe.samples} {p99}\n{_probe.worst}\n"
        )


class RedisPinger(User):
    wait_time = constant(WAIT)

    def on_start(self) -> None:
        self.client = redis.Redis.from_url(
            REDIS_URL, socket_timeout=2, socket_connect_timeout=2, client_name=f"{PREFIX}_user"
        )

    def _call(self, name: str, fn: Any) -> None:
        start = time.time()
        t0 = time.perf_counter()
        exc: Exception | None = None
        try:
            fn()
        except Exception as e:  # reported as a failure sample
            exc = e
        self.environment.events.request.fire(
            request_type="REDIS",
            name=name,
            response_time=(time.perf_counter() - t0) * 1000.0,
            response_length=0,
            exception=exc,
            context={"deadline_ms": DEADLINE_MS},
            start_time=start,
        )

    @task(3)
    def get(self) -> None:
        self._call("GET", lambda: self.client.get(f"{PREFIX}:k"))

    @task(1)
    def set(self) -> None:
        self._call("SET", lambda: self.client.set(f"{PREFIX}:k", "v", ex=60))
