"""report.md: the scorecard, short enough for a pull request comment or a CI step summary."""

from __future__ import annotations

from chaosbench.analysis.outcome import Status, Verdict
from chaosbench.analysis.report import fmt
from chaosbench.analysis.report.context import burst_rows


def _scorecard(v: Verdict, group: str) -> list[str]:
    lines = [
        f"| {'threshold' if group == 'thresholds' else 'criterion'} | value | limit | interval "
        "| where | verdict |",
        "|---|---|---|---|---|---|",
    ]
    for r in (r for r in v.results if r.group == group):
        where = r.where or ("" if r.value is not None else r.detail)
        if r.group == "thresholds":  # the span and the requests it measured
            where = f"{r.where}: {r.detail}" if r.value is not None else r.detail
        lines.append(
            f"| {r.title} | {fmt.value(r)} | {fmt.limit(r)} | {fmt.interval(r)} "
            f"| {where} | {fmt.ICON[r.status]} |"
        )
    return lines


def _thresholds(v: Verdict) -> list[str]:
    """The thresholds' scorecard: what each measured, over which span and how many requests."""
    if not any(r.group == "thresholds" for r in v.results):
        return []
    return ["", "### Thresholds", "", *_scorecard(v, "thresholds")]


def _recovery(v: Verdict) -> list[str]:
    a = v.analysis
    assert a is not None
    limit = a.gate.recovery_time.limit
    lines = [
        "| burst | faults | p95 vs baseline | errors | deadline misses | detection | recovery "
        "| status |",
        "|---|---|---|---|---|---|---|---|",
    ]
    rows = burst_rows(a.bursts, v.results)
    for b in rows:
        s, r = b.stats, b.recovery
        p95 = b.p95_text
        if r is None:
            det = rec = "—"
        else:
            det = "not detected" if r.detection_s is None else f"{r.detection_s:.1f} s"
            rec = (
                f"{r.recovery_s:.1f} s / {limit:g} s (±{r.resolution_s:g} s)"
                if r.recovered and r.recovery_s is not None
                else "not measurable (the run ended)"
                if not r.measurable
                else "**not recovered**"
            )
        lines.append(
            f"| {b.burst} | {', '.join(b.faults) or '—'} | {p95} "
            f"| {fmt.pct(s.error_rate) if s else '—'} | {fmt.pct(s.miss_rate) if s else '—'} "
            f"| {det} | {rec} | {fmt.ICON[b.status]}"
            + (f" ({', '.join(b.failed)})" if b.failed else "")
            + " |"
        )
    passed = sum(b.status == Status.PASS for b in rows)
    failed = sum(b.status == Status.FAIL for b in rows)
    lines += ["", f"Bursts: {passed} passed, {failed} failed, {len(rows) - passed - failed} other."]
    return lines


def render(v: Verdict) -> str:
    a = v.analysis
    assert a is not None
    c = v.counts()
    head = [
        f"## chaosbench: {fmt.ICON[v.status]} — exit {v.exit_code}",
        "",
        f"Run `{a.run.run_id}`, gate `{a.gate.source}`"
        + (f", baseline run `{a.baseline.run_id}`" if a.baseline else "")
        + f": {c[v.status.PASS]} passed, {c[v.status.FAIL]} failed, "
        f"{c[v.status.INCONCLUSIVE]} inconclusive, {c[v.status.ERROR]} not measurable"
        + (" (inconclusive fails)" if v.inconclusive_fails else "")
        + ".",
    ]
    head += [f"> {n}" for n in v.notes]
    out = [*head, "", "### Criteria", "", *_scorecard(v, "criteria"), *_thresholds(v)]
    if a.recoveries:
        out += ["", "### Recovery scorecard", "", *_recovery(v)]
    i = a.integrity
    out += [
        "",
        f"Integrity: {i.orders_acknowledged} orders acknowledged, {i.orders_lost} lost, "
        f"{i.orders_duplicated} duplicated, canary {i.canary_found}/{i.canary_injected} found; "
        f"stream {i.ws_gaps} missing of {i.stream_expected}, {i.ws_duplicates} duplicates, "
        f"{i.ws_resumes} resumes.",
        "",
        "Details: report.html · findings.json · junit.xml",
        "",
    ]
    return "\n".join(out)
