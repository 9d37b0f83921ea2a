"""HDR histograms that keep only their encoding until used.

A decoded ``HdrHistogram`` (1 µs .. 1 h, 3 digits) holds 23 552 eight-byte counters: 189 KB,
whatever it counts. A 10-minute run with 10 keys has 6 000 windows: 1.1 GB if every window's
histogram is decoded at once. ``LazyHistogram`` is an ``HdrHistogram`` (``isinstance`` holds,
every method works) that stores its non-zero bins (``chaosbench.analysis.hdr.Sparse``: what the
statistics read, without decoding anything) and builds the full histogram on use into a
bounded cache of the most recently used histograms, so memory stays bounded however many
windows a run has. A histogram that is modified (``add``, ``record_value``, ...) is decoded for
good and behaves as a plain ``HdrHistogram`` from then on.
"""

from __future__ import annotations

import weakref
from collections import OrderedDict
from typing import Any

from hdrh.histogram import HdrHistogram

from chaosbench.analysis.hdr import Sparse, to_histogram, to_sparse

CACHE_SIZE = 64

_MUTATORS = frozenset(
    {
        "add",
        "decode_and_add",
        "record_value",
        "record_corrected_value",
        "reset",
        "set_start_time_stamp",
        "set_end_time_stamp",
        "set_tag",
        "set_internal_tacking_values",
    }
)
_cache: OrderedDict[int, tuple[weakref.ref[Any], HdrHistogram]] = OrderedDict()


def _decode(sparse: Sparse) -> HdrHistogram:
    h = to_histogram(sparse)
    # the encoder refers back to its histogram: make it weak, so that a histogram leaving the
    # cache is freed at once instead of waiting for the cyclic garbage collector
    h.encoder.histogram = weakref.proxy(h)
    return h


def _materialize(lazy: LazyHistogram, pin: bool) -> HdrHistogram:
    pinned: HdrHistogram | None = object.__getattribute__(lazy, "_lz_pinned")
    if pinned is not None:
        return pinned
    key = id(lazy)
    hit = _cache.get(key)
    if hit is not None and hit[0]() is lazy:
        _cache.move_to_end(key)
        h = hit[1]
    else:
        h = _decode(object.__getattribute__(lazy, "_lz_sparse"))
        _cache[key] = (weakref.ref(lazy), h)
        while len(_cache) > CACHE_SIZE:
            _cache.popitem(last=False)
    if pin:
        object.__setattr__(lazy, "_lz_pinned", h)
        object.__setattr__(lazy, "_lz_sparse", None)  # modified from now on: not what it held
        _cache.pop(key, None)
    return h


class LazyHistogram(HdrHistogram):
    def __init__(self, sparse: Sparse) -> None:  # no HdrHistogram.__init__: nothing allocated
        object.__setattr__(self, "_lz_sparse", sparse)
        object.__setattr__(self, "_lz_pinned", None)

    def __getattribute__(self, name: str) -> Any:
        if name.startswith("_lz_") or name in ("__class__", "__dict__", "__weakref__"):
            return object.__getattribute__(self, name)
        return getattr(_materialize(self, name in _MUTATORS), name)

    def __setattr__(self, name: str, value: Any) -> None:
        setattr(_materialize(self, True), name, value)

    def __repr__(self) -> str:
        return f"<LazyHistogram of {object.__getattribute__(self, '_lz_sparse').index.size} bins>"


def compact(h: HdrHistogram) -> LazyHistogram:
    """A lazy copy of ``h`` (which may then be dropped)."""
    return LazyHistogram(to_sparse(h))
