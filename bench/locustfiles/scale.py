"""Users per process (``python -m bench.scale`` runs it): one Locust process, the harness on,
users added step by step; at each step, once every user runs, the loop lag and throughput.

    SCALE_STEPS=500,1000 SCALE_OUT=steps.jsonl locust -f bench/locustfiles/scale.py \
        --headless --host http://127.0.0.1:<sut> --chaos-profile none ScaleFeedUser

Environment: ``SCALE_STEPS`` (user counts, ascending), ``SCALE_HOLD`` (s measured per step,
default 8), ``SCALE_SETTLE`` (s between the last user started and the measurement, default 3),
``SCALE_SPAWN_RATE`` (users/s, default 250), ``SCALE_RAMP_MAX`` (s a step may take to start
all its users, default 120), ``SCALE_OUT`` (a JSON-lines file: one ``measure`` line when a
step's measurement starts, one ``step`` line with its figures when it ends).

The users are the harness's: ``ScaleFeedUser`` has the bundled FeedUser's tasks (one
subscription held, a connect cycle now and then), ``ScaleApiUser`` one GET per think time.
"""

from __future__ import annotations

import gc
import json
import os
import resource
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from locust import LoadTestShape, task

import chaosbench.harness  # noqa: F401
from chaosbench.users import ApiUser, WebSocketUser
from chaosbench.users.looplag import LoopLagProbe


class ScaleFeedUser(WebSocketUser):
    """The bundled FeedUser (locustfiles/gateway_feed.py): a held subscription, a connect cycle
    one task in ten."""

    think_time = (1.0, 2.0)

    @task(9)
    def hold(self) -> None:
        """The receive greenlet does the work; the task only keeps the user alive."""

    @task(1)
    def connect_cycle_task(self) -> None:
        self.connect_cycle()


def _think(text: str) -> tuple[float, float]:
    low, high = (float(x) for x in text.split(","))
    return low, high


class ScaleApiUser(ApiUser):
    """One GET of nginx's static page per think time (``SCALE_API_THINK``, "min,max" seconds;
    default 0.5,1.5: about one request per second)."""

    think_time = _think(os.environ.get("SCALE_API_THINK", "0.5,1.5"))

    @task
    def index(self) -> None:
        self.api("GET", "/", name="/")


@dataclass
class StepFigures:
    users: int  # the step's target
    running: int  # users running when it was measured
    seconds: float
    lag_p50_ms: float
    lag_p99_ms: float
    lag_max_ms: float
    lag_samples: int
    rate: float  # WebSocket messages/s (FeedUser) or HTTP requests/s (ApiUser)
    failures: float  # failed samples/s
    cpu_pct: float  # this process: user + system time over wall time
    load: str
    #: the event loop's thread: time it was ready to run but waited for a CPU, over wall time
    #: (/proc/self/schedstat; -1 when not available): the machine's share of the loop lag
    runq_wait_pct: float = -1.0
    reached: bool = True  # False: the step's users did not all start within SCALE_RAMP_MAX
    gc_ms: float = 0.0  # the garbage collector's pauses during the measurement, ms in all
    gc_max_ms: float = 0.0  # its longest pause
    gc_full: int = 0  # full (generation 2) collections during the measurement


class GcPauses:
    """The garbage collector's pauses (``gc.callbacks``): they stop the event loop."""

    def __init__(self) -> None:
        self.total = 0.0
        self.longest = 0.0
        self.full = 0
        self._start = 0.0
        gc.callbacks.append(self._on)

    def _on(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._start = time.perf_counter()
            return
        pause = time.perf_counter() - self._start
        self.total += pause
        self.longest = max(self.longest, pause)
        self.full += info.get("generation") == 2

    def take(self) -> tuple[float, float, int]:
        out = (self.total, self.longest, self.full)
        self.total = self.longest = 0.0
        self.full = 0
        return out


class Counts:
    """Samples reported since the last ``take``: messages / requests, and failures."""

    def __init__(self) -> None:
        self.rate_samples = 0
        self.failures = 0

    def on_request(self, request_type: str, name: str, exception: Any = None, **_: Any) -> None:
        if exception is not None:
            self.failures += 1
        elif request_type == "HTTP" or name.startswith("message"):
            self.rate_samples += 1

    def take(self) -> tuple[int, int]:
        out = (self.rate_samples, self.failures)
        self.rate_samples = self.failures = 0
        return out


def _cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def _runq_wait() -> float | None:
    """Seconds the main thread (the event loop) has waited on the run queue, or None."""
    try:
        return int(Path("/proc/self/schedstat").read_text().split()[1]) / 1e9
    except (OSError, IndexError, ValueError):
        return None


def _env_float(name: str, default: float) -> float:
    return float(os.environ.get(name, default))


class Steps(LoadTestShape):
    """Each step: ramp to its users, wait until all run plus SCALE_SETTLE, measure SCALE_HOLD."""

    def __init__(self) -> None:
        super().__init__()
        self.steps = [int(s) for s in os.environ.get("SCALE_STEPS", "100").split(",") if s]
        self.hold = _env_float("SCALE_HOLD", 8.0)
        self.settle = _env_float("SCALE_SETTLE", 3.0)
        self.spawn_rate = _env_float("SCALE_SPAWN_RATE", 250.0)
        self.ramp_max = _env_float("SCALE_RAMP_MAX", 120.0)
        out = os.environ.get("SCALE_OUT", "")
        self.out = Path(out) if out else None
        self.index = 0
        self.phase = "ramp"
        self.since = time.monotonic()
        self.probe: LoopLagProbe | None = None
        self.counts = Counts()
        self.gc = GcPauses()
        self.mark: tuple[float, float] = (0.0, 0.0)  # wall, cpu at the measurement's start
        self.wait0: float | None = None  # run-queue wait at the measurement's start
        self.reached = True

    def _write(self, record: dict[str, Any]) -> None:
        if self.out is not None:
            with self.out.open("a", encoding="utf-8") as f:
                f.write(json.dumps(record) + "\n")

    def _begin(self) -> None:
        if self.probe is None and self.runner is not None:  # the first tick: the runner exists
            self.probe = LoopLagProbe(0.005).start()
            self.runner.environment.events.request.add_listener(self.counts.on_request)

    def _finish_step(self, target: int, reached: bool) -> None:
        assert self.probe is not None and self.runner is not None
        wall0, cpu0 = self.mark
        seconds = max(1e-6, time.monotonic() - wall0)
        samples, failures = self.counts.take()
        gc_total, gc_longest, gc_full = self.gc.take()
        figures = StepFigures(
            users=target,
            running=self.runner.user_count,
            seconds=round(seconds, 2),
            lag_p50_ms=round(self.probe.percentile(50) * 1000, 2),
            lag_p99_ms=round(self.probe.percentile(99) * 1000, 2),
            lag_max_ms=round(self.probe.max_lag * 1000, 2),
            lag_samples=len(self.probe.lags),
            rate=round(samples / seconds, 1),
            failures=round(failures / seconds, 1),
            cpu_pct=round(100.0 * (_cpu() - cpu0) / seconds, 1),
            load=" ".join(f"{x:.2f}" for x in os.getloadavg()),
            reached=reached,
            gc_ms=round(gc_total * 1000, 1),
            gc_max_ms=round(gc_longest * 1000, 1),
            gc_full=gc_full,
            runq_wait_pct=round(100.0 * (wait - self.wait0) / seconds, 1)
            if (wait := _runq_wait()) is not None and self.wait0 is not None
            else -1.0,
        )
        self._write({"event": "step", **asdict(figures)})

    def tick(self) -> tuple[int, float] | None:
        self._begin()
        if self.index >= len(self.steps):
            return None
        target = self.steps[self.index]
        now = time.monotonic()
        runner = self.runner
        assert runner is not None
        if self.phase == "ramp":
            if runner.user_count >= target and runner.state == "running":
                self.phase, self.since = "settle", now
            elif now - self.since > self.ramp_max:  # not all started: measure what runs, stop
                self.reached = False
                self._start_measure(target, now)
        if self.phase == "settle" and now - self.since >= self.settle:
            self._start_measure(target, now)
        if self.phase == "measure" and now - self.since >= self.hold:
            self._finish_step(target, reached=self.reached)
            self.index = self.index + 1 if self.reached else len(self.steps)
            self.phase, self.since = "ramp", now
            if self.index >= len(self.steps):
                return None
            target = self.steps[self.index]
        return (target, self.spawn_rate)

    def _start_measure(self, target: int, now: float) -> None:
        assert self.probe is not None
        self.phase, self.since = "measure", now
        self.probe.reset()
        self.counts.take()
        self.gc.take()
        self.mark = (now, _cpu())
        self.wait0 = _runq_wait()
        self._write({"event": "measure", "users": target, "pid": os.getpid()})
