"""The gate's criteria: one small function per criterion, registered once with its config model.

``@criterion(name, title, Config)`` registers a function ``(Analysis, Config) -> CriterionResult``
under ``name``; the gate's ``criteria:`` section is built from this registry (one key per
criterion, validated by its model, ``chaosbench.analysis.gate``).

A criterion reads the Analysis and its own config and returns a CriterionResult. Interval
criteria judge each cell (phase x scope): *fail* when the whole interval is over the limit,
*pass* when the whole interval is within it, *inconclusive* otherwise; the criterion takes its
worst cell. A criterion that cannot be computed says *error* (the run could not be measured),
one that does not apply to this run (nothing to check) says *n/a* unless the config marks it
``required``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from chaosbench.analysis.analyze import Analysis
from chaosbench.analysis.limits import (
    BaselineErrorRate,
    BaselineRun,
    Count,
    Criterion,
    ErrorRate,
    LatencyCeiling,
    LatencyRegression,
    RateCeiling,
    Ratio,
    RecoveryTime,
    Rto,
)
from chaosbench.analysis.outcome import SEVERITY, Cell, CriterionResult, Status
from chaosbench.analysis.regression import Comparison, labels_of, scopes_of
from chaosbench.analysis.stats import Interval, Scope, percentile, rate, rng_for

C = TypeVar("C", bound=Criterion)


@dataclass(frozen=True, slots=True)
class CriterionSpec(Generic[C]):
    """One registered criterion: its gate key, its title, its config model and its function."""

    name: str
    title: str
    config: type[C]
    default: C  # the config when the gate does not mention the criterion
    judge: Callable[[Analysis, C], CriterionResult]
    chaos: bool = True  # it judges chaos (phases, bursts, faults): n/a in a run without chaos

    def run(self, a: Analysis, cfg: Criterion) -> CriterionResult:
        if not isinstance(cfg, self.config):
            raise TypeError(f"criterion {self.name}: config {type(cfg).__name__}")
        return self.judge(a, cfg)


#: Every criterion, in the order the gate and the reports list them (filled at import below).
CRITERIA: dict[str, CriterionSpec[Any]] = {}


def criterion(
    name: str, title: str, config: type[C], default: C | None = None, chaos: bool = True
) -> Callable[[Callable[[Analysis, C], CriterionResult]], Callable[[Analysis, C], CriterionResult]]:
    """Register the decorated function as the criterion ``name`` configured by ``config``
    (``chaos``: it judges the chaos, so a run without chaos does not apply to it)."""

    def register(
        fn: Callable[[Analysis, C], CriterionResult],
    ) -> Callable[[Analysis, C], CriterionResult]:
        if name in CRITERIA:
            raise ValueError(f"criterion {name!r} is registered twice")
        CRITERIA[name] = CriterionSpec(
            name, title, config, default or config.model_validate({}), fn, chaos
        )
        return fn

    return register


def title_of(name: str) -> str:
    return CRITERIA[name].title


def judge_interval(value: float, low: float, high: float, limit: float) -> Status:
    if not (math.isfinite(low) and math.isfinite(high)):
        return Status.INCONCLUSIVE
    if low > limit:
        return Status.FAIL
    if high <= limit:
        return Status.PASS
    return Status.INCONCLUSIVE


def judge_effect(
    rel: tuple[float, float], ms: tuple[float, float], limit: float, min_ms: float
) -> Status:
    """A latency increase against two budgets: ``limit`` (relative) and ``min_ms`` (absolute).

    ``rel`` and ``ms`` are the (low, high) ends of the effect's interval in both senses.

    - fail: the change is shown to be large in both senses: the low end exceeds both budgets;
    - pass: the change is shown to be small in at least one sense: the high end is within the
      relative budget or within the absolute one (then it cannot be large in both); or no
      increase is shown (the low end is at or below 0 in either sense) by an interval sharp
      enough to have shown one of twice the budget (its high end within twice a budget);
    - inconclusive: anything else: an interval that holds both "no change" and twice the
      budget in both senses (the noise hides whether it is a regression: never a pass by
      absence), or a real increase that may or may not exceed the budgets.
    """
    lo_r, hi_r = rel
    lo_ms, hi_ms = ms
    if not all(math.isfinite(x) for x in (lo_r, hi_r, lo_ms, hi_ms)):
        return Status.INCONCLUSIVE
    if lo_r > limit and lo_ms > min_ms:
        return Status.FAIL
    if hi_r <= limit or hi_ms <= min_ms:
        return Status.PASS
    if (lo_r <= 0 or lo_ms <= 0) and (hi_r <= 2 * limit or hi_ms <= 2 * min_ms):
        return Status.PASS
    return Status.INCONCLUSIVE


def family_confidence(confidence: float, cells: int) -> float:
    """Per-cell confidence so that the family of ``cells`` intervals holds ``confidence``
    (Bonferroni): judging many bursts x kinds must not make noise fail the gate."""
    return 1 - (1 - confidence) / max(cells, 1)


def result(name: str, cfg: Criterion, unit: str, cells: list[Cell], **kw: Any) -> CriterionResult:
    """The criterion's verdict from its cells: the worst cell decides."""
    title = title_of(name)
    detail = kw.pop("detail", "")
    judged = [c for c in cells if c.status != Status.SKIPPED]
    if not judged:
        notes = "; ".join(dict.fromkeys(c.note for c in cells if c.note)) or "nothing to judge"
        return CriterionResult(
            name, title, Status.ERROR, None, cfg.limit, unit, detail=notes, cells=cells, **kw
        )
    worst = max(judged, key=_badness)
    skipped = len(cells) - len(judged)
    if skipped:
        why = "not measurable" if any("not measurable" in c.note for c in cells) else "few samples"
        detail = (detail + "; " if detail else "") + f"{skipped} cell(s) not judged ({why})"
    return CriterionResult(
        name,
        title,
        worst.status,
        worst.value,
        cfg.limit,
        unit,
        worst.low,
        worst.high,
        where=worst.where,
        detail=detail,
        cells=cells,
        reference=worst.reference,
        current=worst.current,
        **kw,
    )


def _badness(c: Cell) -> tuple[int, float, float]:
    """The worst cell: the most severe status, then the largest effect (its point estimate,
    not the low end of its interval: a noisy +1041 % is worse than a tight +1010 %)."""
    value = c.value if not math.isnan(c.value) else -math.inf
    high = c.high if c.high is not None and not math.isnan(c.high) else value
    return SEVERITY[c.status], value, high


def cannot_measure(name: str, cfg: Criterion, unit: str, why: str) -> CriterionResult:
    """The criterion applies but cannot be computed: never a silent pass (exit 2)."""
    return CriterionResult(name, title_of(name), Status.ERROR, None, cfg.limit, unit, detail=why)


def not_applicable(name: str, cfg: Criterion, unit: str, why: str) -> CriterionResult:
    status = Status.ERROR if cfg.required else Status.SKIPPED
    return CriterionResult(name, title_of(name), status, None, cfg.limit, unit, detail=why)


def _no_baseline(a: Analysis, name: str, cfg: Criterion, unit: str) -> CriterionResult | None:
    if a.has_baseline_samples:
        return None
    if any(p.label == "baseline" for p in a.run.phases):
        why = "no samples in the baseline phase: nothing to compare against"
    else:
        why = "the run has no baseline phase (is chaos disabled in the profile?)"
    return cannot_measure(name, cfg, unit, why)


def _ratio_cells(comps: list[Comparison], limit: float, min_ms: float) -> list[Cell]:
    cells = []
    for c in comps:
        where = f"{c.phase} {c.scope}"
        if c.ratio is None or c.effect_ms is None:
            cells.append(Cell(where, math.nan, status=Status.SKIPPED, note=c.note))
            continue
        r, e = c.ratio, c.effect_ms
        v, lo, hi = r.value - 1, r.low - 1, r.high - 1
        status = judge_effect((lo, hi), (e.low, e.high), limit, min_ms)
        note = f"{e.value:+.1f} ms [{e.low:+.1f} … {e.high:+.1f}] vs {c.reference}"
        if c.method == "control":
            note += f" (the control's {c.drift_ms:+.1f} ms taken off"
            if c.raw_reference_ms is not None and c.raw_current_ms is not None:
                raw = f"{c.raw_reference_ms:.1f} → {c.raw_current_ms:.1f} ms"
                note += f"; the phases' own p{c.percentile:g}: {raw}"
            if c.stalled_seconds:
                note += f"; {c.stalled_seconds} host-stall seconds left out"
            note += ")"
        elif c.method == "bracket":
            note += f" (after - before {c.drift_ms:+.1f} ms)"
        cells.append(
            Cell(
                where,
                v,
                lo,
                hi,
                status,
                note=note,
                reference=c.reference_ms,
                current=c.current_ms,
            )
        )
    return cells


@criterion("p95_regression", "p95 regression in bursts", LatencyRegression)
def p95_regression(a: Analysis, cfg: LatencyRegression) -> CriterionResult:
    name = "p95_regression"
    if (err := _no_baseline(a, name, cfg, "ratio")) is not None:
        return err
    conf = family_confidence(a.gate.confidence, a.cells(cfg.phases, cfg.scope))
    comps = a.versus(cfg.phases, cfg.scope, cfg.percentile, confidence=conf)
    if not comps:
        return not_applicable(name, cfg, "ratio", f"no {'/'.join(cfg.phases)} phases in the run")
    cells = _ratio_cells(comps, cfg.limit, cfg.min_effect_ms)
    return result(name, cfg, "ratio", cells, confidence=conf)


@criterion("p99_ceiling", "p99 ceiling in bursts", LatencyCeiling)
def p99_ceiling(a: Analysis, cfg: LatencyCeiling) -> CriterionResult:
    name, g = "p99_ceiling", a.gate
    labels = labels_of(a.table, cfg.phases)
    if not labels:
        return not_applicable(name, cfg, "ms", f"no {'/'.join(cfg.phases)} phases in the run")
    cells = []
    for label in labels:
        for sc in scopes_of(a.table, cfg.scope):
            blk = a.table.select(sc, [label])
            where = f"{label} {sc.label}"
            if blk.total < g.min_samples:
                cells.append(
                    Cell(
                        where,
                        math.nan,
                        status=Status.SKIPPED,
                        note=f"too few samples in {where} ({blk.total})",
                    )
                )
                continue
            rng = rng_for(g.bootstrap.seed, name, where)
            iv = percentile(
                blk,
                cfg.percentile,
                rng=rng,
                resamples=g.bootstrap.resamples,
                confidence=g.confidence,
            )
            v, lo, hi = iv.value / 1000, iv.low / 1000, iv.high / 1000
            cell = Cell(where, v, lo, hi, judge_interval(v, lo, hi, cfg.limit))
            if cell.status == Status.FAIL and not _touched(a, label, sc.kind):
                _untouched(cell)
            if cell.status == Status.FAIL and label != "baseline":
                base = a.table.select(sc, ["baseline"])
                if base.total >= g.min_samples:
                    biv = percentile(
                        base,
                        cfg.percentile,
                        rng=rng_for(g.bootstrap.seed, name, f"baseline {sc.label}"),
                        resamples=g.bootstrap.resamples,
                        confidence=g.confidence,
                    )
                    _excuse(cell, biv.high / 1000, cfg.limit, f"{biv.value / 1000:.1f} ms")
            cells.append(cell)
    return result(name, cfg, "ms", cells, confidence=g.confidence)


def _touched(a: Analysis, label: str, kind: str | None) -> bool:
    """Whether the faults of the burst ``label`` belongs to (burst or recovery phase) touch
    ``kind`` (None: any kind). True for phases outside bursts and without drift control."""
    burst = next((p.burst for p in a.run.phases if p.label == label), None)
    coh = a.cohorts.get(burst) if burst is not None else None
    if coh is None or not a.gate.drift.enabled:
        return True
    if kind is not None:
        return coh.touches(kind)
    return coh.everything or bool(coh.touched - coh.declared)


def _untouched(cell: Cell) -> None:
    """A burst's ceiling cell over the limit for traffic its faults do not touch (an A/A burst:
    none) is inconclusive, not a fail: nothing of the chaos acted on it, so the host did (issue 11:
    live A/A runs at load 15-20 failed p99 and deadline ceilings in a burst a neighbour's burst
    or a stall of the load generator happened to hit)."""
    cell.status = Status.INCONCLUSIVE
    cell.note = "over the limit, but no fault of this burst touches it: the host, not the faults"


def _excuse(cell: Cell, baseline_high: float, limit: float, baseline_text: str) -> None:
    """A burst cell over an absolute ceiling fails only when it is shown worse than the
    baseline too (its interval's low end above the baseline interval's high end). When the
    baseline, with no fault at all, may be over the limit as well (its high end above it) and
    the burst is not shown worse than it, the cell is inconclusive: the host may not meet the
    ceiling anyway (an overloaded CI machine, issue 11), so it says nothing about the faults.
    With a baseline shown within the limit nothing changes (the burst's low end is above it)."""
    if cell.low is not None and baseline_high > limit and cell.low <= baseline_high:
        cell.status = Status.INCONCLUSIVE
        cell.note = (
            f"the baseline may be over the limit too ({baseline_text}) and this is not shown "
            "worse: the host, not the faults"
        )


def _rate_criterion(a: Analysis, name: str, cfg: RateCeiling, misses: bool) -> CriterionResult:
    g = a.gate
    labels = labels_of(a.table, cfg.phases)
    if not labels:
        if "baseline" in cfg.phases and (err := _no_baseline(a, name, cfg, "rate")):
            return err
        return not_applicable(name, cfg, "rate", f"no {'/'.join(cfg.phases)} phases in the run")
    cells = []
    for label in labels:
        blk = a.table.select(Scope(), [label])
        if blk.total < g.min_samples:
            cells.append(
                Cell(
                    label,
                    math.nan,
                    status=Status.SKIPPED,
                    note=f"too few samples in {label} ({blk.total})",
                )
            )
            continue
        iv: Interval = rate(
            blk.misses if misses else blk.failures,
            blk.count,
            rng=rng_for(g.bootstrap.seed, name, label),
            resamples=g.bootstrap.resamples,
            confidence=g.confidence,
        )
        cell = Cell(
            label, iv.value, iv.low, iv.high, judge_interval(iv.value, iv.low, iv.high, cfg.limit)
        )
        if misses and cell.status == Status.FAIL and not _touched(a, label, None):
            _untouched(cell)
        if misses and cell.status == Status.FAIL and label != "baseline":
            base = a.table.select(Scope(), ["baseline"])
            if base.total >= g.min_samples:
                biv = rate(
                    base.misses,
                    base.count,
                    rng=rng_for(g.bootstrap.seed, name, "baseline"),
                    resamples=g.bootstrap.resamples,
                    confidence=g.confidence,
                )
                _excuse(cell, biv.high, cfg.limit, f"{biv.value:.2%}")
        cells.append(cell)
    return result(name, cfg, "rate", cells, confidence=g.confidence)


@criterion("deadline_misses", "deadline misses", RateCeiling)
def deadline_misses(a: Analysis, cfg: RateCeiling) -> CriterionResult:
    return _rate_criterion(a, "deadline_misses", cfg, misses=True)


@criterion("error_rate", "error rate in bursts", ErrorRate)
def error_rate(a: Analysis, cfg: RateCeiling) -> CriterionResult:
    return _rate_criterion(a, "error_rate", cfg, misses=False)


@criterion("baseline_error_rate", "error rate in the baseline", BaselineErrorRate)
def baseline_error_rate(a: Analysis, cfg: RateCeiling) -> CriterionResult:
    return _rate_criterion(a, "baseline_error_rate", cfg, misses=False)


@criterion("recovery_time", "recovery time", RecoveryTime)
def recovery_time(a: Analysis, cfg: RecoveryTime) -> CriterionResult:
    name = "recovery_time"
    if (err := _no_baseline(a, name, cfg, "s")) is not None:
        return err
    if not a.recoveries:
        return not_applicable(name, cfg, "s", "no bursts in the run")
    cells = []
    for r in a.recoveries:
        where = f"burst{r.burst}"
        if not r.measurable:
            cells.append(Cell(where, math.nan, status=Status.SKIPPED, note=r.note))
            continue
        if not r.recovered:
            cells.append(Cell(where, math.inf, status=Status.FAIL, note=f"not recovered: {r.note}"))
            continue
        v = r.recovery_s or 0.0
        # The resolution is r.resolution_s (one second): the interval says so.
        status = Status.PASS if v <= cfg.limit else Status.FAIL
        step = r.resolution_s
        note = f"{r.slowest} (affected: {', '.join(r.affected) or 'none'}; resolution {step:g} s)"
        cells.append(Cell(where, v, max(v - step, 0), v + step, status, note=note))
    res = result(name, cfg, "s", cells)
    if res.value is not None and math.isinf(res.value):
        res.detail = next(c.note for c in cells if math.isinf(c.value))
    return res


@criterion("rto", "RTO of kill-and-restart faults", Rto)
def rto(a: Analysis, cfg: Rto) -> CriterionResult:
    name = "rto"
    if not a.rtos:
        return not_applicable(name, cfg, "s", "no kill-and-restart faults in the journal")
    cells = []
    for r in a.rtos:
        where = f"{r.name} burst{r.burst}" if r.burst is not None else r.name
        if r.rto_s is None:
            cells.append(Cell(where, math.inf, status=Status.FAIL, note="did not come back"))
        else:
            ok = r.rto_s <= cfg.limit
            cells.append(Cell(where, r.rto_s, status=Status.PASS if ok else Status.FAIL))
    return result(name, cfg, "s", cells)


@criterion("orders", "lost or duplicated acknowledged orders", Count, chaos=False)
def orders(a: Analysis, cfg: Count) -> CriterionResult:
    name, i = "orders", a.integrity
    if i.orders_acknowledged == 0 and i.canary_injected == 0:
        # Nothing acknowledged, nothing planted: "0 lost" would be a pass by absence.
        return not_applicable(name, cfg, "count", "no orders were acknowledged: nothing to check")
    if not i.checked:
        return cannot_measure(
            name,
            cfg,
            "count",
            "the end-of-run order check did not run"
            + (f" ({i.check_note})" if i.check_note else ""),
        )
    if i.canary_missed:
        return cannot_measure(
            name,
            cfg,
            "count",
            f"the canary corrupted {i.canary_injected} record(s) and the check found "
            "none: the integrity check is blind",
        )
    v = float(i.order_violations)
    detail = (
        f"{i.orders_lost} lost, {i.orders_duplicated} duplicated, "
        f"{i.canary_found} discrepancies found of {i.orders_acknowledged} acknowledged"
    )
    st = Status.PASS if v <= cfg.limit else Status.FAIL
    return result(name, cfg, "count", [Cell("run", v, status=st)], detail=detail)


@criterion("stream_data_loss", "stream data loss", Ratio, chaos=False)
def stream_data_loss(a: Analysis, cfg: Ratio) -> CriterionResult:
    name, i = "stream_data_loss", a.integrity
    ratio = i.stream_loss_ratio
    if ratio is None:
        return not_applicable(name, cfg, "rate", "no WebSocket stream messages: nothing to check")
    st = Status.PASS if ratio <= cfg.limit else Status.FAIL
    detail = f"{i.ws_gaps} missing of {i.stream_expected} ({i.ws_resumes} resumes)"
    return result(name, cfg, "rate", [Cell("run", ratio, status=st)], detail=detail)


@criterion(
    "ws_duplicates", "WebSocket duplicates after resume", Count, Count(enabled=False), chaos=False
)
def ws_duplicates(a: Analysis, cfg: Count) -> CriterionResult:
    name, i = "ws_duplicates", a.integrity
    if i.ws_messages == 0:
        return not_applicable(name, cfg, "count", "no WebSocket stream messages")
    v = float(i.ws_duplicates)
    st = Status.PASS if v <= cfg.limit else Status.FAIL
    return result(
        name,
        cfg,
        "count",
        [Cell("run", v, status=st)],
        detail=f"{i.ws_duplicates} duplicates, {i.ws_reorders} reordered",
    )


@criterion("baseline_run", "p95 against the baseline run", BaselineRun)
def baseline_run(a: Analysis, cfg: BaselineRun) -> CriterionResult:
    name = "baseline_run"
    if a.baseline_table is None:
        hint = "--baseline-run in a Locust run, --baseline in chaosbench analyze"
        return not_applicable(name, cfg, "ratio", f"no baseline run given ({hint})")
    conf = family_confidence(a.gate.confidence, a.cells(cfg.phases, cfg.scope, stored=True))
    comps = a.versus(cfg.phases, cfg.scope, cfg.percentile, stored=True, confidence=conf)
    if not comps:
        return cannot_measure(name, cfg, "ratio", "the baseline run has none of this run's phases")
    cells = _ratio_cells(comps, cfg.limit, cfg.min_effect_ms)
    return result(name, cfg, "ratio", cells, confidence=conf)
