"""Everything the gate and the reports read about one run, computed once.

The reports (``chaosbench.analysis.report``) read only the results here: the per-burst rows,
the regression table and the charts' series and bands are computed in ``analyze``, so that
rendering a report never goes back into the statistics (nor repeats their work).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from chaosbench.analysis.cohorts import Cohorts, cohorts
from chaosbench.analysis.integrity import IntegritySummary, summarize_integrity
from chaosbench.analysis.limits import Bootstrap, DriftControl, RecoveryTime
from chaosbench.analysis.model import RunData
from chaosbench.analysis.recovery import BurstRecovery, RtoRecord, bands, recoveries, rtos
from chaosbench.analysis.regression import (
    Bracket,
    Comparison,
    Settings,
    compare,
    controlled,
    labels_of,
    phase_kind,
    scopes_of,
)
from chaosbench.analysis.stats import PhaseStats, Scope, Series, WindowTable, series, summarize


class GateView(Protocol):
    """What the analysis and the reports read of the gate (``chaosbench.analysis.gate.GateConfig``
    is one; the gate module is above the analysis, which does not import it)."""

    @property
    def source(self) -> str: ...
    @property
    def confidence(self) -> float: ...
    @property
    def min_samples(self) -> int: ...
    @property
    def bootstrap(self) -> Bootstrap: ...
    @property
    def recovery_time(self) -> RecoveryTime: ...
    @property
    def drift(self) -> DriftControl: ...


@dataclass(slots=True)
class BurstSummary:
    """One burst as the reports show it (point estimates; the verdict's cells say the rest)."""

    burst: int
    faults: list[str]
    p95_ratio: float | None  # worst kind's p95 over the baseline's, minus 1 (point estimate)
    p95_where: str
    stats: PhaseStats | None  # overall stats of the burst phase
    recovery: BurstRecovery | None
    reference_ms: float | None = None  # the worst kind's baseline p95 and burst p95
    current_ms: float | None = None


@dataclass(slots=True)
class ChartData:
    """A per-second series for a chart, with the band its baseline drew (ms), if any."""

    series: Series
    band: tuple[float, float] | None


@dataclass(slots=True)
class Analysis:
    run: RunData
    gate: GateView
    table: WindowTable
    baseline: RunData | None
    baseline_table: WindowTable | None
    stats: list[PhaseStats]
    recoveries: list[BurstRecovery]
    rtos: list[RtoRecord]
    integrity: IntegritySummary
    overall: Series  # per-second, all requests (charts)
    cohorts: dict[int, Cohorts] = field(default_factory=dict)  # per burst: what its faults touch
    brackets: dict[int, Bracket] = field(default_factory=dict)  # per burst: unaffected seconds
    #: the reports' results, filled by ``analyze``
    bursts: list[BurstSummary] = field(default_factory=list)
    regression_table: list[Comparison] = field(default_factory=list)  # p95 and p99 per kind
    overall_chart: ChartData | None = None
    kind_charts: list[ChartData] = field(default_factory=list)  # p95 per kind and its recovery band
    _memo: dict[tuple[str, str, str, float, float], Comparison] = field(default_factory=dict)

    def settings(self, percentile: float, confidence: float | None = None) -> Settings:
        g = self.gate
        return Settings(
            percentile=percentile,
            min_samples=g.min_samples,
            resamples=g.bootstrap.resamples,
            confidence=confidence or g.confidence,
            seed=g.bootstrap.seed,
        )

    def cells(self, phases: Iterable[str], scope: str, stored: bool = False) -> int:
        """How many (phase label, scope) cells ``versus`` would compare."""
        ref = self.baseline_table if stored else self.table
        if ref is None:
            return 0
        have = set(ref.phases())
        labels = [
            lab for lab in labels_of(self.table, phases) if (lab if stored else "baseline") in have
        ]
        return len(labels) * len(scopes_of(self.table, scope))

    def versus(
        self,
        phases: Iterable[str],
        scope: str,
        pct: float,
        stored: bool = False,
        confidence: float | None = None,
    ) -> list[Comparison]:
        """Phases of the given kinds against the baseline phase (or, ``stored``, against the
        same phase of the stored baseline run), one comparison per phase label and scope."""
        conf = confidence or self.gate.confidence
        ref = self.baseline_table if stored else self.table
        if ref is None:
            return []
        have = set(ref.phases())
        out = []
        for label in labels_of(self.table, phases):
            ref_label = label if stored else "baseline"
            if ref_label not in have:
                continue
            ref_name = f"baseline run {label}" if stored else "baseline"
            for sc in scopes_of(self.table, scope):
                key = (label, ref_name, sc.label, pct, conf)
                if key not in self._memo:
                    st = self.settings(pct, conf)
                    if stored:
                        got = compare(self.table, label, ref, ref_label, sc, st, ref_name)
                    else:
                        got = self._controlled(label, sc, st)
                    self._memo[key] = got
                out.append(self._memo[key])
        return out

    def _controlled(self, label: str, sc: Scope, st: Settings) -> Comparison:
        """``label`` against the baseline with drift control (docs/analysis.md)."""
        burst = next((p.burst for p in self.run.phases if p.label == label), None)
        coh = self.cohorts.get(burst) if burst is not None else None
        on = self.gate.drift.enabled
        control = (
            coh.control_for(sc.kind, self.table.kinds())
            if on and coh is not None and sc.kind is not None
            else []
        )
        bracket = (
            self.brackets.get(burst) if on and burst and phase_kind(label) == "burst" else None
        )
        return controlled(self.table, label, sc, st, control, bracket, self.run.started or 0.0)

    def regressions(self) -> list[Comparison]:
        """Burst and recovery phases vs the baseline phase, p95 and p99 per kind (reports)."""
        if not self.has_baseline_samples:
            return []
        return [c for p in (95.0, 99.0) for c in self.versus(["burst", "recovery"], "kind", p)]

    def burst_summaries(self) -> list[BurstSummary]:
        """Per burst: its faults, its worst kind's p95 ratio (from the regression table), its
        overall stats and its recovery."""
        run = self.run
        numbers = sorted(
            {p.burst for p in run.phases if p.phase == "burst" and p.burst is not None}
        )
        rec = {r.burst: r for r in self.recoveries}
        overall = {s.phase: s for s in self.stats if s.scope == "overall"}
        out = []
        for b in numbers:
            faults = sorted({j.name for j in run.journal if j.kind == "inject" and j.burst == b})
            comps = [
                c
                for c in self.regression_table
                if c.phase == f"burst{b}" and c.percentile == 95.0 and c.ratio is not None
            ]
            worst = max(comps, key=lambda c: c.ratio.value if c.ratio else -math.inf, default=None)
            out.append(
                BurstSummary(
                    burst=b,
                    faults=faults,
                    p95_ratio=worst.ratio.value - 1 if worst and worst.ratio else None,
                    p95_where=worst.scope if worst else "",
                    stats=overall.get(f"burst{b}"),
                    recovery=rec.get(b),
                    reference_ms=worst.reference_ms if worst else None,
                    current_ms=worst.current_ms if worst else None,
                )
            )
        return out

    def charts(self) -> tuple[ChartData, list[ChartData]]:
        """The overall latency series with the baseline's p95 band (low: its fastest second,
        high: its slowest x (1 + tolerance)); per kind with a recovery band, its p95 series."""
        tol = self.gate.recovery_time.p95_tolerance
        base = self.table.select(Scope(), ["baseline"])
        band = None
        if base.n:
            p95 = base.hist.row_percentiles(95) / 1000
            band = (float(np.nanmin(p95)), float(np.nanmax(p95)) * (1 + tol))
        kinds = []
        for b in bands(self.table, self.run, self.gate.recovery_time):
            base_k = self.table.select(Scope(b.kind), ["baseline"])
            lo = float(np.nanmin(base_k.hist.row_percentiles(95))) / 1000 if base_k.n else 0.0
            kinds.append(ChartData(series(self.table, Scope(b.kind)), (lo, b.p95_high_ms)))
        return ChartData(self.overall, band), kinds

    @property
    def has_baseline_samples(self) -> bool:
        return any(s.phase == "baseline" and s.count > 0 for s in self.stats)


def _brackets(run: RunData, recs: list[BurstRecovery], hold: int) -> dict[int, Bracket]:
    """Per burst, the unaffected seconds on both sides: before it, the baseline (burst 1) or the
    settled seconds of the previous recovery; after it, this recovery's settled seconds (from
    its recovery plus the hold on; none when it did not recover)."""
    by_label = {p.label: p for p in run.phases}
    settled: dict[int, tuple[int, int] | None] = {}
    for r in recs:
        phase = by_label.get(f"recovery{r.burst}")
        if phase is None or not r.recovered or r.recovery_s is None:
            settled[r.burst] = None
            continue
        a, b = math.ceil(r.end + r.recovery_s) + hold, math.floor(phase.end)
        settled[r.burst] = (a, b) if b - a >= 2 else None
    base = by_label.get("baseline")
    out: dict[int, Bracket] = {}
    for r in recs:
        before = settled.get(r.burst - 1)
        if before is None and base is not None:
            before = (math.ceil(base.start), math.floor(base.end))
        if before is not None:
            out[r.burst] = Bracket(before, settled.get(r.burst))
    return out


def analyze(run: RunData, gate: GateView, baseline: RunData | None = None) -> Analysis:
    table = WindowTable(run)
    bursts = sorted({p.burst for p in run.phases if p.phase == "burst" and p.burst is not None})
    coh = {b: cohorts(run.journal, b, gate.drift.control) for b in bursts}
    recs = recoveries(table, run, gate.recovery_time, coh if gate.drift.enabled else None)
    a = Analysis(
        run=run,
        gate=gate,
        table=table,
        baseline=baseline,
        baseline_table=WindowTable(baseline) if baseline is not None else None,
        stats=summarize(run, table),
        recoveries=recs,
        rtos=rtos(run),
        integrity=summarize_integrity(run.integrity),
        overall=series(table, Scope()),
        cohorts=coh,
        brackets=_brackets(run, recs, gate.recovery_time.hold_s),
    )
    a.regression_table = a.regressions()
    a.bursts = a.burst_summaries()
    a.overall_chart, a.kind_charts = a.charts()
    return a
