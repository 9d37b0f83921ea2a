"""Per-burst facts the reports share: faults, worst regression, recovery."""

from __future__ import annotations

import math
from dataclasses import dataclass

from chaosbench.analysis.analyze import Analysis
from chaosbench.analysis.outcome import SEVERITY, CriterionResult, Status
from chaosbench.analysis.recovery import BurstRecovery
from chaosbench.analysis.report import fmt
from chaosbench.analysis.stats import PhaseStats


@dataclass(slots=True)
class BurstRow:
    burst: int
    faults: list[str]
    p95_ratio: float | None  # worst kind, point estimate
    p95_where: str
    stats: PhaseStats | None  # overall stats of the burst phase
    recovery: BurstRecovery | None
    status: Status = Status.SKIPPED  # worst verdict of the criteria's cells in this burst
    failed: list[str] | None = None  # criteria that did not pass in this burst
    reference_ms: float | None = None  # the worst kind's baseline p95 and burst p95
    current_ms: float | None = None

    @property
    def p95_text(self) -> str:
        """ "+301 ms, 1.3 → 302 ms, +23 707 % (WS)", or "—" without a comparison."""
        if self.p95_ratio is None:
            return "—"
        text = fmt.change(self.p95_ratio, self.reference_ms, self.current_ms)
        return f"{text} ({self.p95_where})" if self.p95_where else text


def burst_status(results: list[CriterionResult], burst: int) -> tuple[Status, list[str]]:
    """The worst cell of every criterion judged in ``burst`` (its phase or its faults)."""
    status, failed = Status.SKIPPED, []
    for r in results:
        for c in r.cells:
            words = c.where.split()
            if f"burst{burst}" not in words or c.status == Status.SKIPPED:
                continue
            if status == Status.SKIPPED or SEVERITY[c.status] > SEVERITY[status]:
                status = c.status
            if c.status != Status.PASS and r.name not in failed:
                failed.append(r.name)
    return status, failed


def burst_rows(a: Analysis, results: list[CriterionResult] | None = None) -> list[BurstRow]:
    bursts = sorted({p.burst for p in a.run.phases if p.phase == "burst" and p.burst is not None})
    rec = {r.burst: r for r in a.recoveries}
    overall = {s.phase: s for s in a.stats if s.scope == "overall"}
    rows = []
    for b in bursts:
        faults = sorted({j.name for j in a.run.journal if j.kind == "inject" and j.burst == b})
        comps = [
            c
            for c in a.regressions()
            if c.phase == f"burst{b}" and c.percentile == 95.0 and c.ratio is not None
        ]
        worst = max(comps, key=lambda c: c.ratio.value if c.ratio else -math.inf, default=None)
        rows.append(
            BurstRow(
                burst=b,
                faults=faults,
                p95_ratio=worst.ratio.value - 1 if worst and worst.ratio else None,
                p95_where=worst.scope if worst else "",
                reference_ms=worst.reference_ms if worst else None,
                current_ms=worst.current_ms if worst else None,
                stats=overall.get(f"burst{b}"),
                recovery=rec.get(b),
            )
        )
        if results is not None:
            rows[-1].status, rows[-1].failed = burst_status(results, b)
    return rows
