"""One second of one key while open (``WindowAccumulator``) and once closed (``ClosedWindow``).

An open window keeps the raw response times in two lists (successes, failures): appending is the
cheapest thing a request can cost, and a list of a few thousand ints is far smaller than an HDR
histogram (188 KB of counters each at 1 µs..1 h, 3 digits). Closing builds the histograms.
Windows received from workers arrive as histograms and are merged with ``HdrHistogram.add``.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from hdrh.histogram import HdrHistogram

from chaosbench.analysis.model import HDR_HIGHEST_US, Window, WindowKey, new_histogram

#: Far beyond any histogram's range (HDR_HIGHEST_US is below 2**32) and exact in a float64:
#: larger values are cut to it first, then clamped like every value beyond the range.
_CUT = 1 << 40


def _indexes(h: HdrHistogram, a: Any) -> Any:
    """hdrh's counts index of each value (``HdrHistogram._counts_index_for``, vectorised)."""
    # the bucket: the bit length of (value | mask), which is frexp's exponent (exact < 2**53)
    bucket = np.frexp((a | h.sub_bucket_mask).astype(np.float64))[1].astype(np.int64)
    bucket -= h.unit_magnitude + h.sub_bucket_half_count_magnitude + 1
    sub = a >> (bucket + h.unit_magnitude)
    return ((bucket + 1) << h.sub_bucket_half_count_magnitude) + sub - h.sub_bucket_half_count


def _record_all(h: HdrHistogram, values: list[int]) -> None:
    """Record every value (all >= 1) as ``h.record_value`` would one by one, a value beyond the
    range clamped to ``HDR_HIGHEST_US`` rather than lost.

    In numpy, into hdrh's counters in place: ``record_value`` is a dozen Python calls, and
    called per sample it was most of the recording's cost. tests/analysis/test_recorder.py
    pins the result to ``record_value``'s.
    """
    try:
        a = np.minimum(np.asarray(values, dtype=np.int64), _CUT)
    except OverflowError:  # beyond 64 bits: beyond the range all the same
        a = np.asarray([min(v, _CUT) for v in values], dtype=np.int64)
    index = _indexes(h, a)
    beyond = index >= h.counts_len
    if beyond.any():
        a[beyond] = HDR_HIGHEST_US
        index = _indexes(h, a)
    counts = np.ctypeslib.as_array(h.counts)
    if len(a) * 8 >= h.counts_len:
        counts += np.bincount(index, minlength=h.counts_len).astype(counts.dtype)
    else:
        np.add.at(counts, index, 1)
    h.total_count += len(a)
    h.min_value = min(h.min_value, int(a.min()))
    h.max_value = max(h.max_value, int(a.max()))


def _encode(h: HdrHistogram | None) -> str | None:
    if h is None or h.get_total_count() == 0:
        return None
    return bytes(h.encode()).decode("ascii")


def _decode(text: Any, what: str) -> HdrHistogram | None:
    if text is None:
        return None
    if not isinstance(text, str):
        raise ValueError(f"{what} is not a string")
    try:
        base64.b64decode(text, validate=True)
        return HdrHistogram.decode(text.encode("ascii"))
    except Exception as exc:  # hdrh raises several unrelated types on bad input
        raise ValueError(f"{what} is not a valid HDR histogram encoding ({exc})") from None


@dataclass(slots=True)
class ClosedWindow:
    """A closed window: what goes to the run directory, to the master and to InfluxDB.

    ``late`` is 0 for the first close of (second, key) and n > 0 for the n-th delta of samples
    that arrived after it closed (requests longer than the grace period); the loader merges them.
    """

    second: int
    request_type: str
    name: str
    phase: str
    count: int
    failures: int
    deadline_misses: int
    deadline_misses_failed: int
    sum_us: int
    sum_us_failed: int
    hist_ok: HdrHistogram | None
    hist_err: HdrHistogram | None
    errors: dict[str, int] = field(default_factory=dict)
    faults: list[str] = field(default_factory=list)
    late: int = 0

    @property
    def key(self) -> WindowKey:
        return WindowKey(self.request_type, self.name, self.phase)

    def histogram(self) -> HdrHistogram:
        """All samples (successes and failures)."""
        h = new_histogram()
        if self.hist_ok is not None:
            h.add(self.hist_ok)
        if self.hist_err is not None:
            h.add(self.hist_err)
        return h

    def release(self) -> None:
        """Free the histograms now: an ``HdrHistogram`` and its encoder reference each other, so
        without this their 188 KB of counters wait for the cyclic garbage collector."""
        for h in (self.hist_ok, self.hist_err):
            if h is not None:
                h.encoder.histogram = None
        self.hist_ok = self.hist_err = None

    def to_window(self) -> Window:
        return Window(
            second=self.second,
            key=self.key,
            count=self.count,
            failures=self.failures,
            deadline_misses=self.deadline_misses,
            histogram=self.histogram(),
            errors=dict(self.errors),
        )

    def to_json(self) -> dict[str, Any]:
        d: dict[str, Any] = {
            "second": self.second,
            "request_type": self.request_type,
            "name": self.name,
            "phase": self.phase,
            "count": self.count,
            "failures": self.failures,
            "deadline_misses": self.deadline_misses,
            "deadline_misses_failed": self.deadline_misses_failed,
            "sum_us": self.sum_us,
            "sum_us_failed": self.sum_us_failed,
            "errors": self.errors,
            "faults": self.faults,
            "late": self.late,
            "hdr_ok": _encode(self.hist_ok),
            "hdr_err": _encode(self.hist_err),
        }
        return d

    @classmethod
    def from_json(cls, d: Any) -> ClosedWindow:
        """Parse a window; ``ValueError`` names the offending field."""
        if not isinstance(d, dict):
            raise ValueError("a window must be a JSON object")

        def need(name: str, typ: type | tuple[type, ...]) -> Any:
            if name not in d:
                raise ValueError(f"missing field {name!r}")
            v = d[name]
            if not isinstance(v, typ) or isinstance(v, bool):
                raise ValueError(f"field {name!r} has the wrong type")
            return v

        errors = d.get("errors", {})
        if not isinstance(errors, dict) or not all(isinstance(v, int) for v in errors.values()):
            raise ValueError("field 'errors' must map error classes to counts")
        faults = d.get("faults", [])
        if not isinstance(faults, list):
            raise ValueError("field 'faults' must be a list")
        cw = cls(
            second=need("second", int),
            request_type=need("request_type", str),
            name=need("name", str),
            phase=need("phase", str),
            count=need("count", int),
            failures=need("failures", int),
            deadline_misses=need("deadline_misses", int),
            deadline_misses_failed=int(d.get("deadline_misses_failed", 0)),
            sum_us=need("sum_us", int),
            sum_us_failed=int(d.get("sum_us_failed", 0)),
            hist_ok=_decode(d.get("hdr_ok"), "field 'hdr_ok'"),
            hist_err=_decode(d.get("hdr_err"), "field 'hdr_err'"),
            errors={str(k): int(v) for k, v in errors.items()},
            faults=[str(f) for f in faults],
            late=int(d.get("late", 0)),
        )
        hist_count = sum(h.get_total_count() for h in (cw.hist_ok, cw.hist_err) if h is not None)
        if hist_count != cw.count:
            raise ValueError(f"histograms hold {hist_count} samples but count is {cw.count}")
        return cw


class WindowAccumulator:
    """An open window: samples that started in ``second`` under one key."""

    __slots__ = (
        "count",
        "deadline_misses",
        "deadline_misses_failed",
        "err_values",
        "errors",
        "failures",
        "faults",
        "hist_err",
        "hist_ok",
        "late",
        "name",
        "ok_values",
        "phase",
        "request_type",
        "second",
        "sum_us",
        "sum_us_failed",
    )

    def __init__(self, second: int, request_type: str, name: str, phase: str, late: bool) -> None:
        self.second = second
        self.request_type = request_type
        self.name = name
        self.phase = phase
        self.late = late
        self.count = 0
        self.failures = 0
        self.deadline_misses = 0
        self.deadline_misses_failed = 0
        self.sum_us = 0
        self.sum_us_failed = 0
        self.ok_values: list[int] = []
        self.err_values: list[int] = []
        self.hist_ok: HdrHistogram | None = None
        self.hist_err: HdrHistogram | None = None
        self.errors: dict[str, int] = {}
        self.faults: set[str] = set()

    def merge(self, cw: ClosedWindow) -> None:
        """Add a closed window (from a worker) into this one."""
        self.count += cw.count
        self.failures += cw.failures
        self.deadline_misses += cw.deadline_misses
        self.deadline_misses_failed += cw.deadline_misses_failed
        self.sum_us += cw.sum_us
        self.sum_us_failed += cw.sum_us_failed
        for k, v in cw.errors.items():
            self.errors[k] = self.errors.get(k, 0) + v
        self.faults.update(cw.faults)
        if cw.hist_ok is not None:
            if self.hist_ok is None:
                self.hist_ok = new_histogram()
            self.hist_ok.add(cw.hist_ok)
        if cw.hist_err is not None:
            if self.hist_err is None:
                self.hist_err = new_histogram()
            self.hist_err.add(cw.hist_err)

    def close(self, late_seq: int) -> ClosedWindow:
        hist_ok = self.hist_ok
        if self.ok_values:
            hist_ok = hist_ok or new_histogram()
            _record_all(hist_ok, self.ok_values)
        hist_err = self.hist_err
        if self.err_values:
            hist_err = hist_err or new_histogram()
            _record_all(hist_err, self.err_values)
        return ClosedWindow(
            second=self.second,
            request_type=self.request_type,
            name=self.name,
            phase=self.phase,
            count=self.count,
            failures=self.failures,
            deadline_misses=self.deadline_misses,
            deadline_misses_failed=self.deadline_misses_failed,
            sum_us=self.sum_us,
            sum_us_failed=self.sum_us_failed,
            hist_ok=hist_ok,
            hist_err=hist_err,
            errors=self.errors,
            faults=sorted(self.faults),
            late=late_seq,
        )
