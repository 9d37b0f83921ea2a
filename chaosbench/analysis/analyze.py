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

from chaosbench.analysis.integrity import IntegritySummary, summarize_integrity
from chaosbench.analysis.limits import Bootstrap, RecoveryTime
from chaosbench.analysis.model import RunData
from chaosbench.analysis.recovery import BurstRecovery, RtoRecord, bands, recoveries, rtos
from chaosbench.analysis.regression import Comparison, Settings, compare, labels_of, scopes_of
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


@dataclass(slots=True)
class BurstSummary:
    """One burst as the reports show it (point estimates; the verdict's cells say the rest)."""

    burst: int
    faults: list[str]
    p95_ratio: float | None  # worst kind's p95 over the baseline's, minus 1 (point estimate)
    p95_where: str
    stats: PhaseStats | None  # overall stats of the burst phase
    recovery: BurstRecovery | None


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
                    self._memo[key] = compare(
                        self.table, label, ref, ref_label, sc, self.settings(pct, conf), ref_name
                    )
                out.append(self._memo[key])
        return out

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


def analyze(run: RunData, gate: GateView, baseline: RunData | None = None) -> Analysis:
    table = WindowTable(run)
    a = Analysis(
        run=run,
        gate=gate,
        table=table,
        baseline=baseline,
        baseline_table=WindowTable(baseline) if baseline is not None else None,
        stats=summarize(run, table),
        recoveries=recoveries(table, run, gate.recovery_time),
        rtos=rtos(run),
        integrity=summarize_integrity(run.integrity),
        overall=series(table, Scope()),
    )
    a.regression_table = a.regressions()
    a.bursts = a.burst_summaries()
    a.overall_chart, a.kind_charts = a.charts()
    return a
