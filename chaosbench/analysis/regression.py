"""Regression of phases against a reference: the change of a percentile, drift-controlled,
in absolute ms and relative to the reference, each with a bootstrap interval.

Host drift (the machine getting slower between the baseline and a burst) moves unaffected
traffic as much as affected traffic, so a burst cell is judged, in this order of preference:

- **control**: against kinds that ran at the same time and that the burst's faults do not touch
  (``chaosbench.analysis.cohorts``), as a difference in differences second by second: per
  second, the kind's p95 minus the control cohort's p95 in that same second; the effect is the
  median of that over the phase's seconds minus the median over the baseline's, in ms, so a
  slow second both share cancels exactly, and the ratio is that effect over the kind's own
  baseline level (the median of its per-second p95s);
- **bracket**: without a control, against a reference on both sides of the burst in time: the
  mean of the percentile before it (the baseline, or the previous recovery's settled seconds)
  and after it (this recovery's settled seconds), so that slow drift cancels;
- **baseline**: the baseline phase alone (recovery phases without control; drift control off).

With ``--baseline RUN`` a phase is compared with the same phase of the stored run (no drift
control: the two runs did not run at the same time).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from chaosbench.analysis.stats import (
    Cohort,
    Interval,
    Scope,
    SecondBlock,
    WindowTable,
    phase_order,
    rng_for,
)
from chaosbench.analysis.stats.bootstrap import (
    confidence_interval,
    medians_of_draws,
    resampled,
    resampled_medians,
)


@dataclass(slots=True)
class Comparison:
    phase: str  # phase label in the run being judged (burst1)
    scope: str  # overall, a kind, or "KIND name"
    percentile: float
    reference: str  # what the phase was judged against, in words
    current_ms: float
    reference_ms: float
    n_current: int
    n_reference: int
    ratio: Interval | None  # 1 + the relative effect; None when too few samples to judge
    effect_ms: Interval | None = None  # the absolute effect (drift-controlled), ms
    method: str = "baseline"  # control | bracket | baseline | baseline run
    drift_ms: float = 0.0  # the change of the control (or the bracket's after - before), ms
    note: str = ""
    #: The phases' own merged percentiles (ms) when drift control changed what is compared:
    #: ``reference_ms`` and ``current_ms`` are then the level the ratio is taken against and
    #: that level plus the effect, so that "+1.3 ms, 9.0 → 10.3 ms, +14 %" adds up.
    raw_reference_ms: float | None = None
    raw_current_ms: float | None = None
    stalled_seconds: int = 0  # paired seconds left out: the control was stalled too (host)

    @property
    def judged(self) -> bool:
        return self.ratio is not None


@dataclass(frozen=True, slots=True)
class Blocks:
    """What one comparison reads: the phase and its reference for the judged scope, and the
    control cohort's (both None without a control); ``after``: the bracket's second side."""

    current: SecondBlock
    reference: SecondBlock
    control_current: SecondBlock | None = None
    control_reference: SecondBlock | None = None
    after: SecondBlock | None = None


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


def _enough(b: SecondBlock | None, s: Settings) -> bool:
    return b is not None and b.total >= s.min_samples and b.n >= 2


def _pct(b: SecondBlock, pct: float) -> float:
    return float(b.hist.merged_percentile(pct)) / 1000


def compare(
    table: WindowTable,
    label: str,
    reference: WindowTable,
    ref_label: str,
    scope: Scope,
    s: Settings,
    ref_name: str,
) -> Comparison:
    """``label`` of ``table`` against ``ref_label`` of ``reference``, for one scope, plainly."""
    blocks = Blocks(table.select(scope, [label]), reference.select(scope, [ref_label]))
    return judge_blocks(
        blocks, label, scope.label, s, ref_name, "baseline run", reference.resamples
    )


def judge_blocks(
    b: Blocks,
    label: str,
    scope: str,
    s: Settings,
    ref_name: str,
    method: str,
    cache: dict[tuple[object, ...], np.ndarray] | None = None,
) -> Comparison:
    """The effect of ``b.current`` over its reference (minus the control's change)."""
    pct = s.percentile
    cur, ref = b.current, b.reference
    comp = Comparison(
        phase=label,
        scope=scope,
        percentile=pct,
        reference=ref_name,
        current_ms=_pct(cur, pct),
        reference_ms=_pct(ref, pct),
        n_current=cur.total,
        n_reference=ref.total,
        ratio=None,
        method=method,
    )
    if b.after is not None and _enough(b.after, s):
        comp.reference_ms = (comp.reference_ms + _pct(b.after, pct)) / 2
        comp.n_reference += b.after.total
    if not (_enough(cur, s) and _enough(ref, s)):
        comp.note = (
            f"too few samples ({cur.total} in {label}, {ref.total} in {ref_name}; "
            f"at least {s.min_samples} over 2 seconds needed)"
        )
        return comp

    def draws(block: SecondBlock, side: str) -> np.ndarray:
        # The same labels for the judged scope and its control: the same seconds are drawn.
        # A reference's draws do not depend on the phase judged: computed once, shared.
        who = (label, side) if side == "current" else (ref_name, side)
        key = (id(block), pct, s.resamples, s.seed, *who)
        got = None if cache is None else cache.get(key)
        if got is None:
            rng = rng_for(s.seed, *who)
            got = resampled(block, pct, rng=rng, resamples=s.resamples) / 1000
            if cache is not None:
                cache[key] = got
        return got

    cc, cr = b.control_current, b.control_reference
    paired = None
    if cc is not None and cr is not None:
        who = (label, ref_name)
        paired = _paired(cur, ref, cc, cr, pct, who, s, {} if cache is None else cache)
    if paired is not None:
        point, eff, k0, base, comp.drift_ms, comp.stalled_seconds = paired
        n = min(cur.n, ref.n)
    else:
        k1, k0 = draws(cur, "current"), draws(ref, "reference")
        point = comp.current_ms - comp.reference_ms
        if b.after is not None and _enough(b.after, s):
            k0 = (k0 + draws(b.after, "after")) / 2
            comp.drift_ms = _pct(b.after, pct) - _pct(ref, pct)
        eff = k1 - k0
        if cc is not None and cr is not None:
            # too few paired seconds: the difference of the phases' merged percentiles
            comp.drift_ms = _pct(cc, pct) - _pct(cr, pct)
            point -= comp.drift_ms
            eff = eff - (draws(cc, "current") - draws(cr, "reference"))
        base = comp.reference_ms
        n = min(cur.n, ref.n)
    comp.effect_ms = confidence_interval(point, eff, s.confidence, n)
    if comp.method == "control":
        comp.raw_reference_ms, comp.raw_current_ms = comp.reference_ms, comp.current_ms
        comp.reference_ms, comp.current_ms = base, base + point
    with np.errstate(invalid="ignore", divide="ignore"):
        rel = eff / k0
    comp.ratio = confidence_interval(
        1 + point / base if base > 0 else np.nan, 1 + rel, s.confidence, n
    )
    return comp


#: A second takes part in a paired comparison when both sides have this many requests in it.
PAIR_MIN = 5


def _rows(
    block: SecondBlock, pct: float, cache: dict[tuple[object, ...], np.ndarray]
) -> np.ndarray:
    """The ``pct`` percentile of each second of ``block`` (ms), computed once per block."""
    key = (id(block), pct, "rows")
    got = cache.get(key)
    if got is None:
        got = cache[key] = block.hist.row_percentiles(pct) / 1000
    return got


#: Host stalls: a paired second whose control p95 is over the control's calm limit (below) is
#: left out of the paired comparison when at least this many calm seconds remain on each side.
CALM_MIN = 3
#: The calm limit: the median of the control's per-second percentiles in the reference plus
#: this many robust standard deviations (1.4826 x MAD) plus CALM_MARGIN_MS.
CALM_SIGMAS = 3.0
CALM_MARGIN_MS = 1.0


def _diffs(
    kind: SecondBlock,
    control: SecondBlock,
    pct: float,
    cache: dict[tuple[object, ...], np.ndarray],
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per second both report (PAIR_MIN requests each): the kind's p95 minus the control's,
    the kind's p95 and the control's p95 (ms)."""
    _, ik, ic = np.intersect1d(kind.seconds, control.seconds, return_indices=True)
    keep = (kind.count[ik] >= PAIR_MIN) & (control.count[ic] >= PAIR_MIN)
    pk = _rows(kind, pct, cache)[ik][keep]
    pc = _rows(control, pct, cache)[ic][keep]
    return pk - pc, pk, pc


def calm_limit(control_reference: np.ndarray) -> float:
    """Above this (ms) a second's control percentile is a host stall: the reference seconds'
    median + CALM_SIGMAS robust standard deviations + CALM_MARGIN_MS. Median and MAD, not a
    high quantile: under a CPU hog switched on 40 % of the time a 0.95 quantile is a stalled
    second itself, while the median and MAD stay those of the calm seconds."""
    med = float(np.median(control_reference))
    mad = float(np.median(np.abs(control_reference - med)))
    return med + CALM_SIGMAS * 1.4826 * mad + CALM_MARGIN_MS


def _calm(
    d1: np.ndarray, c1: np.ndarray, d0: np.ndarray, k0: np.ndarray, c0: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """The paired seconds without host stalls, and how many were left out (0 when too few calm
    seconds would remain on a side: then every second counts, and the noise widens the
    interval instead)."""
    limit = calm_limit(c0)
    m1, m0 = c1 <= limit, c0 <= limit
    if int(m1.sum()) < CALM_MIN or int(m0.sum()) < CALM_MIN:
        return d1, d0, k0, 0
    return d1[m1], d0[m0], k0[m0], int((~m1).sum() + (~m0).sum())


def _paired(
    cur: SecondBlock,
    ref: SecondBlock,
    cc: SecondBlock,
    cr: SecondBlock,
    pct: float,
    who: tuple[str, str],
    s: Settings,
    cache: dict[tuple[object, ...], np.ndarray],
) -> tuple[float, np.ndarray, np.ndarray, float, float, int] | None:
    """The difference in differences second by second: the median over the phase's seconds of
    (kind's p95 - control's p95 in that second), minus the same over the reference's seconds.
    A slow second that both share cancels in it exactly, and a second in which the control
    itself was stalled is left out (``_calm``). Returns (effect, its bootstrap samples,
    samples of the kind's reference level, that level, the control's change, the stalled
    seconds left out), or None with fewer than 2 paired seconds on a side. ``who``: (phase
    label, reference name)."""
    d1, _, c1 = _diffs(cur, cc, pct, cache)
    d0, k0, c0 = _diffs(ref, cr, pct, cache)
    if d1.size < 2 or d0.size < 2:
        return None
    # A second in which the control was stalled too (a CPU hog took the load generator, a
    # neighbour's burst hit every server) says nothing about the kind's own change: its two
    # percentiles are the stall's, and their difference is noise that only widens the interval.
    d1, d0, k0, stalled = _calm(d1, c1, d0, k0, c0)
    # Medians, not means: one stalled second (a 1.6 s p95 in a 20 s baseline of 2 ms seconds,
    # seen under neighbour noise) must not move the reference level, nor flip an effect's sign.
    label, ref_name = who
    m1 = resampled_medians(d1, rng_for(s.seed, label, ref_name, "paired"), s.resamples)
    m0, level = _reference_medians(d0, k0, ref_name, s, cache)
    drift = float(np.median(_rows(cc, pct, cache)) - np.median(_rows(cr, pct, cache)))
    effect = float(np.median(d1) - np.median(d0))
    return effect, m1 - m0, level, float(np.median(k0)), drift, stalled


def _reference_medians(
    d0: np.ndarray,
    k0: np.ndarray,
    ref_name: str,
    s: Settings,
    cache: dict[tuple[object, ...], np.ndarray],
) -> tuple[np.ndarray, np.ndarray]:
    """Per resample of the reference's paired seconds, the median of the differences ``d0``
    and of the kind's p95 ``k0`` (the same seconds for both: they are drawn together). They do
    not depend on the phase judged: drawn once per reference (keyed by its name and its values,
    whichever seconds were paired) and shared by every phase compared with it."""
    key = ("paired reference", ref_name, s.resamples, s.seed, d0.tobytes(), k0.tobytes())
    got = cache.get(key)
    if got is None:
        rng = rng_for(s.seed, ref_name, "paired reference")
        i0 = rng.integers(0, d0.size, size=(s.resamples, d0.size))
        got = cache[key] = np.stack([medians_of_draws(d0, i0), medians_of_draws(k0, i0)])
    return got[0], got[1]


@dataclass(frozen=True, slots=True)
class Bracket:
    """The seconds on both sides of a burst that no fault effect reaches: [a, b) each."""

    before: tuple[int, int]
    after: tuple[int, int] | None


def _span_words(span: tuple[int, int], t0: float) -> str:
    return f"{span[0] - t0:.0f}..{span[1] - t0:.0f} s"


def controlled(
    table: WindowTable,
    label: str,
    scope: Scope,
    s: Settings,
    control: list[str],
    bracket: Bracket | None,
    t0: float,
) -> Comparison:
    """``label`` against the baseline phase, drift-controlled: minus the change of the
    ``control`` kinds over the same phases, or (no control) against ``bracket``."""
    cur = table.select(scope, [label])
    base = table.select(scope, ["baseline"])
    cache = table.resamples
    if control:
        coh = Cohort(tuple(control))
        cc, cr = table.select(coh, [label]), table.select(coh, ["baseline"])
        if _enough(cc, s) and _enough(cr, s):
            blocks = Blocks(cur, base, cc, cr)
            return judge_blocks(
                blocks, label, scope.label, s, f"baseline, control {coh.label}", "control", cache
            )
    if bracket is not None:
        before = table.select(scope, span=bracket.before)
        after = None if bracket.after is None else table.select(scope, span=bracket.after)
        if _enough(before, s) and (after is None or _enough(after, s)):
            words = f"bracket {_span_words(bracket.before, t0)}"
            if after is not None:
                words += f" and {_span_words(bracket.after or (0, 0), t0)}"
            return judge_blocks(
                Blocks(cur, before, after=after), label, scope.label, s, words, "bracket", cache
            )
    return judge_blocks(Blocks(cur, base), label, scope.label, s, "baseline", "baseline", cache)
