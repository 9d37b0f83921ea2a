"""findings.json: every shortfall with a severity and a recommendation."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any, Literal

from chaosbench.analysis.outcome import CriterionResult, Status, Verdict
from chaosbench.analysis.report import fmt

Severity = Literal["high", "medium", "low"]

RECOMMEND = {
    "p95_regression": "Find the slow dependency on the request path (look at the kind named in "
    "'where'); add timeouts and fallbacks so that a slow dependency degrades instead of waits.",
    "baseline_run": "Compare this build with the baseline run phase by phase; bisect the change "
    "that made the slow phases slower.",
    "p99_ceiling": "Bound the tail: shorter timeouts with retry budgets, hedged requests, smaller "
    "connection-pool wait, shed load early (429/503) instead of queueing.",
    "deadline_misses": "Requests exceed their deadline: check timeouts and backoff (429 "
    "Retry-After), and that retries do not pile up during the fault.",
    "error_rate": "Too many failed requests during the bursts: add retries with backoff for "
    "transient faults, circuit breakers, and degrade (cached answers) instead of failing.",
    "baseline_error_rate": "Requests fail even without faults: fix the system or the load "
    "profile before judging resilience.",
    "recovery_time": "Recovery is slow or absent: check reconnect backoff caps, pool "
    "revalidation, circuit-breaker half-open timing and health checks.",
    "rto": "The restarted component takes too long to serve again: check start-up work, "
    "readiness checks and the restart command.",
    "orders": "Acknowledged orders were lost, duplicated or corrupted: make acknowledgment "
    "durable (commit before 201), make placement idempotent on the client order id.",
    "stream_data_loss": "Messages were lost across reconnects: enlarge the replay buffer or "
    "resume from durable storage; check the client resumes from its last sequence.",
    "ws_duplicates": "Messages were delivered twice after resume: dedupe on the sequence number "
    "on the server's replay or in the client.",
}


@dataclass(slots=True)
class Finding:
    id: str
    criterion: str
    severity: Severity
    status: str
    title: str
    evidence: str
    recommendation: str
    #: A relative regression's absolute values (the worst cell's percentiles), ms; else null.
    reference_ms: float | None = None
    current_ms: float | None = None
    delta_ms: float | None = None


def _severity(r: CriterionResult) -> Severity:
    if r.status == Status.INCONCLUSIVE:
        return "low"
    if r.status == Status.ERROR:
        return "medium"
    if r.name in ("orders", "stream_data_loss", "rto") or r.value is None:
        return "high"
    if math.isinf(r.value):
        return "high"
    # Far over budget (twice the limit or more, or half a floor) is high; just over is medium.
    if r.comparison in (">", "≥"):
        over = r.limit / r.value if r.value else math.inf
    else:
        over = r.value / r.limit if r.limit else math.inf
    return "high" if over >= 2 else "medium"


def _evidence(r: CriterionResult) -> str:
    parts = [f"{fmt.value(r)} against {fmt.limit(r)}"]
    if r.low is not None and r.high is not None and r.confidence is not None:
        parts.append(f"interval {fmt.interval(r)}")
    if r.where:
        parts.append(f"at {r.where}")
    if r.detail:
        parts.append(r.detail)
    return "; ".join(parts)


def _absolute(r: CriterionResult) -> tuple[float | None, float | None, float | None]:
    ref, cur = r.reference, r.current
    if ref is None or cur is None or math.isnan(ref) or math.isnan(cur):
        return None, None, None
    return round(ref, 3), round(cur, 3), round(cur - ref, 3)


def findings(v: Verdict) -> list[Finding]:
    out: list[Finding] = []
    for r in v.results:
        if r.status in (Status.PASS, Status.SKIPPED):
            continue
        rec = r.recommendation or RECOMMEND.get(r.name, "")
        if r.status == Status.ERROR:
            rec = "The criterion could not be measured: " + (r.detail or "see the report") + "."
        elif r.status == Status.INCONCLUSIVE:
            rec = "The interval straddles the limit: run longer (more seconds per phase) or on a "
            rec += "quieter machine, or widen the limit if the budget allows."
        out.append(
            Finding(
                f"F{len(out) + 1}",
                r.name,
                _severity(r),
                r.status.value,
                f"{r.title}: {fmt.ICON[r.status]}",
                _evidence(r),
                rec,
                *_absolute(r),
            )
        )
    a = v.analysis
    for rc in a.recoveries if a else []:
        if rc.detection_s is None:
            out.append(
                Finding(
                    f"F{len(out) + 1}",
                    "recovery_time",
                    "low",
                    "note",
                    f"burst {rc.burst} had no visible effect",
                    "no second out of the baseline band during the burst",
                    "Check that the fault targets a path the load exercises (route, host, port), "
                    "or raise its intensity.",
                )
            )
    for n in v.notes:
        out.append(
            Finding(
                f"F{len(out) + 1}",
                "run",
                "high",
                "error",
                n,
                n,
                "Rerun; look at the Locust log for why the run stopped early.",
            )
        )
    order = {"high": 0, "medium": 1, "low": 2}
    return sorted(out, key=lambda f: order[f.severity])


def _criteria(v: Verdict) -> list[dict[str, Any]]:
    """Every criterion with its status, value and limit as the reports write them."""
    return [
        {
            "name": r.name,
            "title": r.title,
            "status": r.status.value,
            "value": fmt.value(r),
            "limit": fmt.limit(r),
            "where": r.where,
            "detail": r.detail,
        }
        for r in v.results
    ]


def _finite(x: float | None) -> float | None:
    return None if x is None or not math.isfinite(x) else round(x, 3)


def _recoveries(v: Verdict) -> list[dict[str, Any]]:
    """The recovery scorecard: one entry per burst (seconds; null: none / not recovered)."""
    a = v.analysis
    return [
        {
            "burst": rc.burst,
            "detection_s": _finite(rc.detection_s),
            "recovery_s": _finite(rc.recovery_s),
            "recovered": rc.recovered,
            "measurable": rc.measurable,
            "slowest": rc.slowest,
            "note": rc.note,
        }
        for rc in (a.recoveries if a else [])
    ]


def render(v: Verdict) -> dict[str, Any]:
    fs = findings(v)
    return {
        "verdict": v.status.value,
        "exit_code": v.exit_code,
        "summary": {s: sum(f.severity == s for f in fs) for s in ("high", "medium", "low")},
        "findings": [asdict(f) for f in fs],
        "criteria": _criteria(v),
        "recoveries": _recoveries(v),
    }
