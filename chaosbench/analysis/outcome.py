"""The verdict model: statuses, the cells a criterion judges, criterion results and the verdict.

What the reports read. The end-of-run flow that produces a verdict (evaluate, conclude, print)
is in ``chaosbench.analysis.verdict``; the criteria themselves in ``chaosbench.analysis.criteria``.

Exit codes (``chaosbench.ground.errors``): 0 pass, 1 gate failed (or inconclusive, when the gate
says ``inconclusive_fails``), 2 could not run or measure (bad input, no baseline samples, a
criterion that cannot be computed, a run that did not finish). A failed criterion outranks one
that could not be measured: the gate did fail.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from chaosbench.analysis.analyze import Analysis
from chaosbench.ground.errors import EXIT_CANNOT_MEASURE, EXIT_GATE_FAILED, EXIT_PASS


class Status(StrEnum):
    PASS = "pass"
    FAIL = "fail"
    INCONCLUSIVE = "inconclusive"
    ERROR = "error"  # could not be measured
    SKIPPED = "n/a"  # does not apply to this run (or disabled): "n/a" in every report

    @property
    def css(self) -> str:
        """The status as a CSS class name (``n/a`` is not one)."""
        return "na" if self is Status.SKIPPED else self.value


SEVERITY = {Status.FAIL: 3, Status.ERROR: 2, Status.INCONCLUSIVE: 1, Status.PASS: 0}


@dataclass(slots=True)
class Cell:
    where: str  # burst1 PG
    value: float
    low: float | None = None
    high: float | None = None
    status: Status = Status.PASS
    note: str = ""
    #: A relative cell's absolute values, in ms: the reference's and the judged phase's
    #: percentile (so a report can say "+301 ms, 1.3 → 302 ms, +23 707 %").
    reference: float | None = None
    current: float | None = None


@dataclass(slots=True)
class CriterionResult:
    name: str
    title: str
    status: Status
    value: float | None  # the worst cell's value (None when not measured)
    limit: float
    unit: str  # "ratio", "ms", "s", "rate", "count"
    low: float | None = None  # the worst cell's interval
    high: float | None = None
    confidence: float | None = None
    where: str = ""  # the worst cell
    detail: str = ""
    cells: list[Cell] = field(default_factory=list)
    reference: float | None = None  # the worst cell's absolute values (ms), when it has them
    current: float | None = None
    comparison: str = "≤"  # how the value must compare with the limit to pass (≤, <, ≥, >, =, ≠)
    group: str = "criteria"  # "criteria" (the gate's criteria) or "thresholds"
    recommendation: str = ""  # findings.json's advice when it does not pass (else by name)


@dataclass(slots=True)
class Verdict:
    status: Status  # pass, fail, inconclusive or error
    exit_code: int
    results: list[CriterionResult]
    inconclusive_fails: bool
    notes: list[str] = field(default_factory=list)
    analysis: Analysis | None = None

    def counts(self) -> dict[Status, int]:
        out = dict.fromkeys(Status, 0)
        for r in self.results:
            out[r.status] += 1
        return out

    @property
    def headline(self) -> str:
        c = self.counts()
        parts = [f"{c[s]} {s.value}" for s in Status if c[s]]
        return f"{self.status.value.upper()} (exit {self.exit_code}): {', '.join(parts)}"


def decide(results: list[CriterionResult], inconclusive_fails: bool, notes: list[str]) -> Verdict:
    """The verdict of a set of criterion results (and notes that make the run unmeasurable)."""
    statuses = {r.status for r in results}
    if Status.FAIL in statuses:
        status, code = Status.FAIL, EXIT_GATE_FAILED
    elif Status.ERROR in statuses or notes:
        status, code = Status.ERROR, EXIT_CANNOT_MEASURE
    elif not statuses - {Status.SKIPPED}:
        status, code = Status.ERROR, EXIT_CANNOT_MEASURE
        notes = [*notes, "no criterion could judge the run"]
    elif Status.INCONCLUSIVE in statuses:
        status = Status.INCONCLUSIVE
        code = EXIT_GATE_FAILED if inconclusive_fails else EXIT_PASS
    else:
        status, code = Status.PASS, EXIT_PASS
    return Verdict(status, code, results, inconclusive_fails, notes)
