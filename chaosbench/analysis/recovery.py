"""Recovery per burst: detection time, recovery time with a hold period, and RTOs.

Only the kinds a burst *affected* decide its recovery: a kind its faults touch
(``chaosbench.analysis.cohorts``) whose seconds in the burst left its band more often than noise
does (at least ``max(2, 20 %)`` of the burst's seconds). A kind the burst did not move never
names the burst "not recovered".

Each kind's band comes from its own baseline variability: the ``band_quantile`` of its
per-second p95s x (1 + ``p95_tolerance``) + ``p95_margin_ms``; error rate up to the baseline's
+ ``error_tolerance``. Where the burst has a control cohort (kinds its faults do not touch),
each second's p95 is first corrected by how far the control's p95 sits above its own baseline
level in that same second (host drift, a neighbour's slow second), never below it.

A second is *bad* out of band (or, for a kind that reports in every baseline second, when it
goes quiet), *ok* in band, *unknown* with fewer than ``min_second_samples`` requests.

- detection time: from the burst's start to the first bad second of an affected kind;
- recovery time: from the burst's end to the first ok second that starts a hold of ``hold_s``
  seconds with at most ``hold_misses`` bad ones, for every affected kind, before the next burst
  starts; otherwise "not recovered" — unless the run ended first (a ``--run-time`` shorter than
  the profile): then "not measurable". Resolution: one second (the windows are per second;
  a burst's end inside a second is taken at its exact time, so 0.0 … 1.0 s is "with the burst").
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from chaosbench.analysis.cohorts import Cohorts
from chaosbench.analysis.limits import RecoveryTime
from chaosbench.analysis.model import PhaseSpan, RunData
from chaosbench.analysis.stats import Cohort, Scope, WindowTable

OK, BAD, UNKNOWN = 1, -1, 0
RESOLUTION_S = 1.0


@dataclass(slots=True)
class Band:
    kind: str
    p95_high_ms: float
    error_high: float
    regular: bool  # the kind reported enough samples in (almost) every baseline second
    level_ms: float = 0.0  # median of the baseline's per-second p95s


@dataclass(slots=True)
class KindRecovery:
    kind: str
    detection_s: float | None
    recovery_s: float | None  # None: not recovered
    affected: bool = True  # decides the burst's recovery
    bad_in_burst: int = 0  # seconds out of band during the burst
    control: str = ""  # the kinds its seconds were corrected by ("" none)


@dataclass(slots=True)
class BurstRecovery:
    burst: int
    start: float
    end: float
    detection_s: float | None  # None: never out of band (the fault had no visible effect)
    recovery_s: float | None  # None: not recovered before the next burst / not measurable
    recovered: bool
    slowest: str = ""  # the kind that recovered last (or did not)
    kinds: list[KindRecovery] = field(default_factory=list)
    note: str = ""
    measurable: bool = True  # False: the run ended before recovery could be held
    resolution_s: float = RESOLUTION_S

    @property
    def affected(self) -> list[str]:
        return [k.kind for k in self.kinds if k.affected]


@dataclass(slots=True)
class RtoRecord:
    name: str
    type: str
    target: str
    burst: int | None
    rto_s: float | None  # None: did not come back


def _second_p95(
    table: WindowTable, who: Scope | Cohort, lo: int, hi: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(seconds, p95 ms, count, failures) of ``who`` per second in [lo, hi)."""
    blk = table.select(who, span=(lo, hi))
    return blk.seconds, blk.hist.row_percentiles(95) / 1000, blk.count, blk.failures


def bands(table: WindowTable, run: RunData, cfg: RecoveryTime) -> list[Band]:
    base_span = next((p for p in run.phases if p.label == "baseline"), None)
    out: list[Band] = []
    for kind in table.kinds():
        blk = table.select(Scope(kind), ["baseline"])
        if blk.total == 0:
            continue
        full = blk.count >= cfg.min_second_samples
        p95 = blk.hist.row_percentiles(95)[full] / 1000
        if p95.size == 0:
            continue
        seconds = (base_span.end - base_span.start) if base_span else blk.n
        regular = full.sum() >= 0.9 * max(math.floor(seconds) - 1, 1)
        err = float(blk.failures.sum() / blk.count.sum())
        high = float(np.quantile(p95, cfg.band_quantile))
        out.append(
            Band(
                kind=kind,
                p95_high_ms=high * (1 + cfg.p95_tolerance) + cfg.p95_margin_ms,
                error_high=err + cfg.error_tolerance,
                regular=bool(regular),
                level_ms=float(np.median(p95)),
            )
        )
    return out


@dataclass(slots=True)
class ControlSeconds:
    """The control cohort, second by second over a span: how far its p95 sits above its
    baseline level (``excess``, ms, never negative) and whether it left its own band
    (``out``: the host had a bad second, which says nothing about the kind's latency)."""

    excess: np.ndarray
    out: np.ndarray


def _control_level(
    table: WindowTable, coh: Cohort, cfg: RecoveryTime
) -> tuple[float, float] | None:
    """(median, band high) of the control's per-second baseline p95s, as ``bands`` makes them."""
    base = table.select(coh, ["baseline"])
    full = base.count >= cfg.min_second_samples
    if not full.any():
        return None
    p95 = base.hist.row_percentiles(95)[full] / 1000
    high = float(np.quantile(p95, cfg.band_quantile)) * (1 + cfg.p95_tolerance)
    return float(np.median(p95)), high + cfg.p95_margin_ms


def _control_seconds(
    table: WindowTable,
    control: list[str],
    lo: int,
    hi: int,
    cfg: RecoveryTime,
    levels: dict[tuple[str, ...], tuple[float, float] | None],
) -> ControlSeconds:
    """The control cohort's seconds in [lo, hi) (zeros where it has too few samples, or no
    control). ``levels``: the control cohorts' baseline levels computed so far."""
    out = ControlSeconds(np.zeros(hi - lo), np.zeros(hi - lo, dtype=bool))
    if not control:
        return out
    coh = Cohort(tuple(control))
    if coh.kinds not in levels:
        levels[coh.kinds] = _control_level(table, coh, cfg)
    level = levels[coh.kinds]
    if level is None:
        return out
    secs, p95, count, _ = _second_p95(table, coh, lo, hi)
    ok = count >= cfg.min_second_samples
    out.excess[secs[ok] - lo] = np.maximum(p95[ok] - level[0], 0.0)
    out.out[secs[ok] - lo] = p95[ok] > level[1]
    return out


def _states(
    table: WindowTable, band: Band, lo: int, hi: int, cfg: RecoveryTime, ctl: ControlSeconds
) -> np.ndarray:
    """State of each second in [lo, hi) for one kind. A second whose p95 is out of band while
    the control cohort is out of its own band too is *unknown*, not bad: the host was slow for
    everything (a stall of the load generator, a CPU hog), which is no evidence that this kind
    has not recovered. Errors are judged in every second (host slowness does not fail
    requests)."""
    secs, p95, count, failures = _second_p95(table, Scope(band.kind), lo, hi)
    states = np.full(hi - lo, BAD if band.regular else UNKNOWN, dtype=np.int8)
    if secs.size == 0:
        return states
    idx = secs - lo
    full = count >= cfg.min_second_samples
    err = failures / np.maximum(count, 1)
    slow = p95 - ctl.excess[idx] > band.p95_high_ms
    failing = err > band.error_high
    excused = slow & ~failing & ctl.out[idx]
    bad = (slow | failing) & ~excused
    states[idx[full & bad]] = BAD
    states[idx[full & ~bad & ~excused]] = OK
    states[idx[full & excused]] = UNKNOWN
    return states


def _recovered_at(states: np.ndarray, first: int, hold: int, misses: int) -> int | None:
    """The first ok second from ``first`` on that starts a hold of ``hold`` seconds with at
    most ``misses`` bad seconds (a hold must fit before the end of ``states``)."""
    for s in range(max(first, 0), len(states) - hold + 1):
        if states[s] == OK and int((states[s : s + hold] == BAD).sum()) <= misses:
            return s
    return None


def burst_recovery(
    table: WindowTable,
    bands_: list[Band],
    burst: PhaseSpan,
    until: float,
    cfg: RecoveryTime,
    cohorts: Cohorts | None = None,
    cut: bool = False,
    levels: dict[tuple[str, ...], tuple[float, float] | None] | None = None,
) -> BurstRecovery:
    """``cohorts``: what the burst's faults touch (None: every kind); ``cut``: the run ended
    at ``until`` before the recovery phase was over."""
    lo, hi = math.floor(burst.start), math.ceil(until)
    end_sec = math.floor(burst.end)
    burst_secs = max(math.ceil(burst.end) - lo, 1)
    need = max(2, math.ceil(0.2 * burst_secs)) if burst_secs > 2 else 1
    kinds_ = [b.kind for b in bands_]
    kinds: list[KindRecovery] = []
    for band in bands_:
        control = cohorts.control_for(band.kind, kinds_) if cohorts is not None else []
        ctl = _control_seconds(table, control, lo, hi, cfg, {} if levels is None else levels)
        st = _states(table, band, lo, hi, cfg, ctl)
        in_burst = int((st[:burst_secs] == BAD).sum())
        touched = cohorts is None or cohorts.touches(band.kind)
        bad = np.flatnonzero(st[:burst_secs] == BAD)
        det = max(float(lo + bad[0]) - burst.start, 0.0) if bad.size else None
        at = _recovered_at(st, end_sec - lo, cfg.hold_s, cfg.hold_misses)
        rec = None if at is None else max(float(lo + at) - burst.end, 0.0)
        kinds.append(
            KindRecovery(
                band.kind, det, rec, touched and in_burst >= need, in_burst, "+".join(control)
            )
        )
    assert burst.burst is not None
    out = BurstRecovery(burst.burst, burst.start, burst.end, None, None, False, kinds=kinds)
    if not kinds:
        out.note = "no baseline samples to define the band"
        return out
    judged = [k for k in kinds if k.affected]
    if not judged:
        out.recovered, out.recovery_s = True, 0.0
        out.note = (
            "no kind left its baseline band during the burst (a smaller shift is judged by "
            "p95_regression, not by recovery)"
        )
        return out
    dets = [k.detection_s for k in judged if k.detection_s is not None]
    out.detection_s = min(dets) if dets else None
    stuck = [k for k in judged if k.recovery_s is None]
    if stuck:
        out.slowest = stuck[0].kind
        names = ", ".join(k.kind for k in stuck)
        if cut:
            out.measurable = False
            out.note = f"not measurable: the run ended before {names} held in band {cfg.hold_s} s"
        else:
            out.note = f"{names} not back in band for {cfg.hold_s} s"
        return out
    worst = max(judged, key=lambda k: k.recovery_s or 0.0)
    out.recovered, out.recovery_s, out.slowest = True, worst.recovery_s, worst.kind
    return out


def recoveries(
    table: WindowTable,
    run: RunData,
    cfg: RecoveryTime,
    cohorts: dict[int, Cohorts] | None = None,
) -> list[BurstRecovery]:
    """Per burst; ``cohorts``: per burst number, what its faults touch (None: every kind)."""
    bursts = sorted((p for p in run.phases if p.phase == "burst"), key=lambda p: p.start)
    if not bursts:
        return []
    bands_ = bands(table, run, cfg)
    last = max((r.second + 1 for r in table.rows), default=bursts[-1].end)
    if run.ended is not None:
        last = min(last, run.ended) if last > bursts[-1].end else last
    # The run was cut when no phase (the cooldown) followed the last burst's recovery.
    cut = not any(p.start >= bursts[-1].end and p.phase == "cooldown" for p in run.phases)
    out = []
    levels: dict[tuple[str, ...], tuple[float, float] | None] = {}
    for i, b in enumerate(bursts):
        nxt = i + 1 < len(bursts)
        until = bursts[i + 1].start if nxt else last
        coh = None if cohorts is None or b.burst is None else cohorts.get(b.burst)
        out.append(burst_recovery(table, bands_, b, until, cfg, coh, cut and not nxt, levels))
    return out


def rtos(run: RunData) -> list[RtoRecord]:
    """RTOs that kill-and-restart faults wrote into their journal records (``rto_s``).

    A fault's inject record may carry ``rto_s: null`` (not measured yet) and its revert record
    the measured value: per fault and burst the last value measured counts; none means the
    component did not come back.
    """
    found: dict[tuple[str, int | None], RtoRecord] = {}
    for r in sorted(run.journal, key=lambda r: r.start):
        if not r.measures_rto:
            continue
        v = r.rto_s
        key = (r.name, r.burst)
        prev = found.get(key)
        if v is None and prev is not None:
            continue
        found[key] = RtoRecord(r.name, r.type, r.target, r.burst, None if v is None else float(v))
    return list(found.values())
