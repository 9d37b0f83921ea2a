"""The end of a run: every enabled criterion and every threshold evaluated, the reports written,
the verdict printed.

A run without chaos (``chaosbench.analysis.thresholds.chaos_off``) is judged by its thresholds
and the criteria that do not judge chaos (integrity: orders, stream); the chaos criteria say
n/a. Without a threshold such a run has nothing to judge: one note, and exit 2.

The verdict model (statuses, results, ``decide`` and the exit codes) is
``chaosbench.analysis.outcome``, which the reports import; this module is above both.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TextIO

from chaosbench.analysis import thresholds
from chaosbench.analysis.analyze import Analysis, analyze
from chaosbench.analysis.criteria import CRITERIA
from chaosbench.analysis.gate import GateConfig, load_gate
from chaosbench.analysis.limits import Criterion
from chaosbench.analysis.model import RunData
from chaosbench.analysis.outcome import CriterionResult, Status, Verdict, decide
from chaosbench.analysis.report import fmt, write_reports
from chaosbench.analysis.rundir import load
from chaosbench.ground.errors import EXIT_CANNOT_MEASURE, ChaosbenchError

#: The detail of a chaos criterion in a run without chaos.
NO_CHAOS = "chaos was off: no baseline, bursts or faults to judge"
NOTHING_TO_JUDGE = (
    "chaos was off and no threshold is configured: nothing to judge (add --threshold "
    "'http_req_duration: p(95)<500' or a thresholds: section to the gate, docs/analysis.md)"
)


def _criterion(a: Analysis, name: str, cfg: Criterion, chaos_off: bool) -> CriterionResult:
    spec = CRITERIA[name]
    r = spec.run(a, cfg)
    if not (chaos_off and spec.chaos):
        return r
    status = Status.ERROR if cfg.required else Status.SKIPPED
    return CriterionResult(r.name, r.title, status, None, r.limit, r.unit, detail=NO_CHAOS)


def evaluate(run: RunData, gate: GateConfig, baseline: RunData | None) -> Verdict:
    """Judge ``run`` with every enabled criterion and every threshold of ``gate``."""
    a = analyze(run, gate, baseline)
    off = thresholds.chaos_off(run)
    results = [_criterion(a, name, cfg, off) for name, cfg in gate.enabled()]
    results += thresholds.judge(a, gate.thresholds)
    notes = []
    if run.ended is None:
        notes.append("the run did not finish (no end time in the run directory)")
    if off and not gate.thresholds:
        notes.append(NOTHING_TO_JUDGE)
    v = decide(results, gate.inconclusive_fails, notes)
    v.analysis = a
    return v


def _threshold_lines(v: Verdict) -> list[str]:
    """Every threshold, passed or not, with what was measured (as k6's THRESHOLDS block)."""
    ths = [r for r in v.results if r.group == "thresholds"]
    if not ths:
        return []
    lines = ["  thresholds:"]
    a = v.analysis
    if a is not None and thresholds.chaos_off(a.run):
        lines[0] = "  thresholds (chaos was off: they judge the run):"
    for r in ths:
        got = (
            f"measured {fmt.value(r)} ({r.where}, {r.detail})" if r.value is not None else r.detail
        )
        lines.append(f"    {r.status.value:<12} {r.name}  {got}")
    return lines


def print_verdict(v: Verdict, report: Path | None, out: TextIO | None = None) -> None:
    lines = [f"chaosbench verdict: {v.headline}"]
    for r in v.results:
        if r.group == "thresholds":
            continue
        if r.status in (Status.FAIL, Status.ERROR, Status.INCONCLUSIVE):
            what = f"{fmt.value(r)} (limit {fmt.limit(r)})" if r.value is not None else ""
            where = f" at {r.where}" if r.where else ""
            tail = "; ".join(x for x in (what + where, r.detail) if x)
            lines.append(f"  {r.status.value:<12} {r.name}: {tail}")
    lines += _threshold_lines(v)
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
    extra_thresholds: Sequence[str] = (),
) -> int:
    """Load the run (and baseline run), judge it, write the reports, print the verdict.

    ``extra_thresholds``: ``--threshold`` values, over the gate's (``GateConfig.with_thresholds``).
    Returns the exit code; never raises (the Locust plugin calls it at ``quitting``).
    The verdict goes to ``out`` (stdout), a one-line error to ``err`` (stderr).
    """
    out, err = out or sys.stdout, err or sys.stderr
    try:
        cli = thresholds.from_options(extra_thresholds)
        gate = load_gate(gate_path).with_thresholds(cli)
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
