"""What the Chaos tab shows, as plain dataclasses (``/chaos/status`` is ``asdict(ChaosView)``).

Built from the harness on each request: the profile's timeline (phase steps of the scheduler's
plan, or of the loaded profile before a test started), the faults with their last journal record,
the live per-kind p95 (``LiveKinds``) and the last test's verdict (``harness.runs[-1]`` and its
run directory's findings.json).
"""

from __future__ import annotations

import itertools
import json
import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from chaosbench.chaos.schedule import Step, build_plan
from chaosbench.ground.journal import JournalRecord
from chaosbench.ground.redact import redact
from chaosbench.wiring.harness import Harness, TestRun
from chaosbench.wiring.webui.live import KindLive, LiveKinds

#: Files of a run directory the web UI serves (nothing else, and only of known runs).
SERVED = ("report.html", "report.md", "findings.json", "junit.xml")
_QUIET = frozenset({"settings", "scenario", "reason", "attributes", "errors", "error"})


@dataclass(slots=True)
class Segment:
    """One phase of the profile: ``state`` is past, current, next or future."""

    label: str
    phase: str
    burst: int | None
    start_s: float
    end_s: float
    faults: list[str]  # the faults planned in it
    state: str


@dataclass(slots=True)
class Progress:
    elapsed_s: float | None  # None before the test started
    total_s: float
    phase_left_s: float | None
    profile_left_s: float | None
    current: str
    next: str


@dataclass(slots=True)
class FaultView:
    name: str
    type: str
    scenario: str
    bursts: list[int]
    active: bool
    injections: int
    target: str = ""
    last: str = ""  # "inject" or "revert" (the last journal record's kind)
    status: str = ""  # that record's status: ok, error, dry_run
    error: str = ""
    account: list[tuple[str, str]] = field(default_factory=list)  # what the fault did


@dataclass(slots=True)
class MarkView:
    wall: float
    label: str


@dataclass(slots=True)
class CriterionView:
    name: str
    title: str
    status: str
    value: str
    limit: str
    where: str = ""
    detail: str = ""


@dataclass(slots=True)
class RecoveryView:
    burst: int
    detection_s: float | None
    recovery_s: float | None
    recovered: bool
    measurable: bool
    slowest: str
    note: str


@dataclass(slots=True)
class FindingView:
    severity: str
    title: str
    evidence: str
    recommendation: str


@dataclass(slots=True)
class RunView:
    """One test of this web UI session (``harness.runs``)."""

    run_id: str
    run_dir: str
    started_at: float
    ended_at: float | None
    judged: bool
    exit_code: int | None
    verdict: str  # pass, fail, cannot_measure ("" until judged)
    verdict_text: str
    report_url: str  # relative to the web UI's root ("" without a report)
    criteria: list[CriterionView] = field(default_factory=list)
    recoveries: list[RecoveryView] = field(default_factory=list)
    findings: list[FindingView] = field(default_factory=list)


@dataclass(slots=True)
class ChaosView:
    state: str  # the scheduler's: not started, ready, running, stopped
    phase: str
    active_faults: list[str]
    dry_run: bool
    seed: int | None
    injections: dict[str, int]
    scenario_injections: dict[str, int]
    stop_reason: str | None
    error: str | None
    profile: str
    disabled: str | None  # why chaos is off (None: on)
    runner: str  # Locust's runner state (ready, spawning, running, stopped, ...)
    progress: Progress
    segments: list[Segment]
    faults: list[FaultView]
    kinds: list[KindLive]
    marks: list[MarkView]
    run: RunView | None  # the last test (harness.runs[-1])
    runs: list[RunView]  # every test, oldest first (without their criteria)
    started_wall: float | None  # when the schedule started (None: not yet)
    now: float


def _phase_steps(plan: list[Step]) -> list[tuple[Step, float]]:
    """Each phase step with its end (the next phase step, or the plan's end)."""
    edges = [s for s in plan if s.kind in ("phase", "end")]
    return [(a, b.at) for a, b in itertools.pairwise(edges) if a.kind == "phase"]


def segments(h: Harness, elapsed: float | None) -> list[Segment]:
    """The profile's phases at ``elapsed`` seconds into the test (None: not started). Once
    chaos stopped, a phase it never reached (the kill switch, a stop) is "skipped"."""
    s = h.scheduler
    plan = s.plan if s is not None else (build_plan(h.profile) if h.profile else [])
    specs = h.profile.faults if h.profile is not None else ()
    finished = s is not None and s.finished
    out: list[Segment] = []
    for step, end in _phase_steps(plan):
        if elapsed is None:
            state = "future"
        elif finished:
            state = "past" if step.at <= elapsed else "skipped"
        elif end <= elapsed:
            state = "past"
        else:
            state = "current" if step.at <= elapsed else "future"
        burst = step.phase is not None and step.phase.value == "burst"
        out.append(
            Segment(
                label=step.label,
                phase=step.phase.value if step.phase is not None else "",
                burst=step.burst,
                start_s=step.at,
                end_s=end,
                faults=[f.name for f in specs if burst and step.burst in f.bursts],
                state=state,
            )
        )
    nxt = next((x for x in out if x.state == "future"), None)
    if nxt is not None:
        nxt.state = "next"
    return out


def progress(h: Harness, segs: list[Segment], now: float) -> tuple[Progress, float | None]:
    s = h.scheduler
    total = segs[-1].end_s if segs else 0.0
    start = s.started_wall if s is not None else None
    if s is None or start is None:
        return Progress(None, total, None, None, "", segs[0].label if segs else ""), None
    elapsed = now - start
    if s.finished:
        return Progress(min(elapsed, total), total, 0.0, 0.0, "idle", ""), elapsed
    cur = next((x for x in segs if x.start_s <= elapsed < x.end_s), None)
    following = next((x for x in segs if x.start_s > elapsed), None)
    return (
        Progress(
            elapsed_s=elapsed,
            total_s=total,
            phase_left_s=max(0.0, (cur.end_s if cur else total) - elapsed),
            profile_left_s=max(0.0, total - elapsed),
            current=cur.label if cur else "",
            next=following.label if following else "",
        ),
        elapsed,
    )


def _account(record: JournalRecord) -> list[tuple[str, str]]:
    """The fault's own account (``terminated=0``, ``rto_s=0.84``), secrets masked."""
    items = [
        (str(k), redact(str(v)))
        for k, v in record.details.items()
        if k not in _QUIET and isinstance(v, int | float | str) and not isinstance(v, bool)
    ]
    if record.rto_s is not None:
        items.append(("rto_s", f"{record.rto_s:.2f}"))
    return items[:8]


def faults(h: Harness) -> list[FaultView]:
    s = h.scheduler
    last: dict[str, JournalRecord] = {}
    for record in s.journal if s is not None else []:
        if record.kind in ("inject", "revert"):
            last[record.name] = record
    active = set(s.active_faults) if s is not None else set()
    out: list[FaultView] = []
    for spec in h.profile.faults if h.profile is not None else ():
        view = FaultView(
            name=spec.name,
            type=spec.type,
            scenario=spec.scenario,
            bursts=list(spec.bursts),
            active=spec.name in active,
            injections=s.injections.get(spec.name, 0) if s is not None else 0,
        )
        rec = last.get(spec.name)
        if rec is not None:
            view.target = rec.target
            view.last = rec.kind
            view.status = rec.status
            view.error = redact(rec.error or "")
            view.account = _account(rec)
        out.append(view)
    return out


def _num(v: Any) -> float | None:
    return float(v) if isinstance(v, int | float) and math.isfinite(v) else None


def read_findings(run_dir: Path) -> dict[str, Any]:
    """The run directory's findings.json ({} when it is missing or unreadable)."""
    try:
        data = json.loads((run_dir / "findings.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def run_view(run: TestRun, with_details: bool = True) -> RunView:
    data = read_findings(run.run_dir) if with_details and run.judged else {}
    verdict = {0: "pass", 1: "fail", 2: "cannot_measure"}.get(run.exit_code or 0, "")
    view = RunView(
        run_id=run.run_id,
        run_dir=str(run.run_dir),
        started_at=run.started_at,
        ended_at=run.ended_at,
        judged=run.judged,
        exit_code=run.exit_code,
        verdict=str(data.get("verdict") or verdict) if run.judged else "",
        verdict_text=run.verdict_text,
        report_url=f"chaos/runs/{run.run_id}/report.html"
        if (run.run_dir / "report.html").is_file()
        else "",
    )
    for c in data.get("criteria") or []:
        if isinstance(c, dict):
            view.criteria.append(
                CriterionView(
                    **{k: str(c.get(k) or "") for k in CriterionView.__dataclass_fields__}
                )
            )
    for r in data.get("recoveries") or []:
        if isinstance(r, dict):
            view.recoveries.append(
                RecoveryView(
                    burst=int(r.get("burst") or 0),
                    detection_s=_num(r.get("detection_s")),
                    recovery_s=_num(r.get("recovery_s")),
                    recovered=bool(r.get("recovered")),
                    measurable=bool(r.get("measurable", True)),
                    slowest=str(r.get("slowest") or ""),
                    note=str(r.get("note") or ""),
                )
            )
    for f in data.get("findings") or []:
        if isinstance(f, dict):
            view.findings.append(
                FindingView(**{k: str(f.get(k) or "") for k in FindingView.__dataclass_fields__})
            )
    return view


def phase_marks(h: Harness) -> list[MarkView]:
    """The phase changes of the test (the marks that only change the active faults left out)."""
    out: list[MarkView] = []
    for m in h.state.timeline.marks:
        if not out or out[-1].label != m.label:
            out.append(MarkView(m.wall, m.label))
    return out


def chaos_view(h: Harness, live: LiveKinds) -> ChaosView:
    now = time.time()
    s = h.scheduler
    status = s.status() if s is not None else {}
    segs = segments(h, None)
    prog, elapsed = progress(h, segs, now)
    if elapsed is not None:
        segs = segments(h, elapsed)
    start = s.started_wall if s is not None else None
    runner = h.environment.runner
    runs = list(h.runs)
    return ChaosView(
        state=str(status.get("state", "not started")),
        phase=str(status.get("phase", h.state.timeline.current.label)),
        active_faults=list(status.get("active_faults", [])),
        dry_run=bool(status.get("dry_run", h.profile.dry_run if h.profile else False)),
        seed=h.seed,
        injections=dict(status.get("injections", {})),
        scenario_injections=dict(status.get("scenario_injections", {})),
        stop_reason=status.get("stop_reason"),
        error=status.get("error"),
        profile=h.profile.source if h.profile is not None else "",
        disabled=h.disabled_reason,
        runner=str(getattr(runner, "state", "")),
        progress=prog,
        segments=segs,
        faults=faults(h),
        kinds=live.view(since=start or 0.0),
        marks=phase_marks(h),
        run=run_view(runs[-1]) if runs else None,
        runs=[run_view(r, with_details=False) for r in runs],
        started_wall=start,
        now=now,
    )
