"""The end of a run: every enabled criterion evaluated, the reports written, the verdict printed.

The verdict model (statuses, results, ``decide`` and the exit codes) is
``chaosbench.analysis.outcome``, which the reports import; this module is above both.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TextIO

from chaosbench.analysis.analyze import analyze
from chaosbench.analysis.criteria import CRITERIA
from chaosbench.analysis.gate import GateConfig, load_gate
from chaosbench.analysis.model import RunData
from chaosbench.analysis.outcome import Status, Verdict, decide
from chaosbench.analysis.report import fmt, write_reports
from chaosbench.analysis.rundir import load
from chaosbench.ground.errors import EXIT_CANNOT_MEASURE, ChaosbenchError
from chaosbench.ground.journal import UNJUDGEABLE_STOPS


def evaluate(run: RunData, gate: GateConfig, baseline: RunData | None) -> Verdict:
    """Judge ``run`` with every enabled criterion of ``gate``."""
    a = analyze(run, gate, baseline)
    results = [CRITERIA[name].run(a, cfg) for name, cfg in gate.enabled()]
    notes = []
    if run.ended is None:
        notes.append("the run did not finish (no end time in the run directory)")
    if run.meta.chaos_stopped in UNJUDGEABLE_STOPS:
        notes.append(UNJUDGEABLE_STOPS[run.meta.chaos_stopped])
    v = decide(results, gate.inconclusive_fails, notes)
    v.analysis = a
    return v


def print_verdict(v: Verdict, report: Path | None, out: TextIO | None = None) -> None:
    lines = [f"chaosbench verdict: {v.headline}"]
    for r in v.results:
        if r.status in (Status.FAIL, Status.ERROR, Status.INCONCLUSIVE):
            what = f"{fmt.value(r)} (limit {fmt.limit(r)})" if r.value is not None else ""
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
