"""The criteria's config models: each criterion's limit and settings, as the gate's YAML has
them (``criteria: {p95_regression: {limit: 0.2}}``), and the gate-wide bootstrap settings.

Below the criteria and the gate: the analysis (recovery bands) reads them too. A criterion's
model is registered with its function in ``chaosbench.analysis.criteria``; the gate's model is
built from that registry (``chaosbench.analysis.gate``).
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

ScopeName = Literal["overall", "kind", "name"]
PhaseKind = Literal["baseline", "burst", "recovery", "cooldown"]


#: Bounds of the gate's counts (a bigger value is a typo, e.g. ``min_samples: 1e30``).
MAX_SAMPLES = 10_000_000
MAX_HOLD_S = 3600


class Strict(BaseModel):
    # inf and nan are refused wherever the gate wants a number
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class Criterion(Strict):
    enabled: bool = True
    required: bool = False  # "not applicable" (e.g. no orders at all) counts as cannot measure
    limit: float


class LatencyRegression(Criterion):
    """p95 of the burst phases over the run's own baseline phase (drift-controlled): fails only
    when the increase is over ``limit`` (relative) and over ``min_effect_ms`` (absolute)."""

    limit: float = Field(default=0.15, ge=0)  # allowed relative increase (0.15 = +15 %)
    min_effect_ms: float = Field(default=5.0, ge=0)  # allowed absolute increase (ms)
    percentile: float = Field(default=95.0, gt=0, le=100)
    scope: ScopeName = "kind"
    phases: list[PhaseKind] = Field(default=["burst"], min_length=1)


class LatencyCeiling(Criterion):
    """A percentile ceiling in milliseconds during the given phases."""

    limit: float = Field(default=250.0, gt=0)  # ms
    percentile: float = Field(default=99.0, gt=0, le=100)
    scope: ScopeName = "kind"
    phases: list[PhaseKind] = Field(default=["burst"], min_length=1)


class RateCeiling(Criterion):
    """A ratio (deadline misses or failures per request) ceiling during the given phases."""

    limit: float = Field(default=0.02, ge=0, le=1)
    phases: list[PhaseKind] = Field(default=["burst"], min_length=1)


class ErrorRate(RateCeiling):
    limit: float = Field(default=0.20, ge=0, le=1)


class BaselineErrorRate(RateCeiling):
    limit: float = Field(default=0.05, ge=0, le=1)
    phases: list[PhaseKind] = Field(default=["baseline"], min_length=1)


class RecoveryTime(Criterion):
    """Seconds from a burst's end until the kinds it affected are back in the baseline's band."""

    limit: float = Field(default=30.0, gt=0)  # s
    hold_s: int = Field(default=5, ge=1, le=MAX_HOLD_S)  # how long they must stay in band
    hold_misses: int = Field(default=1, ge=0)  # out-of-band seconds the hold tolerates
    band_quantile: float = Field(default=0.95, gt=0, le=1)  # of the baseline's per-second p95s
    p95_tolerance: float = Field(default=0.25, ge=0)  # band: that quantile x (1 + this) ...
    p95_margin_ms: float = Field(default=1.0, ge=0)  # ... + this (ms)
    error_tolerance: float = Field(default=0.05, ge=0)  # band: baseline error rate + this
    min_second_samples: int = Field(default=5, ge=1, le=MAX_SAMPLES)  # fewer: unknown


class Rto(Criterion):
    """Restart time of kill-and-restart faults (the journal records' ``rto_s``)."""

    limit: float = Field(default=30.0, gt=0)  # s


class Count(Criterion):
    limit: float = Field(default=0, ge=0)


class Ratio(Criterion):
    limit: float = Field(default=0.05, ge=0, le=1)


class BaselineRun(Criterion):
    """Each phase's p95 against the same phase of a stored baseline run (``--baseline``)."""

    limit: float = Field(default=0.15, ge=0)
    min_effect_ms: float = Field(default=5.0, ge=0)
    percentile: float = Field(default=95.0, gt=0, le=100)
    scope: ScopeName = "kind"
    phases: list[PhaseKind] = Field(default=["baseline", "burst"], min_length=1)


class DriftControl(Strict):
    """Drift control: judge a burst against traffic that ran at the same time (a control cohort
    of kinds its faults do not touch), else against a reference that brackets it in time."""

    enabled: bool = True
    control: list[str] = []  # kinds no fault touches (e.g. [HTTP]: a plain nginx beside them)


class Bootstrap(Strict):
    resamples: int = Field(default=2000, ge=100, le=100_000)
    seed: int = 0
