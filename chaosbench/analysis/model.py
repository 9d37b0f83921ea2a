"""What the analysis reads: a run, loaded from its run directory.

This is the contract between the recorder/run directory (which writes and loads it) and the
statistics, gate and reports (which read it). The analysis reads nothing but this.

Latency histograms are HDR histograms of **microseconds** (1 µs .. 1 h, 3 significant digits),
one per second and per key (request_type, name, phase label).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from hdrh.histogram import HdrHistogram

from chaosbench.ground.journal import JournalRecord

if TYPE_CHECKING:  # not at run time: the run directory package imports this module
    from chaosbench.analysis.rundir.record import RunRecord

#: HDR histogram range and precision used everywhere (recorder, loader, analysis, merging).
HDR_LOWEST_US = 1
HDR_HIGHEST_US = 3_600_000_000
HDR_SIGNIFICANT_DIGITS = 3


def new_histogram() -> HdrHistogram:
    return HdrHistogram(HDR_LOWEST_US, HDR_HIGHEST_US, HDR_SIGNIFICANT_DIGITS)


@dataclass(frozen=True, slots=True)
class WindowKey:
    request_type: str  # HTTP, WS, PG, REDIS
    name: str
    phase: str  # phase label: warmup, baseline, burst1, recovery1, ..., cooldown, idle


@dataclass(slots=True)
class Window:
    """One second of one key: the samples that *started* in that second."""

    second: int  # unix time, whole seconds
    key: WindowKey
    count: int
    failures: int
    deadline_misses: int
    histogram: HdrHistogram  # response times of all samples (success and failure), µs
    errors: dict[str, int] = field(default_factory=dict)  # error class -> count


@dataclass(slots=True)
class PhaseSpan:
    """A phase as it actually ran (from the journal), wall-clock seconds."""

    label: str  # baseline, burst1, recovery1, ...
    phase: str  # baseline, burst, recovery, ...
    burst: int | None
    start: float
    end: float
    planned_start: float | None = None


@dataclass(slots=True)
class Integrity:
    """Integrity counters gathered during and at the end of the run."""

    orders_acknowledged: int = 0
    orders_stored: int = 0  # acknowledged orders found in PostgreSQL at the end
    orders_lost: int = 0  # acknowledged but not stored
    orders_duplicated: int = 0  # stored more than once for one client order id
    ws_messages: int = 0
    ws_gaps: int = 0  # messages missing (sum of gap sizes)
    ws_duplicates: int = 0
    ws_reorders: int = 0
    ws_resumes: int = 0
    canary_injected: int = 0
    canary_found: int = 0
    checked: bool = False  # the end-of-run check against PostgreSQL ran
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(slots=True)
class RunData:
    run_id: str
    meta: RunRecord  # meta.json: profile, seed, gate, options, versions, totals, ...
    windows: list[Window]
    phases: list[PhaseSpan]
    journal: list[JournalRecord]
    integrity: Integrity
    injections: dict[str, int] = field(default_factory=dict)  # fault name -> injections
    started: float = 0.0
    ended: float | None = None  # None when the run did not finish (crash): analysis says so
