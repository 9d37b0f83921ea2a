"""Per-kind p95, live, for the Chaos tab: one point per tick from Locust's own statistics.

Every tick (``TICK_S``) the cumulative response-time counts of Locust's stats entries are summed
per kind (the entries' request type) and the previous tick's sums subtracted: what remains is the
tick's distribution, whose p95 is the point. On a distributed run the master's statistics are
the workers' reports (every few seconds), so a tick without a report has no point; the view
shows the last point. Locust's "reset stats" makes the counts go down: that tick is skipped.

The band is the recovery criterion's (``chaosbench.analysis.recovery.bands``), from the points
of the baseline phase: the ``band_quantile`` of their p95s x (1 + ``p95_tolerance``) +
``p95_margin_ms``, over points with at least ``min_second_samples`` requests. It is a live
approximation (ticks of completion time, Locust's rounded response times): the verdict's
recovery is computed from the recorded per-second windows.
"""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from locust.stats import calculate_response_time_percentile

from chaosbench.analysis.limits import RecoveryTime
from chaosbench.ground.timeline import PhaseTimeline

TICK_S = 1.0
KEEP_POINTS = 900  # per kind: 15 minutes of one-second points
BASELINE = "baseline"


@dataclass(slots=True)
class Point:
    wall: float  # end of the tick (time.time())
    p95_ms: float
    count: int
    phase: str  # the phase label in force at the tick's middle


@dataclass(slots=True)
class KindLive:
    """One kind in the tab: its last p95 against its baseline band."""

    kind: str
    p95_ms: float | None
    count: int  # requests in the last point
    band_high_ms: float | None  # None until the baseline gave enough points
    level_ms: float | None  # median of the baseline's p95s
    state: str  # "in band", "out of band", "no band yet", "no data"
    series: list[tuple[float, float]] = field(default_factory=list)  # (wall, p95 ms)


@dataclass
class _Kind:
    points: deque[Point] = field(default_factory=lambda: deque(maxlen=KEEP_POINTS))
    baseline: list[float] = field(default_factory=list)  # p95s of full baseline points


def kind_sums(entries: Any) -> dict[str, tuple[dict[int, int], int]]:
    """Locust's stats entries summed per kind: (response time ms -> count, requests)."""
    out: dict[str, tuple[dict[int, int], int]] = {}
    for entry in list(entries.values()):
        times, n = out.setdefault(str(entry.method), ({}, 0))
        for rt, count in list(entry.response_times.items()):
            times[rt] = times.get(rt, 0) + count
        out[str(entry.method)] = (times, n + entry.num_requests - entry.num_none_requests)
    return out


def _delta(new: dict[int, int], old: dict[int, int]) -> dict[int, int] | None:
    """``new - old`` per response time, or None when a count went down (stats were reset)."""
    out: dict[int, int] = {}
    for rt, count in new.items():
        d = count - old.get(rt, 0)
        if d < 0:
            return None
        if d:
            out[rt] = d
    if any(rt not in new for rt in old):
        return None
    return out


class LiveKinds:
    """The points of one test (``reset()`` at each test start) and the bands they give."""

    def __init__(self, timeline: PhaseTimeline, cfg: RecoveryTime | None = None) -> None:
        self.timeline = timeline
        self.cfg = cfg or RecoveryTime()
        self._kinds: dict[str, _Kind] = {}
        self._last: dict[str, tuple[dict[int, int], int]] = {}
        self._last_wall = 0.0

    def reset(self, cfg: RecoveryTime | None = None, entries: Any = None) -> None:
        """A new test: no points, no bands; ``entries`` (if given) are the counts to start from."""
        if cfg is not None:
            self.cfg = cfg
        self._kinds.clear()
        self._last = kind_sums(entries) if entries is not None else {}
        self._last_wall = time.time()

    def tick(self, entries: Any, now: float | None = None) -> None:
        """One point per kind from Locust's stats entries (``RequestStats.entries``)."""
        now = time.time() if now is None else now
        sums = kind_sums(entries)
        middle = (self._last_wall + now) / 2 if self._last_wall else now
        label = self.timeline.at(middle).label
        for kind, (times, _n) in sums.items():
            old_times, _old_n = self._last.get(kind, ({}, 0))
            delta = _delta(times, old_times)
            if not delta:  # nothing new, or the stats were reset
                continue
            count = sum(delta.values())
            p95 = float(calculate_response_time_percentile(delta, count, 0.95))
            k = self._kinds.setdefault(kind, _Kind())
            k.points.append(Point(now, p95, count, label))
            if label == BASELINE and count >= self.cfg.min_second_samples:
                k.baseline.append(p95)
        self._last = sums
        self._last_wall = now

    def band(self, kind: str) -> tuple[float, float] | None:
        """(high, level) ms of ``kind``'s band, from the baseline's points so far."""
        k = self._kinds.get(kind)
        if k is None or not k.baseline:
            return None
        p95 = np.asarray(k.baseline)
        high = float(np.quantile(p95, self.cfg.band_quantile))
        high = high * (1 + self.cfg.p95_tolerance) + self.cfg.p95_margin_ms
        return high, float(np.median(p95))

    def view(self, since: float = 0.0) -> list[KindLive]:
        """Every kind seen in this test, its last point and its series from ``since``."""
        out: list[KindLive] = []
        for kind in sorted(self._kinds):
            k = self._kinds[kind]
            last = k.points[-1] if k.points else None
            band = self.band(kind)
            if last is None:
                state = "no data"
            elif band is None:
                state = "no band yet"
            else:
                state = "in band" if last.p95_ms <= band[0] else "out of band"
            out.append(
                KindLive(
                    kind=kind,
                    p95_ms=last.p95_ms if last else None,
                    count=last.count if last else 0,
                    band_high_ms=band[0] if band else None,
                    level_ms=band[1] if band else None,
                    state=state,
                    series=[(p.wall, p.p95_ms) for p in k.points if p.wall >= since],
                )
            )
        return out
