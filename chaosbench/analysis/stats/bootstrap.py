"""Bootstrap over per-second windows: resample seconds, merge their histograms, take a statistic.

Seconds (not single requests) are the resampling unit, because requests in one second share
their conditions (a GC pause, a stalled connection) and are not independent.
"""

from __future__ import annotations

import math
import zlib
from dataclasses import dataclass

import numpy as np

from chaosbench.analysis.hdr import DenseBlock
from chaosbench.analysis.stats.table import SecondBlock
from chaosbench.analysis.stats.tdist import normal_sf, t_quantile


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
    draws = rng.integers(0, n, size=(resamples, n))
    draws += (np.arange(resamples) * n)[:, None]  # in place: unit i of resample r is r * n + i
    return np.bincount(draws.ravel(), minlength=resamples * n).reshape(resamples, n).astype(float)


def _sum_of(w: np.ndarray, per_unit: np.ndarray) -> np.ndarray:
    """Per resample, the sum of ``per_unit`` over its draws (``w @ per_unit``) without BLAS,
    whose threads spin for CPU on a shared machine (the counts are integers: exact either way)."""
    return np.einsum("ij,j->i", w, per_unit)


def _resampled_percentiles(
    hist: DenseBlock, pct: float, rng: np.random.Generator, resamples: int
) -> np.ndarray:
    """The ``pct`` percentile of each bootstrap resample of the rows of ``hist``.

    Kept per block for the generator's state: asked again (the same comparison at another
    confidence, for another criterion or a report), the samples are the same, the generator is
    moved on to where drawing them would have left it, and nothing is drawn twice.
    """
    key = (pct, resamples, str(rng.bit_generator.state))
    hit = hist.samples.get(key)
    if hit is not None:
        rng.bit_generator.state = hit[1]
        return hit[0].copy()
    out = _draw_percentiles(hist, pct, rng, resamples)
    hist.samples[key] = (out.copy(), rng.bit_generator.state)
    return out


def _draw_percentiles(
    hist: DenseBlock, pct: float, rng: np.random.Generator, resamples: int
) -> np.ndarray:
    """The percentile of a merge of histograms lies between the smallest and the largest
    percentile of its parts, so only the bins in that range [lo, hi] take part: their
    cumulative counts per row (everything below lo included) are laid out from the sparse
    entries, and each resample's bin is found by bisection over them (``_first_reaching``).
    """
    n = hist.n_rows
    w = _weights(rng, n, resamples)
    if hist.n_bins == 0:
        return np.full(resamples, np.nan)
    totals = hist.row_totals()
    live = totals > 0
    if not live.any():
        return np.full(resamples, np.nan)
    # Rank bounds per row that bracket the merged target rank whatever the weights (with
    # HdrHistogram's rounding of the target: floor(p * total / 100 + 0.5)).
    r_lo = np.maximum(np.ceil(pct * totals / 100.0 - 0.5), 1)
    r_hi = np.minimum(np.ceil(pct * totals / 100.0 + 0.5), totals)
    lo = max(int(hist.first_column_reaching(r_lo)[live].min()) - 1, 0)
    hi = min(int(hist.first_column_reaching(r_hi)[live].max()) + 1, hist.n_bins - 1)
    row, col, count = hist.entries()
    inside = (col >= lo) & (col <= hi)
    width = hi - lo + 1
    sub = np.bincount(
        row[inside] * width + (col[inside] - lo), weights=count[inside], minlength=n * width
    ).reshape(n, width)
    below = np.bincount(row[col < lo], weights=count[col < lo], minlength=n)
    cum = np.cumsum(sub, axis=1) + below[:, None]  # cumulative counts at bins lo .. hi
    merged = _sum_of(w, totals)
    t = np.maximum(np.floor(pct * merged / 100.0 + 0.5), 1)
    exact32 = merged.max() < 2**24  # every sum below is an integer under 2**24: float32 exact
    idx = lo + _first_reaching(w, cum, t, np.float32 if exact32 else np.float64)
    out = hist.values[np.minimum(idx, hist.n_bins - 1)].astype(np.float64)
    return np.where(merged > 0, out, np.nan)


def _first_reaching(
    w: np.ndarray, cum: np.ndarray, t: np.ndarray, dtype: type[np.floating]
) -> np.ndarray:
    """Per resample r, the first column k where its merged cumulative count
    ``w[r] @ cum[:, k]`` reaches ``t[r]`` (the number of columns where none does), by bisection.

    The merged cumulative count rises with k, so bisection finds the column a scan of every
    column would, in log2(columns) steps of one (resamples x seconds) product each instead of
    a (resamples x seconds) @ (seconds x columns) product. Counts are integers and every sum
    stays exact in ``dtype`` (the caller checks), so the column is the same, bit for bit.
    """
    r, width = w.shape[0], cum.shape[1]
    cum_t = np.ascontiguousarray(cum.T, dtype=dtype)  # (columns, seconds)
    wd = w.astype(dtype)
    left = np.zeros(r, dtype=np.int64)
    right = np.full(r, width, dtype=np.int64)
    for _ in range(int(width).bit_length()):
        mid = np.minimum((left + right) // 2, width - 1)
        reached = np.einsum("ij,ij->i", wd, cum_t[mid]) >= t
        open_ = left < right
        right = np.where(open_ & reached, mid, right)
        left = np.where(open_ & ~reached, mid + 1, left)
    return left


def resampled_medians(values: np.ndarray, rng: np.random.Generator, resamples: int) -> np.ndarray:
    """The median of each of ``resamples`` bootstrap resamples of ``values``, drawn exactly
    from the resampled order statistics instead of by resampling.

    A resample of n values is ``sorted[floor(n * U_i)]`` for n uniforms U_i, a rising map, so
    its k-th smallest value is ``sorted[floor(n * U_(k))]``, and the uniforms' k-th order
    statistic U_(k) is Beta(k, n + 1 - k). The median is the (m+1)-th (n = 2m + 1) or the mean
    of the m-th and the (m+1)-th (n = 2m): U_(m+1) = U_(m) + (1 - U_(m)) * Beta(1, n - m), the
    first of the other n - m uniforms above U_(m). The same distribution as ``np.median`` over
    resampled rows (ties and even n included), in O(resamples) instead of O(resamples * n).
    """
    ordered = np.sort(values)
    n = ordered.size
    m = n // 2

    def at(u: np.ndarray) -> np.ndarray:
        return ordered[np.minimum((u * n).astype(np.int64), n - 1)]

    if n % 2:
        return at(rng.beta(m + 1, n - m, size=resamples)).astype(np.float64)
    low = rng.beta(m, m + 1, size=resamples)
    high = low + (1 - low) * rng.beta(1, n - m, size=resamples)
    return (at(low) + at(high)) / 2


def medians_of_draws(values: np.ndarray, draws: np.ndarray) -> np.ndarray:
    """``np.median(values[draws], axis=1)``, bit for bit, about twice as fast: the medians are
    selected among the values' ranks (small integers) and mapped back to the values."""
    n = values.size
    if n >= 2**15 or not np.isfinite(values).all():
        return np.median(values[draws], axis=1)
    order = np.argsort(values, kind="stable")
    rank = np.empty(n, dtype=np.int16)
    rank[order] = np.arange(n, dtype=np.int16)
    ordered = values[order]
    k = draws.shape[1]
    m = k // 2
    if k % 2:
        return ordered[np.partition(rank[draws], m, axis=1)[:, m]]
    part = np.partition(rank[draws], [m - 1, m], axis=1)
    return (ordered[part[:, m - 1]] + ordered[part[:, m]]) / 2


def expanded_tail(confidence: float, n: int) -> float:
    """Two-sided tail (percent per side) of Hesterberg's expanded percentile interval.

    The plain percentile bootstrap is too narrow with few resampling units (here: seconds);
    the expanded interval widens it as a t interval would: z = sqrt(n / (n - 1)) * t(n - 1).
    """
    alpha = 1 - confidence
    if n < 2:
        return alpha / 2 * 100
    z = math.sqrt(n / (n - 1)) * t_quantile(1 - alpha / 2, n - 1)
    return normal_sf(z) * 100


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
        samples = _sum_of(w, numerator) / _sum_of(w, count)
    return _interval(point, samples, confidence, int(count.size))
