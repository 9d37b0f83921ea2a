"""Exact HDR percentiles, and HDR histograms as numpy arrays (bin layout, sparse conversion).

The one place percentiles of HDR histograms are computed: by the recorder side (``percentiles``
of one histogram, for the InfluxDB window points) and by the statistics (``percentile_of_cum``
on merged or resampled count vectors). Both follow ``HdrHistogram.get_value_at_percentile``
exactly (for a percentile above 0: the highest value equivalent to the bucket where the
cumulative count first reaches ``max(int(p * total / 100 + 0.5), 1)``), but with numpy:
``hdrh``'s own walks the 23 552 counters in Python (~10 ms a call).
"""

from __future__ import annotations

import base64
import binascii
import struct
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any

import numpy as np
from hdrh.histogram import HdrHistogram
from pyhdrh import decode as varint_decode  # hdrh's own C decoder of the counts

from chaosbench.analysis.model import (
    HDR_HIGHEST_US,
    HDR_LOWEST_US,
    HDR_SIGNIFICANT_DIGITS,
    new_histogram,
)
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


@cache
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
    """The non-zero bins of ``h``; a loaded (lazy) histogram gives the ones it holds."""
    held = getattr(h, "_lz_sparse", None)
    if isinstance(held, Sparse):
        return held
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


class DenseBlock:
    """Histograms of several units (seconds) over a shared set of bins: rows x bins.

    Kept as sparse entries (row, bin index, count), compact (int32 rows and counts, int16
    bins): percentiles of the merge or of each row are taken from them directly, with integer
    (exact) running sums; the dense layout over the bins used (``counts``) is built only when
    asked for. Entries are sorted by (row, bin) once, in place, when a per-row statistic first
    needs it.
    """

    __slots__ = (
        "_bin",
        "_col",
        "_count",
        "_counts",
        "_row",
        "_totals",
        "_used",
        "n_rows",
        "samples",
    )

    def __init__(self, n_rows: int, row: IntArray, bin_index: IntArray, count: np.ndarray) -> None:
        self.n_rows = n_rows
        self._row = np.asarray(row, dtype=np.int32)  # the row of each entry
        self._bin = np.asarray(bin_index, dtype=np.int16)  # counts index (< 23 552)
        count = np.asarray(count)
        small = count.size == 0 or int(count.max()) < 2**31
        self._count = count.astype(np.int32 if small else np.int64)  # > 0
        self._used: IntArray | None = None
        self._col: IntArray | None = None  # column of each entry once sorted
        self._totals: np.ndarray | None = None
        self._counts: np.ndarray | None = None
        #: bootstrap samples drawn from this block (``stats.bootstrap``), by settings and seed
        self.samples: dict[tuple[object, ...], tuple[np.ndarray, Mapping[str, Any]]] = {}

    def _used_bins(self) -> IntArray:
        if self._used is None:
            flags = np.zeros(counts_len(), dtype=bool)
            flags[self._bin] = True
            self._used = np.flatnonzero(flags)
        return self._used

    @property
    def n_bins(self) -> int:
        return int(self._used_bins().size)

    def entries(self) -> tuple[IntArray, IntArray, IntArray]:
        """(row, column, count) of every entry, sorted by row then column; the column indexes
        ``values`` (the used bins)."""
        if self._col is None:
            key = self._row.astype(np.int64) * counts_len() + self._bin
            if key.size > 1 and not bool((key[1:] >= key[:-1]).all()):
                order = np.argsort(key, kind="stable")
                self._row, self._bin, self._count = (
                    self._row[order],
                    self._bin[order],
                    self._count[order],
                )
            used = self._used_bins()
            column = np.zeros(counts_len(), dtype=np.int32)
            column[used] = np.arange(used.size, dtype=np.int32)
            self._col = column[self._bin]
        return self._row, self._col, self._count

    def row_totals(self) -> np.ndarray:
        """(rows,) float64 count of each row."""
        if self._totals is None:
            self._totals = np.bincount(self._row, weights=self._count, minlength=self.n_rows)
            self._totals.flags.writeable = False
        return self._totals

    def first_column_reaching(self, ranks: np.ndarray) -> IntArray:
        """Per row, the first column where the row's running count reaches ``ranks[row]``
        (each between 1 and the row's total; rows with a total of 0 give 0)."""
        _, col, count = self.entries()
        totals = self.row_totals()
        cum = np.cumsum(count, dtype=np.int64)
        before = np.cumsum(totals) - totals
        live = totals > 0
        out = np.zeros(self.n_rows, dtype=np.int64)
        out[live] = col[np.searchsorted(cum, before[live] + ranks[live], side="left")]
        return out

    @property
    def values(self) -> np.ndarray:
        """(bins,) highest equivalent value of each used bin, µs."""
        return bin_values()[1][self._used_bins()]

    @property
    def counts(self) -> np.ndarray:
        """(rows, bins) float64 counts over the used bins."""
        if self._counts is None:
            used = self._used_bins()
            col = np.zeros(counts_len(), dtype=np.int64)
            col[used] = np.arange(used.size)
            flat = np.bincount(
                self._row.astype(np.int64) * used.size + col[self._bin],
                weights=self._count,
                minlength=self.n_rows * used.size,
            )
            self._counts = flat.reshape(self.n_rows, used.size)
        return self._counts

    def merged_percentile(self, pct: float) -> float:
        if self.n_rows == 0 or self._bin.size == 0:
            return float("nan")
        per_bin = np.bincount(self._bin, weights=self._count, minlength=counts_len())
        used = self._used_bins()
        cum = np.cumsum(per_bin[used])
        return float(percentile_of_cum(cum, pct, bin_values()[1][used]))

    def row_percentiles(self, pct: float) -> np.ndarray:
        """The percentile of each row (NaN for an empty row), as ``percentile_of_cum`` of each
        row's cumulative counts: the first bin where a row's running count reaches the target."""
        out = np.full(self.n_rows, np.nan)
        if self._bin.size == 0:
            return out
        totals = self.row_totals()
        live = totals > 0
        col = self.first_column_reaching(np.where(live, target_count(pct, totals), 0))
        out[live] = self.values[col[live]].astype(np.float64)
        return out

    def max_value(self) -> float:
        if self._bin.size == 0:
            return float("nan")
        return float(bin_values()[1][int(self._bin.max())])

    def min_value(self) -> float:
        """The lowest equivalent value of the lowest bin in use (``get_min_value``), µs."""
        if self._bin.size == 0:
            return float("nan")
        return float(bin_values()[0][int(self._bin.min())])

    def mean_value(self) -> float:
        """The mean of the merge as ``get_mean_value``: each bin counts at its median equivalent
        value (its lowest value + half its range), µs."""
        if self._bin.size == 0:
            return float("nan")
        lo, hi = bin_values()
        used = self._used_bins()
        per_bin = np.bincount(self._bin, weights=self._count, minlength=counts_len())[used]
        median_eq = lo[used] + ((hi[used] - lo[used] + 1) >> 1)
        return float((per_bin * median_eq).sum() / per_bin.sum())


def dense(rows: list[list[Sparse]]) -> DenseBlock:
    """Merge each row's sparse histograms: one row per list (the bins laid out on first use)."""
    parts = [(i, s) for i, row in enumerate(rows) for s in row]
    if not parts:
        empty = np.zeros(0, dtype=np.int64)
        return DenseBlock(len(rows), empty, empty, np.zeros(0))
    return DenseBlock(
        len(rows),
        np.concatenate([np.full(s.index.size, i, dtype=np.int64) for i, s in parts]),
        np.concatenate([s.index for _, s in parts]),
        np.concatenate([s.count for _, s in parts]).astype(np.float64),
    )


_EXT_HEADER = struct.Struct(">II")  # cookie, length of the compressed payload
_PAYLOAD_HEADER = struct.Struct(">IIIIQQd")  # cookie, payload length, offset, digits, lo, hi, ratio
_V2_COMPRESSION_COOKIE = 0x1C849304
_V2_ENCODING_COOKIE = 0x1C849303


def decode_sparse(text: str | bytes, scratch: np.ndarray | None = None) -> Sparse:
    """The non-zero bins of one base64 V2-compressed HDR histogram (as ``HdrHistogram.encode``
    writes), without building an ``HdrHistogram`` (23 552 counters and an encoder each).

    ``ValueError`` says what is wrong: not base64, a foreign cookie or length, a zlib error,
    or a layout other than the standard one (1 µs .. 1 h, 3 significant digits).
    ``scratch``: a zeroed int64 array of ``counts_len()`` to decode into (left zeroed), so that
    decoding many histograms does not allocate 188 KB for each.
    """
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ValueError(f"not base64 ({exc})") from None
    if len(raw) < _EXT_HEADER.size:
        raise ValueError("too short for an HDR histogram")
    cookie, length = _EXT_HEADER.unpack_from(raw)
    if cookie & ~0xF0 != _V2_COMPRESSION_COOKIE:
        raise ValueError(f"not a compressed V2 HDR histogram (cookie {cookie:#x})")
    if length != len(raw) - _EXT_HEADER.size:
        raise ValueError(f"length {length} but {len(raw) - _EXT_HEADER.size} bytes follow")
    try:
        data = zlib.decompress(raw[_EXT_HEADER.size :])
    except zlib.error as exc:
        raise ValueError(f"zlib: {exc}") from None
    if len(data) < _PAYLOAD_HEADER.size:
        raise ValueError("decompressed payload too short")
    cookie, plen, offset, digits, lowest, highest, _ = _PAYLOAD_HEADER.unpack_from(data)
    if cookie & ~0xF0 != _V2_ENCODING_COOKIE:
        raise ValueError(f"not a V2 HDR payload (cookie {cookie:#x})")
    if (lowest, highest, digits, offset) != (
        HDR_LOWEST_US,
        HDR_HIGHEST_US,
        HDR_SIGNIFICANT_DIGITS,
        0,
    ):
        raise ValueError(
            f"HDR layout {lowest} .. {highest}, {digits} digits, expected "
            f"{HDR_LOWEST_US} .. {HDR_HIGHEST_US} µs, {HDR_SIGNIFICANT_DIGITS} significant digits"
        )
    if plen > len(data) - _PAYLOAD_HEADER.size:
        raise ValueError("payload shorter than its header says")
    counts = np.zeros(counts_len(), dtype=np.int64) if scratch is None else scratch
    try:
        done = varint_decode(data, _PAYLOAD_HEADER.size, counts.ctypes.data, counts.size, 8)
    except Exception as exc:  # the C decoder raises several types on bad input
        counts[:] = 0
        raise ValueError(f"bad counts ({exc})") from None
    if not done["total"]:
        counts[:] = 0
        empty = np.zeros(0, dtype=np.int64)
        return Sparse(empty, empty)
    lo, hi = int(done["min_nonzero_index"]), int(done["max_nonzero_index"])
    part = counts[lo : hi + 1]
    idx = np.flatnonzero(part)
    out = Sparse(idx + lo, part[idx])
    part[:] = 0
    return out


def merge_sparse(parts: Sequence[Sparse]) -> Sparse:
    """One histogram holding all of ``parts``."""
    if len(parts) == 1:
        return parts[0]
    index = np.concatenate([p.index for p in parts])
    used, inv = np.unique(index, return_inverse=True)
    count = np.bincount(inv, weights=np.concatenate([p.count for p in parts]), minlength=used.size)
    return Sparse(used.astype(np.int64), count.astype(np.int64))


def to_histogram(s: Sparse) -> HdrHistogram:
    """A standard ``HdrHistogram`` holding ``s``."""
    h = new_histogram()
    if s.index.size:
        arr = np.ctypeslib.as_array(h.counts)
        arr[s.index] = s.count
        h.set_internal_tacking_values(int(s.index[0]), int(s.index[-1]), int(s.count.sum()))
    return h
