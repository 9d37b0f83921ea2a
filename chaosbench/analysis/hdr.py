"""Exact HDR percentiles, and HDR histograms as numpy arrays (bin layout, sparse conversion).

The one place percentiles of HDR histograms are computed: by the recorder side (``percentiles``
of one histogram, for the InfluxDB window points) and by the statistics (``percentile_of_cum``
on merged or resampled count vectors). Both follow ``HdrHistogram.get_value_at_percentile``
exactly (for a percentile above 0: the highest value equivalent to the bucket where the
cumulative count first reaches ``max(int(p * total / 100 + 0.5), 1)``), but with numpy:
``hdrh``'s own walks the 23 552 counters in Python (~10 ms a call).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache

import numpy as np
from hdrh.histogram import HdrHistogram

from chaosbench.analysis.model import new_histogram
from chaosbench.ground.errors import RunDirError

IntArray = np.ndarray


@cache
def bin_values() -> tuple[IntArray, IntArray]:
    """(lowest, highest) equivalent value of every counts index of the standard layout, in µs."""
    h = new_histogram()
    lo = np.empty(h.counts_len, dtype=np.int64)
    hi = np.empty(h.counts_len, dtype=np.int64)
    for i in range(h.counts_len):
        v = h.get_value_from_index(i)
        lo[i] = h.get_lowest_equivalent_value(v)
        hi[i] = h.get_highest_equivalent_value(v)
    return lo, hi


def counts_len() -> int:
    return len(bin_values()[1])


@dataclass(slots=True)
class Sparse:
    """The non-zero bins of one histogram: counts index -> count."""

    index: IntArray  # int64, ascending
    count: IntArray  # int64

    @property
    def total(self) -> int:
        return int(self.count.sum())


def to_sparse(h: HdrHistogram, where: str = "histogram") -> Sparse:
    if h.counts_len != counts_len():
        raise RunDirError(
            f"{where}: HDR layout of {h.counts_len} bins, expected {counts_len()} "
            "(1 µs .. 1 h, 3 significant digits)"
        )
    arr = np.ctypeslib.as_array(h.counts)
    idx = np.flatnonzero(arr)
    return Sparse(idx.astype(np.int64), arr[idx].astype(np.int64))


def from_values_us(values: np.ndarray) -> HdrHistogram:
    """A standard histogram holding ``values`` (µs), built without a Python loop per value."""
    h = new_histogram()
    v = np.clip(np.asarray(values, dtype=np.int64), 1, None)
    if v.size == 0:
        return h
    idx = np.searchsorted(bin_values()[1], v, side="left")
    idx = np.minimum(idx, counts_len() - 1)
    binc = np.bincount(idx, minlength=counts_len())
    arr = np.ctypeslib.as_array(h.counts)
    arr += binc.astype(arr.dtype)
    nz = np.flatnonzero(arr)
    h.set_internal_tacking_values(int(nz[0]), int(nz[-1]), int(arr.sum()))
    return h


def target_count(pct: float | np.ndarray, total: float | np.ndarray) -> np.ndarray:
    """The count a percentile's bucket must reach, as ``get_target_count_at_percentile``."""
    return np.maximum(np.floor(np.minimum(pct, 100.0) * total / 100.0 + 0.5), 1)


def percentiles(h: HdrHistogram, ps: Sequence[float]) -> list[int]:
    """Values (µs) at the percentiles ``ps`` (each > 0) of one histogram, one cumulative sum for
    all of them; 0 for an empty histogram (as hdrh)."""
    total = h.get_total_count()
    if total == 0:
        return [0 for _ in ps]
    top = min(h._counts_index_for(h.max_value) + 1, h.counts_len)  # nothing is counted above
    cum = np.cumsum(np.frombuffer(h.counts, dtype=np.int64, count=top))
    targets = target_count(np.asarray(ps, dtype=np.float64), total)
    indexes = np.minimum(np.searchsorted(cum, targets, side="left"), top - 1)
    return [int(h.get_highest_equivalent_value(h.get_value_from_index(i))) for i in indexes]


def percentile_of_cum(cum: np.ndarray, pct: float, values: np.ndarray) -> np.ndarray:
    """Percentile(s) from cumulative counts along the last axis.

    ``cum``: (..., bins) cumulative counts; ``values``: (bins,) highest equivalent values.
    Returns NaN where the total is zero. Same rounding as HdrHistogram.
    """
    total = cum[..., -1] if cum.shape[-1] else np.zeros(cum.shape[:-1])
    target = target_count(pct, total)
    pos = (cum < target[..., None]).sum(axis=-1)
    pos = np.minimum(pos, max(cum.shape[-1] - 1, 0))
    out = values[pos].astype(np.float64) if cum.shape[-1] else np.full(total.shape, np.nan)
    return np.where(total > 0, out, np.nan)


@dataclass(slots=True)
class DenseBlock:
    """Histograms of several units (seconds) over a shared set of bins: rows x bins."""

    values: np.ndarray  # (bins,) highest equivalent value of each used bin, µs
    counts: np.ndarray  # (rows, bins) float64 counts

    def merged_percentile(self, pct: float) -> float:
        if self.counts.size == 0:
            return float("nan")
        cum = np.cumsum(self.counts.sum(axis=0))
        return float(percentile_of_cum(cum, pct, self.values))

    def row_percentiles(self, pct: float) -> np.ndarray:
        if self.counts.shape[1] == 0:
            return np.full(self.counts.shape[0], np.nan)
        return percentile_of_cum(np.cumsum(self.counts, axis=1), pct, self.values)

    def max_value(self) -> float:
        used = np.flatnonzero(self.counts.sum(axis=0))
        return float(self.values[used[-1]]) if used.size else float("nan")


def dense(rows: list[list[Sparse]]) -> DenseBlock:
    """Merge each row's sparse histograms and lay all rows out over the union of their bins."""
    parts = [s for row in rows for s in row]
    if not parts:
        return DenseBlock(np.zeros(0, dtype=np.int64), np.zeros((len(rows), 0)))
    index = np.concatenate([s.index for s in parts])
    count = np.concatenate([s.count for s in parts])
    row_of = np.repeat(
        np.repeat(np.arange(len(rows)), [len(r) for r in rows]), [s.index.size for s in parts]
    )
    used, col = np.unique(index, return_inverse=True)
    flat = np.bincount(row_of * used.size + col, weights=count, minlength=len(rows) * used.size)
    return DenseBlock(bin_values()[1][used], flat.reshape(len(rows), used.size))
