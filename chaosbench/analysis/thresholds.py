"""Thresholds: pass/fail objectives on a run's load, in k6's vocabulary, with chaos or without.

A threshold is a metric, optional tag filters and an expression, as k6 writes them::

    http_req_duration{kind:HTTP}: p(95)<500
    http_req_failed: rate<0.01
    http_reqs{name:POST /api/orders}: rate>100

- metrics, over every request Locust reports whatever its kind (``{kind:...}`` narrows them):
  ``http_req_duration`` (ms: ``p(N)``, ``med``, ``avg``, ``min``, ``max``), ``http_req_failed``
  (``rate``: failed requests / requests, 0 to 1), ``http_reqs`` (``count``; ``rate``: requests
  per second over the span);
- tags: ``kind`` (the request type: HTTP, WS, PG, REDIS; any case), ``name`` (the request name,
  exactly), ``phase`` (a phase kind, ``baseline``, or label, ``burst2``); comma-separated;
- operators: ``<``, ``<=``, ``>``, ``>=``, ``==`` (or ``===``), ``!=``; the limit a plain number.

One model for both forms: the gate's ``thresholds:`` section (a key, an expression or a list of
them) and the ``--threshold 'KEY: EXPR[, EXPR...]'`` option are parsed by the same functions into
``Threshold``; ``merge`` puts the command line's over the gate's (docs/analysis.md, Thresholds).

Judged from the run's own HDR histograms, by their value (as k6: no interval) over the span:
every request after warmup (with chaos on, the schedule's phases from baseline to cooldown, not
the idle seconds before or after the schedule; with chaos off, the whole run), or those of the
phases a ``{phase:...}`` tag names. A threshold that no request matches cannot be measured:
nothing passes by absence.
"""

from __future__ import annotations

import math
import operator
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from chaosbench.analysis.analyze import Analysis
from chaosbench.analysis.model import RunData
from chaosbench.analysis.outcome import Cell, CriterionResult, Status
from chaosbench.analysis.regression import phase_kind
from chaosbench.analysis.stats import Cohort, Names, Scope, SecondBlock, WindowTable, phase_order
from chaosbench.ground.errors import OptionError
from chaosbench.ground.redact import redact
from chaosbench.ground.text import did_you_mean, short_repr

DURATION, FAILED, REQS = "http_req_duration", "http_req_failed", "http_reqs"

#: metric -> (its aggregations, the unit of its values); ``p(N)`` stands for every percentile.
METRICS: dict[str, tuple[tuple[str, ...], str]] = {
    DURATION: (("p(N)", "med", "avg", "min", "max"), "ms"),
    FAILED: (("rate",), "rate"),
    REQS: (("count", "rate"), "count"),
}
TAGS = ("kind", "name", "phase")
PHASES = ("idle", "warmup", "baseline", "burst", "recovery", "cooldown")
OPERATORS: dict[str, Callable[[float, float], bool]] = {
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
    "==": operator.eq,
    "!=": operator.ne,
}
#: How the reports print an operator.
SYMBOL = {"<": "<", "<=": "≤", ">": ">", ">=": "≥", "==": "=", "!=": "≠"}
EXAMPLE = "e.g. 'http_req_duration{kind:HTTP}: p(95)<500'"

_KEY = re.compile(r"\s*([A-Za-z_][A-Za-z0-9_]*)\s*(?:\{(.*)\})?\s*", re.DOTALL)
_TAG_SPLIT = re.compile(r",\s*(?=(?:" + "|".join(TAGS) + r")\s*:)")
#: An expression with its whitespace taken out (k6 allows it anywhere; none is meaningful):
#: no two parts of the pattern can match the same characters, so it runs in linear time.
_EXPR = re.compile(r"([A-Za-z]+)(?:\(([^()]*)\))?(===|==|!=|<=|>=|<|>)([^<>=!]+)")
_LABEL = re.compile("|".join(PHASES) + r"|(?:burst|recovery)[1-9][0-9]*")

RECOMMEND = {
    DURATION: "The latency objective is missed: find the slow requests (report.html's per-name "
    "table) and their slow dependency; add capacity, caching or timeouts, or compare with an "
    "earlier run (--baseline).",
    FAILED: "Too many requests fail: look at the error classes in report.html and Locust's "
    "failures; fix the system, or the load profile if it sends invalid requests.",
    REQS: "The throughput objective is missed: the system saturates below the target (its "
    "latency rises with the load), or the load is too small to reach it (users, wait time, "
    "pacing).",
}


class ThresholdError(ValueError):
    """A threshold that cannot be parsed: the problem, and the gate key it is under (if any)."""

    def __init__(self, problem: str, key: str | None = None) -> None:
        super().__init__(problem)
        self.problem = problem
        self.key = key

    def located(self, section: str) -> str:
        """``thresholds.KEY: problem`` (``section`` is where the thresholds are)."""
        return f"{section}.{self.key}: {self.problem}" if self.key else f"{section}: {self.problem}"


@dataclass(frozen=True, slots=True)
class Threshold:
    """One threshold: ``metric{tags}: aggregation op limit``."""

    metric: str
    tags: tuple[tuple[str, str], ...]  # (tag, value), ordered by tag
    aggregation: str  # p(95), med, avg, min, max, rate, count
    op: str  # a key of OPERATORS
    limit: float

    @property
    def key(self) -> str:
        tags = ",".join(f"{t}:{v}" for t, v in self.tags)
        return f"{self.metric}{{{tags}}}" if tags else self.metric

    @property
    def expression(self) -> str:
        return f"{self.aggregation}{self.op}{_number(self.limit)}"

    @property
    def text(self) -> str:
        return f"{self.key}: {self.expression}"

    @property
    def identity(self) -> tuple[object, ...]:
        """What a command-line threshold replaces in the gate: same metric, tags, aggregation."""
        tags = tuple((t, v.casefold() if t == "kind" else v) for t, v in self.tags)
        return (self.metric, tags, self.aggregation)

    def tag(self, name: str) -> str | None:
        return next((v for t, v in self.tags if t == name), None)

    @property
    def percentile(self) -> float | None:
        if self.aggregation == "med":
            return 50.0
        if self.aggregation.startswith("p("):
            return float(self.aggregation[2:-1])
        return None

    @property
    def unit(self) -> str:
        if self.metric == REQS and self.aggregation == "rate":
            return "req/s"
        return METRICS[self.metric][1]

    def passes(self, value: float) -> bool:
        return OPERATORS[self.op](value, self.limit)


def _number(v: float) -> str:
    return repr(v).removesuffix(".0")


# -- parsing: one model for the gate's section and the command line ---------------------------


def parse_key(key: str) -> tuple[str, tuple[tuple[str, str], ...]]:
    """``metric{tag:value,...}`` -> (metric, tags ordered by tag)."""
    m = _KEY.fullmatch(key)
    if m is None:
        raise ThresholdError(f"{short_repr(key)} is not METRIC or METRIC{{TAG:VALUE,...}}")
    metric, body = m.group(1), m.group(2)
    if metric not in METRICS:
        hint = did_you_mean(metric, METRICS) or f" (known: {', '.join(METRICS)})"
        raise ThresholdError(f"unknown metric {metric!r}{hint}")
    if body is None:
        return metric, ()
    tags: dict[str, str] = {}
    for item in _TAG_SPLIT.split(body):
        tag, sep, value = item.partition(":")
        tag, value = tag.strip(), value.strip()
        if not sep or not value:
            raise ThresholdError(f"tag filter {short_repr(item.strip())}: expected TAG:VALUE")
        if tag not in TAGS:
            hint = did_you_mean(tag, TAGS) or f" (known: {', '.join(TAGS)})"
            raise ThresholdError(f"unknown tag {tag!r}{hint}")
        if tag in tags:
            raise ThresholdError(f"tag {tag!r} given twice")
        if tag == "phase" and not _LABEL.fullmatch(value):
            raise ThresholdError(
                f"phase {short_repr(value)}: expected one of {', '.join(PHASES)} or a label "
                "such as burst2"
            )
        tags[tag] = value
    return metric, tuple(sorted(tags.items()))


def parse_expression(metric: str, expr: str) -> tuple[str, str, float]:
    """``p(95)<500`` -> ("p(95)", "<", 500.0), checked against what ``metric`` takes."""
    expr = expr.strip()
    m = _EXPR.fullmatch(re.sub(r"\s+", "", expr))
    if m is None and re.match(r"p\d", expr):
        raise ThresholdError(f"{short_repr(expr)}: a percentile is written p(N), e.g. p(95)<500")
    if m is None:
        raise ThresholdError(
            f"{short_repr(expr)}: expected AGGREGATION OPERATOR NUMBER, e.g. p(95)<500 or "
            "rate<0.01 (operators: < <= > >= == !=)"
        )
    agg, arg, op, number = m.group(1), m.group(2), m.group(3), m.group(4)
    op = "==" if op == "===" else op
    allowed, _ = METRICS[metric]
    if agg == "p" and "p(N)" in allowed:
        if arg is None:
            raise ThresholdError(f"{short_repr(expr)}: a percentile is p(N), e.g. p(95)")
        try:
            pct = float(arg)
        except ValueError:
            pct = math.nan
        if not 0 < pct <= 100:  # also nan
            raise ThresholdError(f"{short_repr(expr)}: p(N) takes N from 0 (excluded) to 100")
        agg = f"p({_number(pct)})"
    elif agg not in allowed or arg is not None:
        took = agg if arg is None else f"{agg}({arg})"
        raise ThresholdError(f"{metric} takes {', '.join(allowed)}, not {took!r}")
    try:
        limit = float(number)
    except ValueError:
        raise ThresholdError(f"{short_repr(expr)}: {short_repr(number)} is not a number") from None
    if not math.isfinite(limit) or limit < 0:
        raise ThresholdError(f"{short_repr(expr)}: the limit must be a finite number >= 0")
    if metric == FAILED and limit > 1:
        raise ThresholdError(f"{short_repr(expr)}: a rate is from 0 to 1 (0.01 is 1 %)")
    return agg, op, limit


def parse(key: str, expr: str) -> Threshold:
    metric, tags = parse_key(key)
    return Threshold(metric, tags, *parse_expression(metric, expr))


def _split_option(text: str) -> tuple[str, str]:
    """``KEY: EXPR, ...`` -> (KEY, "EXPR, ..."): the first colon after the tag braces (the last
    ``}``: a request name may hold one, an expression never does)."""
    close = text.rfind("}")
    at = text.find(":", close + 1 if close >= 0 and "{" in text[:close] else 0)
    if at < 0:
        raise ThresholdError(f"expected METRIC[{{TAG:VALUE}}]: EXPRESSION[, ...], {EXAMPLE}")
    return text[:at], text[at + 1 :]


def parse_option(text: str) -> list[Threshold]:
    """The command-line form: ``'http_req_duration{kind:HTTP}: p(95)<500, p(99)<900'``."""
    key, exprs = _split_option(text)
    items = exprs.split(",")
    if not any(e.strip() for e in items):
        raise ThresholdError(f"no expression after the colon, {EXAMPLE}")
    return [parse(key, e) for e in items]


def from_mapping(data: Any) -> tuple[Threshold, ...]:
    """The gate's ``thresholds:`` section: key -> expression or list of expressions."""
    if data is None:
        return ()
    if not isinstance(data, dict):
        raise ThresholdError(
            f"expected a mapping of METRIC{{TAGS}} to expressions, got {type(data).__name__}"
        )
    out: list[Threshold] = []
    for key, exprs in data.items():
        where = str(key)
        items = [exprs] if isinstance(exprs, str) else exprs
        if not isinstance(items, list) or not items:
            raise ThresholdError("expected an expression or a list of them, e.g. p(95)<500", where)
        for e in items:
            if not isinstance(e, str):
                extra = " (abortOnFail is not supported)" if isinstance(e, dict) else ""
                raise ThresholdError(
                    f"{short_repr(e)} is not an expression string such as 'p(95)<500'{extra}",
                    where,
                )
            try:
                out.append(parse(where, e))
            except ThresholdError as exc:
                raise ThresholdError(exc.problem, where) from None
    return tuple(out)


def to_mapping(thresholds: Iterable[Threshold]) -> dict[str, list[str]]:
    """The gate's form again (what meta.json records)."""
    out: dict[str, list[str]] = {}
    for t in thresholds:
        out.setdefault(t.key, []).append(t.expression)
    return out


def merge(gate: Sequence[Threshold], cli: Sequence[Threshold]) -> tuple[Threshold, ...]:
    """The command line's thresholds over the gate's: one on the same metric, tags and
    aggregation as some of the gate's replaces them; the others are added."""
    replaced = {t.identity for t in cli}
    kept = [t for t in gate if t.identity not in replaced]
    return tuple(dict.fromkeys([*kept, *cli]))


# -- judging ------------------------------------------------------------------------------------


def chaos_off(run: RunData) -> bool:
    """The run had no chaos (``--chaos-profile none``, ``--no-chaos``): no phase at all and no
    scheduler seed. A chaos run that died before its first phase is not one."""
    return not run.phases and run.meta.seed is None


@dataclass(frozen=True, slots=True)
class Span:
    labels: list[str] | None  # phase labels; None: every window
    seconds: float
    label: str  # "whole run", "after warmup", "phase baseline"


def span_of(run: RunData, table: WindowTable, phase: str | None) -> Span:
    labels = phase_order(table.phases())
    spans = {p.label: max(p.end - p.start, 0.0) for p in run.phases}
    if phase is not None:
        chosen = [lab for lab in labels if phase in (lab, phase_kind(lab))]
        where = f"phase {phase}"
    elif chaos_off(run):
        end = run.ended if run.ended is not None else (table.last_second or 0) + 1
        return Span(None, max(end - run.started, 0.0), "whole run")
    else:
        chosen = [lab for lab in labels if phase_kind(lab) not in ("idle", "warmup")]
        where = "after warmup"
    return Span(chosen, sum(spans.get(lab, 0.0) for lab in chosen), where)


def _selection(table: WindowTable, t: Threshold) -> Scope | Cohort | Names | str:
    """What the threshold's kind and name tags select, or why nothing in the run matches."""
    kind, name = t.tag("kind"), t.tag("name")
    kinds = table.kinds()
    matched = [k for k in kinds if kind is not None and k.casefold() == kind.casefold()]
    if kind is not None and not matched:
        return (
            f"no requests of kind {kind!r} in the run{did_you_mean(kind, kinds)} "
            f"(kinds: {', '.join(kinds) or 'none'})"
        )
    if name is not None:
        pairs = tuple(
            p for p in table.names() if p[1] == name and (kind is None or p[0] in matched)
        )
        if not pairs:
            known = [n for k, n in table.names() if kind is None or k in matched]
            return f"no requests named {name!r} in the run{did_you_mean(name, known)}"
        return Names(pairs)
    if len(matched) > 1:
        return Cohort(tuple(matched))
    return Scope(matched[0]) if matched else Scope()


def _value(t: Threshold, block: SecondBlock, seconds: float) -> float:
    h = block.hist
    pct = t.percentile
    if pct is not None:
        return h.merged_percentile(pct) / 1000
    if t.metric == DURATION:
        us = {"avg": h.mean_value, "min": h.min_value, "max": h.max_value}[t.aggregation]()
        return us / 1000
    if t.metric == FAILED:
        return float(block.failures.sum()) / block.total
    if t.aggregation == "count":
        return float(block.total)
    return block.total / seconds if seconds > 0 else math.nan


def judge_one(a: Analysis, t: Threshold) -> CriterionResult:
    span = span_of(a.run, a.table, t.tag("phase"))
    unit = t.unit

    def done(status: Status, value: float | None, detail: str) -> CriterionResult:
        cells = [Cell(span.label, math.nan if value is None else value, status=status)]
        return CriterionResult(
            t.text,
            t.text,
            status,
            value,
            t.limit,
            unit,
            where=span.label,
            detail=detail,
            cells=cells,
            comparison=SYMBOL[t.op],
            group="thresholds",
            recommendation=RECOMMEND[t.metric],
        )

    sel = _selection(a.table, t)
    if isinstance(sel, str):
        return done(Status.ERROR, None, sel)
    if span.labels is not None and not span.labels:
        what = span.label.removeprefix("phase ")
        return done(Status.ERROR, None, f"the run has no {what} phase")
    block = a.table.select(sel, span.labels)
    if block.total == 0:
        return done(Status.ERROR, None, f"no requests {span.label}")
    value = _value(t, block, span.seconds)
    if math.isnan(value):
        return done(Status.ERROR, None, f"no duration {span.label}")
    status = Status.PASS if t.passes(value) else Status.FAIL
    return done(status, value, f"{block.total} requests in {span.seconds:.1f} s")


def judge(a: Analysis, thresholds: Iterable[Threshold]) -> list[CriterionResult]:
    """One criterion result per threshold, in their order."""
    return [judge_one(a, t) for t in thresholds]


def from_options(values: Iterable[str] | None) -> list[Threshold]:
    """The ``--threshold`` values (the option is repeatable); ``OptionError`` names the bad one."""
    out: list[Threshold] = []
    for v in values or ():
        text = v.strip()
        if len(text) > 1 and text[0] == text[-1] and text[0] in "'\"":  # a locust.conf list item
            text = text[1:-1]
        try:
            out += parse_option(text)
        except ThresholdError as exc:
            raise OptionError(redact(f"--threshold {short_repr(v)}: {exc.problem}")) from None
    return out
