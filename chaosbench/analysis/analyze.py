"""Everything the gate and the reports read about one run, computed once."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Protocol

from chaosbench.analysis.integrity import IntegritySummary, summarize_integrity
from chaosbench.analysis.limits import Bootstrap, RecoveryTime
from chaosbench.analysis.model import RunData
from chaosbench.analysis.recovery import BurstRecovery, RtoRecord, recoveries, rtos
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
    return a
