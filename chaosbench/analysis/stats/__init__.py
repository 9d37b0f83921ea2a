"""Statistics on HDR histograms: per-phase summaries, per-second series, bootstrap intervals."""

from chaosbench.analysis.stats.bootstrap import (
    Interval,
    percentile,
    percentile_ratio,
    rate,
    rng_for,
)
from chaosbench.analysis.stats.series import Series, series
from chaosbench.analysis.stats.summary import PhaseStats, phase_order, summarize
from chaosbench.analysis.stats.table import (
    OVERALL,
    Cohort,
    Names,
    Scope,
    SecondBlock,
    WindowTable,
)

__all__ = [
    "OVERALL",
    "Cohort",
    "Interval",
    "Names",
    "PhaseStats",
    "Scope",
    "SecondBlock",
    "Series",
    "WindowTable",
    "percentile",
    "percentile_ratio",
    "phase_order",
    "rate",
    "rng_for",
    "series",
    "summarize",
]
