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

from analysis.stats.hdr import DenseBlock, percentile_of_cum
from analysis.stats.table import SecondBlock


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
    return rng.multinomial(n, np.full(n, 1.0 / n), size=resamples).astype(np.float64)


def _resampled_percentiles(
    hist: DenseBlock, pct: float, rng: np.random.Generator, resamples: int
) -> np.ndarray:
    w = _weights(rng, hist.counts.shape[0], resamples)
    merged = w @ hist.counts  # (resamples, bins)
    return percentile_of_cum(np.cumsum(merged, axis=1), pct, hist.values)


def _aligned(a: SecondBlock, b: SecondBlock) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Both blocks' counts over the union of their bins."""
    values = np.union1d(a.hist.values, b.hist.values)
    ca = np.zeros((a.n, values.size))
    cb = np.zeros((b.n, values.size))
    ca[:, np.searchsorted(values, a.hist.values)] = a.hist.counts
    cb[:, np.searchsorted(values, b.hist.values)] = b.hist.counts
    return values, ca, cb


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


def percentile_ratio(
    current: SecondBlock,
    reference: SecondBlock,
    pct: float,
    *,
    rng: np.random.Generator,
    resamples: int,
    confidence: float,
) -> Interval:
    """The ``pct`` percentile of ``current`` over that of ``reference``, with its interval."""
    values, cc, cr = _aligned(current, reference)
    cur, ref = DenseBlock(values, cc), DenseBlock(values, cr)
    point = cur.merged_percentile(pct) / ref.merged_percentile(pct)
    num = _resampled_percentiles(cur, pct, rng, resamples)
    den = _resampled_percentiles(ref, pct, rng, resamples)
    return _interval(float(point), num / den, confidence, min(current.n, reference.n))


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
