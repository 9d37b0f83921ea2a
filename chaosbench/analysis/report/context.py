"""Per-burst facts the reports share: the analysis's burst summaries with the verdict's status.

Reads only results: ``Analysis.bursts`` (computed once by the analysis) and the criteria's
results; nothing here goes back into the statistics.
"""

from __future__ import annotations

from dataclasses import dataclass

from chaosbench.analysis.analyze import BurstSummary
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


def burst_rows(
    bursts: list[BurstSummary], results: list[CriterionResult] | None = None
) -> list[BurstRow]:
    rows = []
    for b in bursts:
        row = BurstRow(
            b.burst,
            b.faults,
            b.p95_ratio,
            b.p95_where,
            b.stats,
            b.recovery,
            reference_ms=b.reference_ms,
            current_ms=b.current_ms,
        )
        if results is not None:
            row.status, row.failed = burst_status(results, b.burst)
        rows.append(row)
    return rows
