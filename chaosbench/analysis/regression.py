"""Regression of phases against a reference: percentile ratios with bootstrap intervals.

The reference is the run's own baseline phase, or the same phase of a stored baseline run.
A ratio of 1.0 is no change; the interval says how sure the ratio is, so a verdict can be
pass (the whole interval within budget), fail (the whole interval over) or inconclusive.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from chaosbench.analysis.stats import (
    Interval,
    Scope,
    WindowTable,
    percentile_ratio,
    phase_order,
    rng_for,
)
from chaosbench.analysis.stats.bootstrap import resampled


@dataclass(slots=True)
class Comparison:
    phase: str  # phase label in the run being judged (burst1)
    scope: str  # overall, a kind, or "KIND name"
    percentile: float
    reference: str  # "baseline", or "baseline run burst1"
    current_ms: float
    reference_ms: float
    n_current: int
    n_reference: int
    ratio: Interval | None  # None when there were too few samples to judge
    note: str = ""

    @property
    def judged(self) -> bool:
        return self.ratio is not None


def phase_kind(label: str) -> str:
    """``burst2`` -> ``burst``; ``baseline`` -> ``baseline``."""
    return label.rstrip("0123456789")


def labels_of(table: WindowTable, kinds: Iterable[str]) -> list[str]:
    wanted = set(kinds)
    return [lab for lab in phase_order(table.phases()) if phase_kind(lab) in wanted]


def scopes_of(table: WindowTable, scope: str) -> list[Scope]:
    if scope == "overall":
        return [Scope()]
    if scope == "kind":
        return [Scope(k) for k in table.kinds()]
    return [Scope(k, n) for k, n in table.names()]


@dataclass(frozen=True, slots=True)
class Settings:
    percentile: float
    min_samples: int
    resamples: int
    confidence: float
    seed: int


def compare(
    table: WindowTable,
    label: str,
    reference: WindowTable,
    ref_label: str,
    scope: Scope,
    s: Settings,
    ref_name: str,
) -> Comparison:
    """``label`` of ``table`` against ``ref_label`` of ``reference``, for one scope."""
    cur = table.select(scope, [label])
    ref = reference.select(scope, [ref_label])
    pct = s.percentile
    comp = Comparison(
        phase=label,
        scope=scope.label,
        percentile=pct,
        reference=ref_name,
        current_ms=cur.hist.merged_percentile(pct) / 1000,
        reference_ms=ref.hist.merged_percentile(pct) / 1000,
        n_current=cur.total,
        n_reference=ref.total,
        ratio=None,
    )
    if min(cur.total, ref.total) < s.min_samples or min(cur.n, ref.n) < 2:
        comp.note = (
            f"too few samples ({cur.total} in {label}, {ref.total} in {ref_name}; "
            f"at least {s.min_samples} over 2 seconds needed)"
        )
        return comp
    key = (scope.label, ref_label, pct, s.resamples, s.seed)
    ref_samples = reference.resamples.get(key)
    if ref_samples is None:
        ref_rng = rng_for(s.seed, "reference", ref_name, scope.label, str(pct))
        ref_samples = resampled(ref, pct, rng=ref_rng, resamples=s.resamples)
        reference.resamples[key] = ref_samples
    rng = rng_for(s.seed, label, ref_name, scope.label, str(pct))
    comp.ratio = percentile_ratio(
        cur,
        ref,
        pct,
        rng=rng,
        resamples=s.resamples,
        confidence=s.confidence,
        reference_samples=ref_samples,
    )
    return comp
