"""Fast percentiles of an HDR histogram.

``hdrh``'s own ``get_value_at_percentile`` walks the 23 552 counters in Python (~10 ms a call);
here one numpy cumulative sum answers every percentile with the same definition.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from hdrh.histogram import HdrHistogram


def percentiles(h: HdrHistogram, ps: Sequence[float]) -> list[int]:
    """Values (µs) at the given percentiles, exactly as ``HdrHistogram.get_value_at_percentile``."""
    total = h.get_total_count()
    if total == 0:
        return [0 for _ in ps]
    top = min(h._counts_index_for(h.max_value) + 1, h.counts_len)  # nothing is counted above
    counts = np.frombuffer(h.counts, dtype=np.int64, count=top)
    cum = np.cumsum(counts)
    targets = np.array([max(int(min(p, 100.0) * total / 100 + 0.5), 1) for p in ps], dtype=np.int64)
    indexes = np.searchsorted(cum, targets, side="left")
    out: list[int] = []
    for index in indexes.tolist():
        value = h.get_value_from_index(min(index, top - 1))
        out.append(int(h.get_highest_equivalent_value(value)))
    return out
