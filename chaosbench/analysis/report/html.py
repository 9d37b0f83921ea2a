"""report.html: self-contained (inline CSS and SVG, no scripts, no network), opens offline.

Rendered by Jinja2 with autoescape from ``templates/report.html.j2``: this module hands the
template plain values (tables of ``Cell``), never HTML, so every value is escaped once, there.
The SVG charts (``report/svg.py`` escapes its own labels) are the only markup passed in.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import cache

from jinja2 import Environment, PackageLoader, StrictUndefined
from markupsafe import Markup

from chaosbench.analysis.analyze import Analysis
from chaosbench.analysis.outcome import Status, Verdict
from chaosbench.analysis.report import findings as findings_mod
from chaosbench.analysis.report import fmt
from chaosbench.analysis.report.context import burst_rows
from chaosbench.analysis.report.svg import Chart, Line, Mark, Shade, render

CSS = """
body{font:14px/1.4 system-ui,sans-serif;margin:24px;color:#222;max-width:1180px}
h1{font-size:22px} h2{font-size:17px;margin-top:28px;border-bottom:1px solid #ddd}
table{border-collapse:collapse;margin:8px 0} td,th{border:1px solid #ddd;padding:3px 8px;
text-align:left;font-size:13px} th{background:#f4f4f4} td.n{text-align:right}
.pass{color:#1b7f3b}.fail{color:#b3261e}.inconclusive{color:#8a6d00}.error{color:#b3261e}
.na{color:#777} .verdict{font-size:20px;font-weight:bold} svg{display:block;margin:8px 0}
"""


@dataclass(frozen=True, slots=True)
class Cell:
    """One table cell: plain text (escaped by the template), maybe styled, maybe numeric."""

    text: str
    css: str = ""  # a status class: the text goes in a <span class="...">
    after: str = ""  # plain text after the span
    numeric: bool = False


@dataclass(slots=True)
class Table:
    head: list[str]
    rows: list[list[Cell]] = field(default_factory=list)
    empty: str = ""  # shown instead of an empty table


_PHASE_COLUMNS = ("requests", "req/s", "errors", "p50 ms", "p95 ms", "p99 ms", "max ms",
                  "deadline misses")  # fmt: skip


def _table(
    head: list[str], rows: list[list[str | Cell]], numeric: set[int] | None = None, empty: str = ""
) -> Table:
    numeric = numeric or set()
    cells = [
        [x if isinstance(x, Cell) else Cell(x, numeric=i in numeric) for i, x in enumerate(row)]
        for row in rows
    ]
    return Table(head, cells, empty)


def _phase_table(second: str, rows: list[list[str | Cell]]) -> Table:
    """A per-phase summary table: phase, ``second`` (scope or name), then the numbers."""
    return _table(["phase", second, *_PHASE_COLUMNS], rows, set(range(2, 10)))


def _status(status: Status, after: str = "") -> Cell:
    return Cell(fmt.WORD[status], css=status.css, after=after)


@cache
def _environment() -> Environment:
    return Environment(
        loader=PackageLoader("chaosbench.analysis.report", "templates"),
        autoescape=True,
        undefined=StrictUndefined,
        keep_trailing_newline=True,
    )


def _charts(a: Analysis) -> list[str]:
    t0 = a.run.started or (float(a.overall.seconds[0]) if a.overall.seconds.size else 0.0)
    shades = [Shade(p.start - t0, p.end - t0, p.label) for p in a.run.phases if p.phase == "burst"]
    marks = []
    for r in a.recoveries:
        if r.recovered and r.recovery_s is not None:
            marks.append(Mark(r.end + r.recovery_s - t0, f"recovered +{r.recovery_s:.0f}s"))
        elif not r.measurable:
            marks.append(Mark(r.end - t0, "not measurable"))
        else:
            marks.append(Mark(r.end - t0, "not recovered", "#b3261e"))
    o = a.overall
    xs = o.seconds - t0 + 0.5
    band = a.overall_chart.band if a.overall_chart else None
    out = [
        render(
            Chart(
                "Latency, all requests (per second)",
                "ms",
                xs,
                [
                    Line("p50", "#457b9d", o.p50_ms),
                    Line("p95", "#e76f51", o.p95_ms),
                    Line("p99", "#9b2226", o.p99_ms),
                ],
                shades,
                marks,
                band,
            )
        ),
        render(
            Chart(
                "Throughput", "req/s", xs, [Line("requests/s", "#264653", o.count)], shades, marks
            )
        ),
        render(
            Chart(
                "Errors and deadline misses",
                "per s",
                xs,
                [
                    Line("failures/s", "#b3261e", o.failures),
                    Line("deadline misses/s", "#8a6d00", o.misses),
                ],
                shades,
                marks,
            )
        ),
    ]
    for k in a.kind_charts:
        s, kind = k.series, k.series.scope
        out.append(
            render(
                Chart(
                    f"p95 of {kind} (per second) and its recovery band",
                    "ms",
                    s.seconds - t0 + 0.5,
                    [Line(f"{kind} p95", "#e76f51", s.p95_ms)],
                    shades,
                    marks,
                    k.band,
                )
            )
        )
    return out


def render_html(v: Verdict) -> str:
    a = v.analysis
    assert a is not None
    rows: dict[str, list[list[str | Cell]]] = {"criteria": [], "thresholds": []}
    for c in v.results:
        rows.setdefault(c.group, []).append(
            [
                c.title,
                fmt.value(c),
                fmt.limit(c),
                fmt.interval(c),
                c.where,
                _status(c.status),
                c.detail,
            ]
        )
    limit = a.gate.recovery_time.limit
    rec_rows: list[list[str | Cell]] = []
    for b in burst_rows(a.bursts, v.results):
        r, s = b.recovery, b.stats
        det = "—" if r is None or r.detection_s is None else f"{r.detection_s:.1f} s"
        rec: str | Cell = (
            "—"
            if r is None
            else (
                f"{r.recovery_s:.1f} s / {limit:g} s (±{r.resolution_s:g} s)"
                if r.recovered and r.recovery_s is not None
                else "not measurable (the run ended)"
                if not r.measurable
                else Cell("not recovered", css="fail")
            )
        )
        rec_rows.append(
            [
                str(b.burst),
                ", ".join(b.faults),
                b.p95_text,
                fmt.pct(s.error_rate) if s else "—",
                fmt.pct(s.miss_rate) if s else "—",
                det,
                rec,
                r.slowest if r else "",
                _status(b.status, ", ".join(b.failed or [])),
            ]
        )
    stat_rows: list[list[str | Cell]] = [
        [
            s.phase,
            s.scope,
            str(s.count),
            f"{s.throughput:.1f}",
            fmt.pct(s.error_rate),
            fmt.ms(s.p50_ms),
            fmt.ms(s.p95_ms),
            fmt.ms(s.p99_ms),
            fmt.ms(s.max_ms),
            fmt.pct(s.miss_rate),
        ]
        for s in a.stats
    ]
    top = [r for r in stat_rows if " " not in str(r[1])]
    names = [r for r in stat_rows if " " in str(r[1])]
    reg_rows: list[list[str | Cell]] = [
        [
            c.phase,
            c.scope,
            f"p{c.percentile:g}",
            fmt.ms(c.reference_ms),
            fmt.ms(c.current_ms),
            fmt.abs_ms(c.current_ms - c.reference_ms, sign=True),
            "—"
            if c.ratio is None or math.isnan(c.ratio.value)
            else f"{fmt.num(c.ratio.value - 1, 'ratio')} [{fmt.num(c.ratio.low - 1, 'ratio')} … "
            f"{fmt.num(c.ratio.high - 1, 'ratio')}]",
            "—"
            if c.effect_ms is None
            else f"{c.effect_ms.value:+.1f} ms [{c.effect_ms.low:+.1f} … {c.effect_ms.high:+.1f}]",
            c.reference,
            c.note,
        ]
        for c in a.regression_table
    ]
    i = a.integrity
    integ: list[list[str | Cell]] = [
        [k, str(val)]
        for k, val in (
            ("end-of-run check ran", i.checked),
            ("orders acknowledged", i.orders_acknowledged),
            ("orders lost", i.orders_lost),
            ("orders duplicated", i.orders_duplicated),
            ("canary injected / found", f"{i.canary_injected} / {i.canary_found}"),
            ("stream messages", i.ws_messages),
            ("stream gaps", i.ws_gaps),
            ("stream duplicates", i.ws_duplicates),
            ("stream reorders", i.ws_reorders),
            ("stream resumes", i.ws_resumes),
            (
                "stream data loss",
                "—" if i.stream_loss_ratio is None else fmt.pct(i.stream_loss_ratio),
            ),
        )
    ]
    integ += [
        [
            f"RTO {r.name} (burst {r.burst})",
            "did not come back" if r.rto_s is None else f"{r.rto_s:.1f} s",
        ]
        for r in a.rtos
    ]
    fnd: list[list[str | Cell]] = [
        [f.severity, f.title, f.evidence, f.recommendation] for f in findings_mod.findings(v)
    ]
    template = _environment().get_template("report.html.j2")
    return template.render(
        css=Markup(CSS),
        run_id=a.run.run_id,
        status_css=v.status.css,
        status_word=fmt.WORD[v.status],
        exit_code=v.exit_code,
        gate_source=a.gate.source,
        confidence=f"{a.gate.confidence:.0%}",
        inconclusive="fails" if v.inconclusive_fails else "passes",
        baseline_run=a.baseline.run_id if a.baseline else None,
        notes=v.notes,
        criteria=_table(
            ["criterion", "value", "limit", "interval", "where", "verdict", "detail"],
            rows["criteria"],
        ),
        thresholds=_table(
            ["threshold", "value", "limit", "interval", "where", "verdict", "detail"],
            rows["thresholds"],
        ),
        recovery=_table(
            [
                "burst",
                "faults",
                "p95 vs baseline",
                "errors",
                "deadline misses",
                "detection",
                "recovery",
                "slowest",
                "status",
            ],
            rec_rows,
            empty="No bursts.",
        ),
        charts=[Markup(svg) for svg in _charts(a)],  # svg.py escapes its own labels
        phases=_phase_table("scope", top),
        names=_phase_table("name", names),
        regressions=_table(
            [
                "phase",
                "kind",
                "percentile",
                "baseline ms",
                "phase ms",
                "delta ms",
                "change [interval]",
                "effect, drift-controlled [interval]",
                "judged against",
                "note",
            ],
            reg_rows,
            empty="No baseline samples.",
        ),
        integrity=_table(["", ""], integ),
        findings=_table(["severity", "finding", "evidence", "recommendation"], fnd, empty="None."),
    )
