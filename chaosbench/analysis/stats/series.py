"""Per-second time series of one scope across the whole run (charts, recovery)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from chaosbench.analysis.stats.table import Scope, WindowTable


@dataclass(slots=True)
class Series:
    scope: str
    seconds: np.ndarray  # int64 unix seconds with at least one sample
    count: np.ndarray
    failures: np.ndarray
    misses: np.ndarray
    p50_ms: np.ndarray
    p95_ms: np.ndarray
    p99_ms: np.ndarray

    @property
    def error_rate(self) -> np.ndarray:
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(self.count > 0, self.failures / self.count, 0.0)


def series(table: WindowTable, scope: Scope, span: tuple[int, int] | None = None) -> Series:
    block = table.select(scope, span=span)
    h = block.hist
    return Series(
        scope=scope.label,
        seconds=block.seconds,
        count=block.count,
        failures=block.failures,
        misses=block.misses,
        p50_ms=h.row_percentiles(50) / 1000,
        p95_ms=h.row_percentiles(95) / 1000,
        p99_ms=h.row_percentiles(99) / 1000,
    )
