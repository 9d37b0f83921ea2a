"""The verdict of a run: every enabled criterion evaluated, and the process exit code.

Exit codes (``chaosbench.ground.errors``): 0 pass, 1 gate failed (or inconclusive, when the gate
says
``inconclusive_fails``), 2 could not run or measure (bad input, no baseline samples, a criterion
that cannot be computed, a run that did not finish). A failed criterion outranks one that could
not be measured: the gate did fail.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

from chaosbench.analysis.analyze import Analysis, analyze
from chaosbench.analysis.criteria import CRITERIA, CriterionResult, Status
from chaosbench.analysis.gate import GateConfig, load_gate
from chaosbench.analysis.model import RunData
from chaosbench.ground.errors import (
    EXIT_CANNOT_MEASURE,
    EXIT_GATE_FAILED,
    EXIT_PASS,
    ChaosbenchError,
)


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


def evaluate(run: RunData, gate: GateConfig, baseline: RunData | None) -> Verdict:
    """Judge ``run`` with every enabled criterion of ``gate``."""
    a = analyze(run, gate, baseline)
    results = [CRITERIA[name][1](a, cfg) for name, cfg in gate.enabled()]
    notes = []
    if run.ended is None:
        notes.append("the run did not finish (no end time in the run directory)")
    v = decide(results, gate.inconclusive_fails, notes)
    v.analysis = a
    return v


def print_verdict(v: Verdict, report: Path | None, out: TextIO | None = None) -> None:
    from chaosbench.analysis.report import fmt

    lines = [f"chaosbench verdict: {v.headline}"]
    for r in v.results:
        if r.status in (Status.FAIL, Status.ERROR, Status.INCONCLUSIVE):
            what = (
                f"{fmt.num(r.value, r.unit)} (limit {fmt.limit(r)})" if r.value is not None else ""
            )
            where = f" at {r.where}" if r.where else ""
            tail = "; ".join(x for x in (what + where, r.detail) if x)
            lines.append(f"  {r.status.value:<12} {r.name}: {tail}")
    lines += [f"  note: {n}" for n in v.notes]
    if report is not None:
        lines.append(f"chaosbench report: {report}")
    print("\n".join(lines), file=out or sys.stdout, flush=True)


def conclude(
    run_dir: Path,
    gate_path: str | None,
    baseline: Path | None,
    out_dir: Path | None = None,
    out: TextIO | None = None,
    err: TextIO | None = None,
) -> int:
    """Load the run (and baseline run), judge it, write the reports, print the verdict.

    Returns the exit code; never raises (the Locust plugin calls it at ``quitting``).
    The verdict goes to ``out`` (stdout), a one-line error to ``err`` (stderr).
    """
    out, err = out or sys.stdout, err or sys.stderr
    try:
        from chaosbench.analysis.report import write_reports
        from chaosbench.analysis.rundir import load  # type: ignore[import-not-found,unused-ignore]

        gate = load_gate(gate_path)
        run = load(Path(run_dir))
        base = load(Path(baseline)) if baseline is not None else None
        v = evaluate(run, gate, base)
        paths = write_reports(Path(out_dir or run_dir), v)
        print_verdict(v, paths.markdown, out)
        return v.exit_code
    except ChaosbenchError as exc:
        print(f"chaosbench: {exc}", file=err, flush=True)
        return EXIT_CANNOT_MEASURE
    except Exception as exc:  # the verdict must never be a traceback
        print(f"chaosbench: analysis failed: {type(exc).__name__}: {exc}", file=err, flush=True)
        return EXIT_CANNOT_MEASURE
