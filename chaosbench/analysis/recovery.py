"""Recovery per burst: detection time, recovery time with a hold period, and RTOs.

For each request kind, the baseline phase defines a band: per-second p95 up to the baseline's
slowest second x (1 + p95_tolerance), error rate up to the baseline's + error_tolerance.
A second is *bad* when it is out of band (or, for a kind that reports every second in the
baseline, when it goes quiet), *ok* when in band, *unknown* when it has too few samples.

- detection time: from the burst's start to the first bad second of any kind;
- recovery time: from the burst's end to the first second from which every kind stays out of
  bad for ``hold_s`` seconds (with at least one ok second), before the next burst starts;
  a burst that never gets there is "not recovered".
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from chaosbench.analysis.limits import RecoveryTime
from chaosbench.analysis.model import PhaseSpan, RunData
from chaosbench.analysis.stats import Scope, WindowTable

OK, BAD, UNKNOWN = 1, -1, 0


@dataclass(slots=True)
class Band:
    kind: str
    p95_high_ms: float
    error_high: float
    regular: bool  # the kind reported enough samples in (almost) every baseline second


@dataclass(slots=True)
class KindRecovery:
    kind: str
    detection_s: float | None
    recovery_s: float | None  # None: not recovered


@dataclass(slots=True)
class BurstRecovery:
    burst: int
    start: float
    end: float
    detection_s: float | None  # None: never out of band (the fault had no visible effect)
    recovery_s: float | None  # None: not recovered before the next burst / the end
    recovered: bool
    slowest: str = ""  # the kind that recovered last (or did not)
    kinds: list[KindRecovery] = field(default_factory=list)
    note: str = ""


@dataclass(slots=True)
class RtoRecord:
    name: str
    type: str
    target: str
    burst: int | None
    rto_s: float | None  # None: did not come back


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
        out.append(
            Band(
                kind=kind,
                p95_high_ms=float(p95.max()) * (1 + cfg.p95_tolerance),
                error_high=err + cfg.error_tolerance,
                regular=bool(regular),
            )
        )
    return out


def _states(table: WindowTable, band: Band, lo: int, hi: int, cfg: RecoveryTime) -> np.ndarray:
    """State of each second in [lo, hi) for one kind."""
    blk = table.select(Scope(band.kind), span=(lo, hi))
    states = np.full(hi - lo, BAD if band.regular else UNKNOWN, dtype=np.int8)
    if blk.n == 0:
        return states
    idx = blk.seconds - lo
    full = blk.count >= cfg.min_second_samples
    p95 = blk.hist.row_percentiles(95) / 1000
    err = blk.failures / np.maximum(blk.count, 1)
    bad = (p95 > band.p95_high_ms) | (err > band.error_high)
    states[idx[full & bad]] = BAD
    states[idx[full & ~bad]] = OK
    return states


def _recovered_at(states: np.ndarray, first: int, hold: int) -> int | None:
    for s in range(max(first, 0), len(states) - hold + 1):
        win = states[s : s + hold]
        if not (win == BAD).any() and (win == OK).any():
            return s
    return None


def burst_recovery(
    table: WindowTable, bands_: list[Band], burst: PhaseSpan, until: float, cfg: RecoveryTime
) -> BurstRecovery:
    lo, hi = math.floor(burst.start), math.ceil(until)
    end_sec = math.floor(burst.end)
    kinds: list[KindRecovery] = []
    for band in bands_:
        st = _states(table, band, lo, hi, cfg)
        bad = np.flatnonzero(st == BAD)
        det = max(float(lo + bad[0]) - burst.start, 0.0) if bad.size else None
        at = _recovered_at(st, end_sec - lo, cfg.hold_s)
        rec = None if at is None else max(float(lo + at) - burst.end, 0.0)
        kinds.append(KindRecovery(band.kind, det, rec))
    assert burst.burst is not None
    out = BurstRecovery(burst.burst, burst.start, burst.end, None, None, False, kinds=kinds)
    if not kinds:
        out.note = "no baseline samples to define the band"
        return out
    dets = [k.detection_s for k in kinds if k.detection_s is not None]
    out.detection_s = min(dets) if dets else None
    stuck = [k for k in kinds if k.recovery_s is None]
    if stuck:
        out.slowest = stuck[0].kind
        out.note = f"{', '.join(k.kind for k in stuck)} not back in band for {cfg.hold_s} s"
        return out
    worst = max(kinds, key=lambda k: k.recovery_s or 0.0)
    out.recovered, out.recovery_s, out.slowest = True, worst.recovery_s, worst.kind
    return out


def recoveries(table: WindowTable, run: RunData, cfg: RecoveryTime) -> list[BurstRecovery]:
    bursts = sorted((p for p in run.phases if p.phase == "burst"), key=lambda p: p.start)
    if not bursts:
        return []
    bands_ = bands(table, run, cfg)
    last = max((r.second + 1 for r in table.rows), default=bursts[-1].end)
    if run.ended is not None:
        last = min(last, run.ended) if last > bursts[-1].end else last
    out = []
    for i, b in enumerate(bursts):
        until = bursts[i + 1].start if i + 1 < len(bursts) else last
        out.append(burst_recovery(table, bands_, b, until, cfg))
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
