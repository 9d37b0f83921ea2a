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
    counts = np.frombuffer(h.counts, dtype=np.uint64, count=h.counts_len)
    cum = np.cumsum(counts)
    out: list[int] = []
    for p in ps:
        target = max(int(min(p, 100.0) * total / 100 + 0.5), 1)
        index = int(np.searchsorted(cum, target, side="left"))
        value = h.get_value_from_index(min(index, h.counts_len - 1))
        out.append(int(h.get_highest_equivalent_value(value)))
    return out
