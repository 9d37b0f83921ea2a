"""Synthetic runs with a known truth, built in memory as RunData.

A run walks warmup → baseline → (burst N → recovery N) x bursts → cooldown, one window per
second and key. Latencies are log-normal around each key's median with a small per-second
wobble (so seconds are not perfectly alike, as on a real machine). During a burst, and for
``lag_s`` seconds after it ends, affected keys get exactly ``added_ms`` more latency and
``burst_error_rate`` more failures; recovery is therefore complete ``lag_s`` seconds after the
burst's end. Used by the tests and by ``bench/analysis_time.py``.

A noisy machine, reproducible by seed (its own generator, so a quiet spec's windows do not
change): *host drift* makes every kind ``drift_ms`` slower from ``drift_at_s`` seconds after
the start on (not aligned with the bursts); *neighbour noise* makes a random ``noise_share`` of
the seconds ``noise_ms`` slower on every kind (a CPU hog, another client's burst); *host stalls*
make a random ``stall_share`` of the seconds slower on every kind by an amount drawn for each
kind apart (up to twice ``stall_ms``: a stall hits the requests in flight, not every kind alike).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from chaosbench.analysis.hdr import from_values_us
from chaosbench.analysis.model import Integrity, PhaseSpan, RunData, Window, WindowKey
from chaosbench.analysis.rundir.record import RecordedCounts, RunRecord
from chaosbench.ground.journal import JournalRecord


@dataclass(slots=True)
class KeySpec:
    request_type: str
    name: str
    rate: float = 100.0  # requests per second
    median_ms: float = 20.0
    sigma: float = 0.35  # log-normal shape
    error_rate: float = 0.0
    deadline_ms: float = 500.0
    affected: bool = True  # the bursts act on this key
    slow_share: float = 0.0  # noise of this key alone: this share of its seconds ...
    slow_ms: float = 0.0  # ... is this much slower


def default_keys() -> list[KeySpec]:
    return [
        KeySpec("HTTP", "POST /orders", 80, 20.0),
        KeySpec("PG", "select order", 60, 4.0),
        KeySpec("REDIS", "GET quote", 60, 1.0, affected=False),
    ]


@dataclass(slots=True)
class SyntheticSpec:
    start: int = 1_800_000_000
    warmup_s: int = 5
    baseline_s: int = 30
    burst_on_s: int = 15
    burst_off_s: int = 30
    bursts: int = 2
    cooldown_s: int = 10
    keys: list[KeySpec] = field(default_factory=default_keys)
    added_ms: float | list[float] = 80.0  # per burst (a list) or for all bursts
    lag_s: int = 4  # the effect lasts this long after each burst's end
    burst_error_rate: float = 0.0
    wobble: float = 0.04  # per-second multiplicative noise (log-normal sigma)
    seed: int = 1
    integrity: Integrity = field(default_factory=Integrity)
    rto_s: list[float] = field(default_factory=list)  # one kill-and-restart fault per burst
    fault: str = "pg-latency"
    target: str = "sut_pg"  # the fault's target (route) in the journal
    inject: bool = True  # False: the profile has no faults (``faults: []``), bursts are empty
    drift_ms: float = 0.0  # host drift: every kind this much slower ...
    drift_at_s: int = 0  # ... from this many seconds after the start on
    noise_share: float = 0.0  # neighbour noise: this share of the seconds ...
    noise_ms: float = 0.0  # ... is this much slower on every kind
    stall_share: float = 0.0  # host stalls: this share of the seconds ...
    stall_ms: float = 0.0  # ... each kind up to twice this much slower, each by its own draw

    def added(self, burst: int) -> float:
        if isinstance(self.added_ms, list):
            return self.added_ms[burst - 1]
        return self.added_ms


def phase_spans(spec: SyntheticSpec) -> list[PhaseSpan]:
    t = spec.start
    spans: list[PhaseSpan] = []

    def add(label: str, phase: str, burst: int | None, length: int) -> None:
        nonlocal t
        spans.append(PhaseSpan(label, phase, burst, float(t), float(t + length), float(t)))
        t += length

    add("warmup", "warmup", None, spec.warmup_s)
    add("baseline", "baseline", None, spec.baseline_s)
    for b in range(1, spec.bursts + 1):
        add(f"burst{b}", "burst", b, spec.burst_on_s)
        add(f"recovery{b}", "recovery", b, spec.burst_off_s)
    add("cooldown", "cooldown", None, spec.cooldown_s)
    return spans


def _journal(spec: SyntheticSpec, spans: list[PhaseSpan]) -> list[JournalRecord]:
    out: list[JournalRecord] = []
    for s in spans:
        out.append(
            JournalRecord(
                "phase",
                s.label,
                s.phase,
                burst=s.burst,
                planned=s.start,
                start=s.start,
                end=s.start,
            )
        )
        if s.phase == "burst" and s.burst is not None and spec.inject:
            rto = spec.rto_s[(s.burst - 1) % len(spec.rto_s)] if spec.rto_s else None
            ftype = "kill_restart" if spec.rto_s else "latency"
            out.append(
                JournalRecord(
                    "inject",
                    spec.fault,
                    ftype,
                    spec.target,
                    s.burst,
                    s.start,
                    s.start,
                    s.start + 0.01,
                    measures_rto=rto is not None,
                    rto_s=rto,
                )
            )
            out.append(
                JournalRecord(
                    "revert", spec.fault, ftype, spec.target, s.burst, s.end, s.end, s.end + 0.01
                )
            )
    return out


def generate(spec: SyntheticSpec | None = None) -> RunData:
    spec = spec or SyntheticSpec()
    rng = np.random.default_rng(spec.seed)
    spans = phase_spans(spec)
    effect: dict[int, int] = {}  # second -> burst whose effect is active
    for s in spans:
        if s.phase == "burst" and s.burst is not None:
            for sec in range(int(s.start), int(s.end) + spec.lag_s):
                effect[sec] = s.burst
    noise_rng = np.random.default_rng([spec.seed, 7])
    windows: list[Window] = []
    for s in spans:
        for sec in range(int(s.start), int(s.end)):
            host = spec.drift_ms if sec >= spec.start + spec.drift_at_s else 0.0
            if spec.noise_share and noise_rng.random() < spec.noise_share:
                host += spec.noise_ms
            stalled = bool(spec.stall_share) and noise_rng.random() < spec.stall_share
            for k in spec.keys:
                n = int(rng.poisson(k.rate))
                if n == 0:
                    continue
                wob = float(rng.lognormal(0.0, spec.wobble))
                ms = rng.lognormal(np.log(k.median_ms * wob), k.sigma, n)
                err = k.error_rate
                burst = effect.get(sec) if k.affected else None
                if burst is not None:
                    ms = ms + spec.added(burst)
                    err += spec.burst_error_rate
                extra = host
                if stalled:  # a CPU hog took the load generator: every kind, unequally
                    extra += float(noise_rng.uniform(0.0, 2.0 * spec.stall_ms))
                if k.slow_share and noise_rng.random() < k.slow_share:
                    extra += k.slow_ms
                if extra:
                    ms = ms + extra
                failures = int(rng.binomial(n, min(err, 1.0)))
                windows.append(
                    Window(
                        second=sec,
                        key=WindowKey(k.request_type, k.name, s.label),
                        count=n,
                        failures=failures,
                        deadline_misses=int((ms > k.deadline_ms).sum()),
                        histogram=from_values_us(np.round(ms * 1000)),
                        errors={"TimeoutError": failures} if failures else {},
                    )
                )
    run_id = f"synthetic-{spec.seed}"
    meta = RunRecord(run_id, float(spec.start), seed=spec.seed, extra={"synthetic": True})
    return RunData(
        run_id=run_id,
        meta=meta,
        windows=windows,
        phases=spans,
        journal=_journal(spec, spans),
        integrity=spec.integrity,
        injections={spec.fault: spec.bursts},
        started=float(spec.start),
        ended=spans[-1].end,
    )


def cut(run: RunData, at: float) -> RunData:
    """``run`` as if it had ended ``at`` seconds after its start (a short ``--run-time``)."""
    end = run.started + at
    run.phases = [p for p in run.phases if p.start < end]
    for p in run.phases:
        p.end = min(p.end, end)
    run.windows = [w for w in run.windows if w.second < end]
    run.journal = [r for r in run.journal if r.start < end]
    run.ended = end
    return run


def one_hour(seed: int = 1) -> SyntheticSpec:
    """A one-hour run: 10 min baseline, 8 bursts of 60 s with 5 min between, six keys."""
    keys = [
        *default_keys(),
        KeySpec("WS", "quote", 200, 2.0),
        KeySpec("HTTP", "GET /quote", 120, 8.0, affected=False),
        KeySpec("REDIS", "INCR ratelimit", 60, 0.8, affected=False),
    ]
    return SyntheticSpec(
        warmup_s=60,
        baseline_s=600,
        burst_on_s=60,
        burst_off_s=300,
        bursts=8,
        cooldown_s=60,
        keys=keys,
        seed=seed,
    )


def write_run_dir(run: RunData, path: Path) -> Path:
    """Write ``run`` as a real run directory with the recorder's own writer."""
    from chaosbench.analysis.recording.window import ClosedWindow
    from chaosbench.analysis.rundir import RunDirWriter
    from chaosbench.ground.timeline import Phase, PhaseMark

    w = RunDirWriter(path)
    w.create()
    w.start(run.meta)
    for rec in run.journal:
        w.append_journal(rec)
        if rec.kind == "phase":  # the recorder writes a mark with every phase record
            w.append_mark(PhaseMark(rec.start, Phase(rec.type), rec.burst))
    w.append_windows(
        [
            ClosedWindow(
                second=win.second,
                request_type=win.key.request_type,
                name=win.key.name,
                phase=win.key.phase,
                count=win.count,
                failures=win.failures,
                deadline_misses=win.deadline_misses,
                deadline_misses_failed=0,
                sum_us=0,
                sum_us_failed=0,
                hist_ok=win.histogram,
                hist_err=None,
                errors=dict(win.errors),
            )
            for win in run.windows
        ]
    )
    w.write_integrity(run.integrity)
    w.write_injections(run.injections, {})
    if run.ended is not None:
        samples = sum(win.count for win in run.windows)
        w.finish(run.ended, recorded=RecordedCounts(samples, 0, w.windows_written))
    else:
        w.close()
    return path
