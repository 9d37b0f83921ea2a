"""Bootstrap over per-second windows: resample seconds, merge their histograms, take a statistic.

Seconds (not single requests) are the resampling unit, because requests in one second share
their conditions (a GC pause, a stalled connection) and are not independent.
"""

from __future__ import annotations

import math
import zlib
from dataclasses import dataclass

import numpy as np
from scipy.stats import norm
from scipy.stats import t as student_t

from chaosbench.analysis.hdr import DenseBlock
from chaosbench.analysis.stats.table import SecondBlock


@dataclass(frozen=True, slots=True)
class Interval:
    value: float  # point estimate on all the data
    low: float
    high: float
    confidence: float


def rng_for(seed: int, *labels: str) -> np.random.Generator:
    """A generator that depends on the seed and the labels only (not on evaluation order)."""
    return np.random.default_rng([seed, zlib.crc32("/".join(labels).encode())])


def _weights(rng: np.random.Generator, n: int, resamples: int) -> np.ndarray:
    """(resamples, n) counts of how often each unit is drawn (n draws with replacement)."""
    draws = rng.integers(0, n, size=(resamples, n)) + (np.arange(resamples) * n)[:, None]
    return np.bincount(draws.ravel(), minlength=resamples * n).reshape(resamples, n).astype(float)


def _resampled_percentiles(
    hist: DenseBlock, pct: float, rng: np.random.Generator, resamples: int
) -> np.ndarray:
    """The ``pct`` percentile of each bootstrap resample of the rows of ``hist``.

    The percentile of a merge of histograms lies between the smallest and the largest
    percentile of its parts, so only the bins in that range (plus one column holding
    everything below it) take part in the resampling: far fewer than all the bins.
    """
    counts = hist.counts
    n = counts.shape[0]
    w = _weights(rng, n, resamples)
    if counts.shape[1] == 0:
        return np.full(resamples, np.nan)
    cum = np.cumsum(counts, axis=1)
    totals = cum[:, -1]
    live = totals > 0
    if not live.any():
        return np.full(resamples, np.nan)
    # Rank bounds per row that bracket the merged target rank whatever the weights (with
    # HdrHistogram's rounding of the target: floor(p * total / 100 + 0.5)).
    r_lo = np.maximum(np.ceil(pct * totals / 100.0 - 0.5), 1)
    r_hi = np.minimum(np.ceil(pct * totals / 100.0 + 0.5), totals)
    pos_lo = (cum[live] < r_lo[live, None]).sum(axis=1)
    pos_hi = (cum[live] < r_hi[live, None]).sum(axis=1)
    lo = max(int(pos_lo.min()) - 1, 0)
    hi = min(int(pos_hi.max()) + 1, counts.shape[1] - 1)
    below = cum[:, lo - 1] if lo > 0 else np.zeros(n)
    part = np.cumsum(w @ counts[:, lo : hi + 1], axis=1) + (w @ below)[:, None]
    t = np.maximum(np.floor(pct * (w @ totals) / 100.0 + 0.5), 1)
    idx = np.minimum(lo + (part < t[:, None]).sum(axis=1), counts.shape[1] - 1)
    out = hist.values[idx].astype(np.float64)
    return np.where(w @ totals > 0, out, np.nan)


def expanded_tail(confidence: float, n: int) -> float:
    """Two-sided tail (percent per side) of Hesterberg's expanded percentile interval.

    The plain percentile bootstrap is too narrow with few resampling units (here: seconds);
    the expanded interval widens it as a t interval would: z = sqrt(n / (n - 1)) * t(n - 1).
    """
    alpha = 1 - confidence
    if n < 2:
        return alpha / 2 * 100
    z = math.sqrt(n / (n - 1)) * float(student_t.ppf(1 - alpha / 2, n - 1))
    return float(norm.sf(z)) * 100


def _interval(point: float, samples: np.ndarray, confidence: float, n: int) -> Interval:
    samples = samples[np.isfinite(samples)]
    if samples.size == 0:
        return Interval(point, float("nan"), float("nan"), confidence)
    tail = expanded_tail(confidence, n)
    lo, hi = np.percentile(samples, [tail, 100 - tail])
    return Interval(point, float(lo), float(hi), confidence)


def confidence_interval(point: float, samples: np.ndarray, confidence: float, n: int) -> Interval:
    """The expanded percentile interval of bootstrap ``samples`` over ``n`` resampled units."""
    return _interval(point, samples, confidence, n)


def resampled(
    block: SecondBlock, pct: float, *, rng: np.random.Generator, resamples: int
) -> np.ndarray:
    """The ``pct`` percentile (µs) of ``resamples`` bootstrap resamples of ``block``'s seconds."""
    return _resampled_percentiles(block.hist, pct, rng, resamples)


def percentile_ratio(
    current: SecondBlock,
    reference: SecondBlock,
    pct: float,
    *,
    rng: np.random.Generator,
    resamples: int,
    confidence: float,
    reference_samples: np.ndarray | None = None,
) -> Interval:
    """The ``pct`` percentile of ``current`` over that of ``reference``, with its interval.

    ``reference_samples``: the reference's resampled percentiles when already computed (one
    baseline is compared with many phases).
    """
    point = current.hist.merged_percentile(pct) / reference.hist.merged_percentile(pct)
    num = _resampled_percentiles(current.hist, pct, rng, resamples)
    den = reference_samples
    if den is None:
        den = _resampled_percentiles(reference.hist, pct, rng, resamples)
    with np.errstate(invalid="ignore", divide="ignore"):
        ratios = num / den
    return _interval(float(point), ratios, confidence, min(current.n, reference.n))


def percentile(
    block: SecondBlock, pct: float, *, rng: np.random.Generator, resamples: int, confidence: float
) -> Interval:
    """The ``pct`` percentile of ``block`` (µs) with its interval."""
    point = block.hist.merged_percentile(pct)
    samples = _resampled_percentiles(block.hist, pct, rng, resamples)
    return _interval(point, samples, confidence, block.n)


def rate(
    numerator: np.ndarray,
    count: np.ndarray,
    *,
    rng: np.random.Generator,
    resamples: int,
    confidence: float,
) -> Interval:
    """sum(numerator) / sum(count) over seconds (failures, deadline misses), with its interval."""
    total = float(count.sum())
    point = float(numerator.sum()) / total if total else float("nan")
    w = _weights(rng, count.size, resamples)
    with np.errstate(invalid="ignore", divide="ignore"):
        samples = (w @ numerator) / (w @ count)
    return _interval(point, samples, confidence, int(count.size))
